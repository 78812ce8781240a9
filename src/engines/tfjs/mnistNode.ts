import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  datasetFromIdx,
  explicitSplit,
  type Dataset,
  type DatasetSplit,
} from '../../core/io/dataset';
import { identifyDataset, type DataIdentity } from '../../core/io/dataIdentity';
import { MAX_IDX_BYTES, idxOutputLimit, isGzip } from '../../core/io/idx';
import { readBoundedFile } from '../node/boundedFile';
import { gunzipBounded } from '../node/gunzipBounded';
import {
  MNIST_ASSET,
  mnistFromIdx,
  mnistSplit as splitMnist,
  DEFAULT_SPLIT_SEED,
  DEFAULT_TEST_FRACTION,
} from '../../core/io/mnist';
import { HepexError } from '../../core/model/errors';

/**
 * Node-only data loading: the built-in MNIST asset from public/data/ and user IDX files (gzipped
 * or not). The browser twin is mnistBrowser.ts.
 */
const publicDir = new URL('../../../public/', import.meta.url);

/**
 * Decompresses when the bytes are gzip, else returns them as they are. The output stops at the
 * length the IDX header inside declares (at most MAX_IDX_BYTES): a gzip bomb fails fast.
 */
export async function maybeGunzip(bytes: Uint8Array, what: string): Promise<Uint8Array> {
  if (!isGzip(bytes)) return bytes;
  return gunzipBounded(bytes, what, idxOutputLimit);
}

/**
 * A data file from disk: a regular file only (never /dev/zero, a FIFO or a directory, which
 * would hang or fail obscurely), at most MAX_IDX_BYTES read (no IDX file is larger, and gzip
 * only shrinks it), then bounded decompression.
 */
async function readDataFile(path: string, what: string): Promise<Uint8Array> {
  const bytes = await readBoundedFile(path, {
    limit: MAX_IDX_BYTES,
    what,
    code: 'invalid-data-file',
    noun: 'data files',
  });
  return maybeGunzip(bytes, `${what} ${JSON.stringify(path)}`);
}

let mnistPromise: Promise<Dataset> | undefined;

/**
 * The 10,000 built-in MNIST digits (memoised). Needs the asset `npm ci` builds; if it is
 * missing, say how to make it rather than fall back to the 21 MB JSON silently.
 */
export function loadMnist(): Promise<Dataset> {
  mnistPromise ??= (async () => {
    const images = fileURLToPath(new URL(MNIST_ASSET.images, publicDir));
    const labels = fileURLToPath(new URL(MNIST_ASSET.labels, publicDir));
    if (!existsSync(images) || !existsSync(labels)) {
      throw new HepexError(
        'invalid-data-file',
        'The MNIST asset public/data/mnist-*-ubyte.gz is missing; run `npm ci` (or `scripts/node node_modules/tsx/dist/cli.mjs scripts/build-mnist-asset.ts`) to build it.',
      );
    }
    return mnistFromIdx(
      await readDataFile(images, 'MNIST images asset'),
      await readDataFile(labels, 'MNIST labels asset'),
    );
  })();
  mnistPromise.catch(() => (mnistPromise = undefined));
  return mnistPromise;
}

/** The standard seeded MNIST split (see core/data/mnist.ts): default seed 1, 8000 / 2000. */
export async function loadMnistSplit(
  seed = DEFAULT_SPLIT_SEED,
  testFraction = DEFAULT_TEST_FRACTION,
): Promise<DatasetSplit> {
  const mnist = await loadMnist();
  return { ...splitMnist(mnist, seed, testFraction), sources: { data: identifyDataset(mnist) } };
}

/** The built-in MNIST's identity (name, count, content hash: dataIdentity.ts). */
export async function mnistIdentity(): Promise<DataIdentity> {
  return identifyDataset(await loadMnist());
}

/** Alias kept for the pruning engine: the seeded MNIST split, loaded. */
export const mnistSplit = loadMnistSplit;

/** An IDX images + labels pair from disk, each gzipped or not. */
export async function loadIdxPair(
  imagesPath: string,
  labelsPath: string,
  name?: string,
): Promise<Dataset> {
  const images = await readDataFile(imagesPath, 'images file');
  const labels = await readDataFile(labelsPath, 'labels file');
  return datasetFromIdx(images, labels, name ?? imagesPath.replace(/^.*[\\/]/, ''));
}

/** Parses "IMAGES,LABELS" as given to --data / --test-data. */
export function parseIdxPairArg(text: string, option: string): [string, string] {
  const parts = text.split(',');
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new HepexError(
      'invalid-argument',
      `--${option} takes two IDX files separated by a comma: IMAGES,LABELS; got "${text}".`,
    );
  }
  return [parts[0], parts[1]];
}

/**
 * The data a CLI command trains or evaluates on: the built-in MNIST split (default), one IDX
 * pair split by the seed, or two pairs used as train and test.
 */
export async function loadDataSplit(options: {
  data?: string;
  testData?: string;
  seed?: number;
}): Promise<DatasetSplit> {
  const seed = options.seed ?? DEFAULT_SPLIT_SEED;
  if (!options.data) {
    if (options.testData) throw new HepexError('invalid-argument', '--test-data needs --data too.');
    return loadMnistSplit(seed);
  }
  const [images, labels] = parseIdxPairArg(options.data, 'data');
  const data = await loadIdxPair(images, labels);
  if (!options.testData)
    return { ...splitMnistLike(data, seed), sources: { data: identifyDataset(data) } };
  const [testImages, testLabels] = parseIdxPairArg(options.testData, 'test-data');
  const test = await loadIdxPair(testImages, testLabels);
  return {
    ...explicitSplit(data, test),
    sources: { data: identifyDataset(data), testData: identifyDataset(test) },
  };
}

function splitMnistLike(data: Dataset, seed: number): DatasetSplit {
  return splitMnist(data, seed, DEFAULT_TEST_FRACTION);
}
