import { HepexError } from '../model/errors';
import { createRng, shuffleInPlace } from '../model/random';
import type { DataSources } from './dataIdentity';
import { parseIdx } from './idx';

/**
 * A labelled image set: `count` images of rows x cols unsigned bytes (0 = black, 255 = white),
 * stored flat: image s is images[s * rows * cols .. (s + 1) * rows * cols), row-major.
 * labels[s] is its digit 0..9. Flat typed arrays transfer between threads for free.
 */
export interface Dataset {
  readonly name: string;
  readonly count: number;
  readonly rows: number;
  readonly cols: number;
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
}

/** A seeded train/test split, labelled so the UI and CLI can say which split a figure is on. */
export interface DatasetSplit {
  readonly train: Dataset;
  readonly test: Dataset;
  /** e.g. "MNIST 10k, seed 1: 8000 train / 2000 test". */
  readonly label: string;
  readonly seed: number;
  /** The files (or built-in set) it came from, when the loader knows them (dataIdentity.ts). */
  readonly sources?: DataSources;
}

export const NUM_CLASSES = 10;

export const pixelsOf = (data: Pick<Dataset, 'rows' | 'cols'>): number => data.rows * data.cols;

/** Checks a dataset's arrays agree with its sizes and labels are 0..9. */
export function checkDataset(data: Dataset): Dataset {
  const fail = (message: string): never => {
    throw new HepexError('invalid-data-file', `${data.name}: ${message}`);
  };
  if (!Number.isInteger(data.count) || data.count < 1) fail('it holds no images.');
  if (
    !Number.isInteger(data.rows) ||
    !Number.isInteger(data.cols) ||
    data.rows < 1 ||
    data.cols < 1
  ) {
    fail(`images of ${data.rows} x ${data.cols} pixels are not valid.`);
  }
  if (data.images.length !== data.count * data.rows * data.cols) {
    fail(
      `${data.count} images of ${data.rows} x ${data.cols} need ${data.count * data.rows * data.cols} bytes, got ${data.images.length}.`,
    );
  }
  if (data.labels.length !== data.count)
    fail(`${data.count} images but ${data.labels.length} labels.`);
  for (let s = 0; s < data.count; s++) {
    if (data.labels[s] >= NUM_CLASSES)
      fail(`label ${s} is ${data.labels[s]}; labels must be digits 0 to 9.`);
  }
  return data;
}

/**
 * A dataset from an IDX images file (n x rows x cols) and an IDX labels file (n), both already
 * decompressed. Throws `invalid-data-file` naming the problem: magic number, truncation,
 * mismatched counts, labels out of range.
 */
export function datasetFromIdx(
  imageBytes: Uint8Array,
  labelBytes: Uint8Array,
  name = 'IDX data',
): Dataset {
  const images = parseIdx(imageBytes, `${name} images`);
  const labels = parseIdx(labelBytes, `${name} labels`);
  if (images.dims.length !== 3) {
    throw new HepexError(
      'invalid-data-file',
      `${name} images: expected 3 dimensions (count x rows x cols), got ${images.dims.length} (${images.dims.join(' x ')}). Are the images and labels files swapped?`,
    );
  }
  if (labels.dims.length !== 1) {
    throw new HepexError(
      'invalid-data-file',
      `${name} labels: expected 1 dimension (count), got ${labels.dims.length} (${labels.dims.join(' x ')}). Are the images and labels files swapped?`,
    );
  }
  const [count, rows, cols] = images.dims;
  if (labels.dims[0] !== count) {
    throw new HepexError(
      'invalid-data-file',
      `${name}: ${count} images but ${labels.dims[0]} labels; the counts must match.`,
    );
  }
  // Copies, so the caller's (possibly large, possibly shared) buffers are not retained.
  return checkDataset({
    name,
    count,
    rows,
    cols,
    images: images.data.slice(),
    labels: labels.data.slice(),
  });
}

/** Throws `invalid-data-file` when the images cannot feed a model with `inputs` inputs. */
export function checkDatasetFits(data: Dataset, inputs: number): void {
  if (pixelsOf(data) !== inputs) {
    throw new HepexError(
      'invalid-data-file',
      `${data.name} has ${data.rows} x ${data.cols} = ${pixelsOf(data)}-pixel images but the model takes ${inputs} inputs.`,
    );
  }
}

