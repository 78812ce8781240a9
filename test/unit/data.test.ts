import { describe, expect, it } from 'vitest';
import {
  imagesToFloat,
  meanImage,
  meanImageMse,
  splitDataset,
  checkDatasetFits,
  type Dataset,
} from '../../src/core/io/dataset';
import { MNIST_COUNT, mnistSplit } from '../../src/core/io/mnist';
import { HepexError } from '../../src/core/model/errors';
import { loadMnist } from '../../src/engines/tfjs/mnistNode';

function toy(count: number): Dataset {
  return {
    name: 'toy',
    count,
    rows: 2,
    cols: 2,
    images: Uint8Array.from({ length: count * 4 }, (_, i) => i % 256),
    labels: Uint8Array.from({ length: count }, (_, i) => i % 10),
  };
}

describe('MNIST asset', () => {
  it('holds the 10,000 real digits, 28 x 28, about 1000 per class', async () => {
    const data = await loadMnist();
    expect(data.count).toBe(MNIST_COUNT);
    expect([data.rows, data.cols]).toEqual([28, 28]);
    const perClass = new Array(10).fill(0);
    for (const l of data.labels) perClass[l]++;
    expect(perClass).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    // Real digits: dark borders, some bright ink; the first pixel row of every image is background.
    let ink = 0;
    for (let i = 0; i < data.images.length; i++) ink += data.images[i] > 128 ? 1 : 0;
    expect(ink / data.images.length).toBeGreaterThan(0.05);
    expect(ink / data.images.length).toBeLessThan(0.3);
  });

  it('splits deterministically by seed, stratified, disjoint', async () => {
    const data = await loadMnist();
    const a = mnistSplit(data, 1);
    const b = mnistSplit(data, 1);
    const c = mnistSplit(data, 2);
    expect(a.train.count).toBe(8000);
    expect(a.test.count).toBe(2000);
    expect(a.label).toBe('MNIST 10k, seed 1: 8000 train / 2000 test');
    expect(Buffer.from(a.test.images).equals(Buffer.from(b.test.images))).toBe(true);
    expect(Buffer.from(a.test.images).equals(Buffer.from(c.test.images))).toBe(false);
    const testPerClass = new Array(10).fill(0);
    for (const l of a.test.labels) testPerClass[l]++;
    expect(testPerClass[1]).toBe(Math.round(1127 * 0.2));
    // Not sorted by class.
    expect(new Set(a.test.labels.subarray(0, 50)).size).toBeGreaterThan(5);
  });
});

describe('dataset helpers', () => {
  it('keeps every sample exactly once across train and test', () => {
    const data = toy(50);
    const { train, test } = splitDataset(data, { seed: 3, testFraction: 0.3 });
    expect(train.count + test.count).toBe(50);
    const seen = new Set<number>();
    for (const part of [train, test])
      for (let s = 0; s < part.count; s++) seen.add(part.images[s * 4] + 256 * part.labels[s]);
    expect(seen.size).toBe(50);
  });

  it('scales pixels to [0, 1] and computes the mean-image baseline', () => {
    const data: Dataset = {
      name: 't',
      count: 2,
      rows: 1,
      cols: 2,
      images: Uint8Array.from([0, 255, 255, 255]),
      labels: Uint8Array.from([0, 1]),
    };
    expect(Array.from(imagesToFloat(data))).toEqual([0, 1, 1, 1]);
    const mean = meanImage(data);
    expect(Array.from(mean)).toEqual([0.5, 1]);
    expect(meanImageMse(data, mean)).toBeCloseTo(0.125, 10);
  });

  it('rejects images the model cannot take and bad split fractions', () => {
    expect(() => checkDatasetFits(toy(3), 784)).toThrow(HepexError);
    expect(() => checkDatasetFits(toy(3), 784)).toThrow(
      /2 x 2 = 4-pixel images but the model takes 784/,
    );
    expect(() => splitDataset(toy(10), { seed: 1, testFraction: 1 })).toThrow(/between 0 and 1/);
  });
});
