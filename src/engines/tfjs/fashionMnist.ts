import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { explicitSplit, type Dataset, type DatasetSplit } from '../../core/io/dataset';
import { identifyDataset } from '../../core/io/dataIdentity';
import { FASHION_MNIST_NAME, builtinSplit, withFashionName } from './builtinData';
import { DEFAULT_SPLIT_SEED } from '../../core/io/mnist';
import { HepexError } from '../../core/model/errors';
import { loadIdxPair } from './mnistNode';

/**
 * Node-only: where Fashion-MNIST lives on this machine and how to load it. Debian's
 * `dataset-fashion-mnist` installs the four IDX files (gzipped) under
 * /usr/share/datasets/fashion-mnist; HEPEX_FASHION_MNIST_DIR points elsewhere. The benches and
 * the tests use the 10,000 images of its test file split like the built-in MNIST (seed 1,
 * 8000 / 2000: the set the studio ships as its second built-in data set, builtinData.ts), or
 * the full 60,000 / 10,000.
 */
export const FASHION_MNIST_DEFAULT_DIR = '/usr/share/datasets/fashion-mnist';

export interface FashionMnistFiles {
  readonly dir: string;
  readonly trainImages: string;
  readonly trainLabels: string;
  readonly testImages: string;
  readonly testLabels: string;
}

/** The directory looked in: HEPEX_FASHION_MNIST_DIR, else Debian's. */
export function fashionMnistDir(): string {
  return process.env.HEPEX_FASHION_MNIST_DIR || FASHION_MNIST_DEFAULT_DIR;
}

/** The four IDX files of `dir` (gzipped or not), or null when any is missing. */
export function findFashionMnist(dir = fashionMnistDir()): FashionMnistFiles | null {
  const pick = (base: string): string | undefined =>
    [`${base}.gz`, base].map((f) => join(dir, f)).find((p) => existsSync(p));
  const files = {
    trainImages: pick('train-images-idx3-ubyte'),
    trainLabels: pick('train-labels-idx1-ubyte'),
    testImages: pick('t10k-images-idx3-ubyte'),
    testLabels: pick('t10k-labels-idx1-ubyte'),
  };
  const { trainImages, trainLabels, testImages, testLabels } = files;
  if (!trainImages || !trainLabels || !testImages || !testLabels) return null;
  return { dir, trainImages, trainLabels, testImages, testLabels };
}

/** Why Fashion-MNIST cannot be used here, in words (null when it can). */
export function fashionMnistMissing(dir = fashionMnistDir()): string | null {
  return findFashionMnist(dir)
    ? null
    : `Fashion-MNIST is not installed: ${dir} lacks train-/t10k-{images-idx3,labels-idx1}-ubyte(.gz); install the Debian package dataset-fashion-mnist (or set HEPEX_FASHION_MNIST_DIR).`;
}

function requireFiles(dir: string): FashionMnistFiles {
  const files = findFashionMnist(dir);
  if (!files) throw new HepexError('invalid-data-file', fashionMnistMissing(dir)!);
  return files;
}

let tenK: { dir: string; data: Promise<Dataset> } | undefined;

/** The 10,000 images of the test file as "Fashion-MNIST 10k" (memoised per directory). */
export function loadFashionMnist(dir = fashionMnistDir()): Promise<Dataset> {
  if (tenK?.dir !== dir) {
    const files = requireFiles(dir);
    const data = loadIdxPair(files.testImages, files.testLabels).then((d) => withFashionName(d));
    tenK = { dir, data };
    data.catch(() => (tenK = undefined));
  }
  return tenK.data;
}

/** Fashion-MNIST 10k split like the built-in MNIST: seed 1, 8000 train / 2000 test. */
export async function loadFashionMnistSplit(
  seed = DEFAULT_SPLIT_SEED,
  dir = fashionMnistDir(),
): Promise<DatasetSplit> {
  const data = await loadFashionMnist(dir);
  return { ...builtinSplit(data, seed), sources: { data: identifyDataset(data) } };
}

/** The full set: the 60,000 training images to train on, the 10,000 test images to score on. */
export async function loadFashionMnistFull(dir = fashionMnistDir()): Promise<DatasetSplit> {
  const files = requireFiles(dir);
  const train = await loadIdxPair(files.trainImages, files.trainLabels, 'Fashion-MNIST train');
  const test = await loadIdxPair(files.testImages, files.testLabels, 'Fashion-MNIST test');
  return {
    ...explicitSplit(train, test),
    sources: { data: identifyDataset(train), testData: identifyDataset(test) },
  };
}

export { FASHION_MNIST_NAME };