/** The samples at `indices`, in that order. */
export function subsetDataset(
  data: Dataset,
  indices: ArrayLike<number>,
  name = data.name,
): Dataset {
  const p = pixelsOf(data);
  const images = new Uint8Array(indices.length * p);
  const labels = new Uint8Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const s = indices[k];
    images.set(data.images.subarray(s * p, (s + 1) * p), k * p);
    labels[k] = data.labels[s];
  }
  return { name, count: indices.length, rows: data.rows, cols: data.cols, images, labels };
}

/** The first `n` samples (all when n >= count): small sets for quick tests and previews. */
export function takeSamples(data: Dataset, n: number): Dataset {
  const k = Math.max(1, Math.min(data.count, Math.floor(n)));
  return subsetDataset(
    data,
    Uint32Array.from({ length: k }, (_, i) => i),
  );
}

export interface SplitOptions {
  readonly seed: number;
  /** Fraction of each class held out for testing; default 0.2. */
  readonly testFraction?: number;
}

/**
 * Seeded, stratified split: each class's samples are shuffled with createRng(seed) and the first
 * round(testFraction * n_class) go to test, so both sides keep the class balance. The train and
 * test orders are then shuffled too (same RNG), so neither is sorted by class. Same seed, same
 * split, on every machine.
 */
export function splitDataset(data: Dataset, options: SplitOptions): DatasetSplit {
  const { seed } = options;
  const testFraction = options.testFraction ?? 0.2;
  if (!(testFraction > 0 && testFraction < 1)) {
    throw new HepexError(
      'invalid-argument',
      `The test fraction must be between 0 and 1 (exclusive), got ${testFraction}.`,
    );
  }
  if (!Number.isInteger(seed))
    throw new HepexError('invalid-argument', `The split seed must be a whole number, got ${seed}.`);
  const rng = createRng(seed);
  const byClass: number[][] = Array.from({ length: NUM_CLASSES }, () => []);
  for (let s = 0; s < data.count; s++) byClass[data.labels[s]].push(s);
  const train: number[] = [];
  const test: number[] = [];
  for (const members of byClass) {
    shuffleInPlace(members, rng);
    const nTest = Math.round(members.length * testFraction);
    test.push(...members.slice(0, nTest));
    train.push(...members.slice(nTest));
  }
  if (!train.length || !test.length) {
    throw new HepexError(
      'invalid-data-file',
      `${data.name} has too few samples (${data.count}) to split into train and test.`,
    );
  }
  shuffleInPlace(train, rng);
  shuffleInPlace(test, rng);
  return {
    train: subsetDataset(data, train, `${data.name} train`),
    test: subsetDataset(data, test, `${data.name} test`),
    label: `${data.name}, seed ${seed}: ${train.length} train / ${test.length} test`,
    seed,
  };
}

/** A split from two separate datasets (e.g. --data and --test-data), labelled as such. */
export function explicitSplit(train: Dataset, test: Dataset): DatasetSplit {
  if (train.rows !== test.rows || train.cols !== test.cols) {
    throw new HepexError(
      'invalid-data-file',
      `The training images are ${train.rows} x ${train.cols} but the test images are ${test.rows} x ${test.cols}.`,
    );
  }
  return {
    train,
    test,
    label: `${train.name} (${train.count}) / ${test.name} (${test.count})`,
    seed: 0,
  };
}

/** Images as floats in [0, 1], count x pixels row-major (the model's input scaling). */
export function imagesToFloat(data: Dataset): Float32Array {
  const out = new Float32Array(data.images.length);
  for (let i = 0; i < out.length; i++) out[i] = data.images[i] / 255;
  return out;
}

/** The mean image of a dataset in [0, 1], length pixels: the trivial reconstruction baseline. */
export function meanImage(data: Dataset): Float32Array {
  const p = pixelsOf(data);
  const sum = new Float64Array(p);
  for (let s = 0; s < data.count; s++) {
    const o = s * p;
    for (let i = 0; i < p; i++) sum[i] += data.images[o + i];
  }
  return Float32Array.from(sum, (v) => v / (255 * data.count));
}

/**
 * MSE of predicting `mean` (in [0, 1]) for every image of `data`, averaged over all pixels:
 * the scale any autoencoder's reconstruction MSE is judged against.
 */
export function meanImageMse(data: Dataset, mean: Float32Array): number {
  const p = pixelsOf(data);
  let acc = 0;
  for (let s = 0; s < data.count; s++) {
    const o = s * p;
    for (let i = 0; i < p; i++) {
      const d = data.images[o + i] / 255 - mean[i];
      acc += d * d;
    }
  }
  return acc / (data.count * p);
}
