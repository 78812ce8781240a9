import { HepexError } from '../model/errors';
import type { Dataset } from './dataset';

/**
 * Which data a model learnt from, so a later command does not silently score it on other data
 * (the built-in MNIST, most often). A trained model records it in its provenance:
 *   dataName, dataCount, dataHash              the set given to training (the whole file pair,
 *                                              before the seeded split; or the built-in MNIST)
 *   testDataName, testDataCount, testDataHash  the separate test pair, when there was one
 * The hash is 32-bit FNV-1a (8 hex digits) over the image size (rows, cols as 4-byte
 * little-endian words), the image bytes and the label bytes: the same pixels and labels give
 * the same hash whatever the file is called or whether it was gzipped.
 */
export interface DataIdentity {
  readonly name: string;
  /** Images in the set. */
  readonly count: number;
  readonly hash: string;
}

/** The data a split came from: `data` is split by a seed unless `testData` is given. */
export interface DataSources {
  readonly data: DataIdentity;
  readonly testData?: DataIdentity;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** 32-bit FNV-1a over bytes, continuing from `hash` (chain calls to hash several buffers). */
export function fnv1a32(bytes: Uint8Array, hash = FNV_OFFSET): number {
  let h = hash >>> 0;
  for (let k = 0; k < bytes.length; k++) h = Math.imul(h ^ bytes[k], FNV_PRIME);
  return h >>> 0;
}

/** Hashing the built-in MNIST's 7.8 MB takes ~30 ms: once per dataset object. */
const identities = new WeakMap<Dataset, DataIdentity>();

export function identifyDataset(data: Dataset): DataIdentity {
  let identity = identities.get(data);
  if (!identity) {
    const size = new Uint8Array(new Uint32Array([data.rows, data.cols]).buffer);
    const hash = fnv1a32(data.labels, fnv1a32(data.images, fnv1a32(size)));
    identity = { name: data.name, count: data.count, hash: hash.toString(16).padStart(8, '0') };
    identities.set(data, identity);
  }
  return identity;
}

/** The provenance entries that record `sources` (see above). */
export function dataProvenance(sources: DataSources): Record<string, string | number> {
  const { data, testData } = sources;
  return {
    dataName: data.name,
    dataCount: data.count,
    dataHash: data.hash,
    ...(testData
      ? { testDataName: testData.name, testDataCount: testData.count, testDataHash: testData.hash }
      : {}),
  };
}

type Provenance = Readonly<Record<string, string | number | boolean>> | undefined;

function recorded(provenance: Provenance, prefix: 'data' | 'testData'): DataIdentity | undefined {
  const name = provenance?.[`${prefix}Name`];
  const count = provenance?.[`${prefix}Count`];
  const hash = provenance?.[`${prefix}Hash`];
  if (typeof name !== 'string' || typeof count !== 'number' || typeof hash !== 'string')
    return undefined;
  return { name, count, hash };
}

/** What a model's provenance says it was trained (and tested) on; empty for older models. */
export function trainedDataOf(provenance: Provenance): Partial<DataSources> {
  const data = recorded(provenance, 'data');
  const testData = recorded(provenance, 'testData');
  return { ...(data ? { data } : {}), ...(testData ? { testData } : {}) };
}

const same = (a: DataIdentity, b: DataIdentity): boolean =>
  a.hash === b.hash && a.count === b.count;

const describe = (d: DataIdentity): string => `${d.name} (${d.count} images, hash ${d.hash})`;

/**
 * Checks the data a command is about to use against what the model was trained on. Without
 * --data (`given` false) a model trained on other data stops the command: running it on the
 * built-in MNIST would print figures about the wrong data. With --data naming data the model
 * has not seen (neither its training nor its test set), returns a warning to print; a model
 * that records no data (made before it did, or imported) is never judged.
 */
export function checkTrainedData(
  provenance: Provenance,
  used: DataIdentity,
  given: boolean,
): string | undefined {
  const trained = trainedDataOf(provenance);
  if (!trained.data) return undefined;
  const known = [trained.data, trained.testData].filter((d): d is DataIdentity => d !== undefined);
  if (known.some((d) => same(d, used))) return undefined;
  if (!given) {
    const pair = trained.testData ? ' (and --test-data with its test set)' : '';
    throw new HepexError(
      'invalid-argument',
      `This model was trained on ${trained.data.name} (${trained.data.count} images), not on ${used.name}; pass --data IMAGES,LABELS with that data${pair}.`,
    );
  }
  return `warning: this model was trained on ${describe(trained.data)}${trained.testData ? ` and tested on ${describe(trained.testData)}` : ''}; --data is ${describe(used)}.`;
}
