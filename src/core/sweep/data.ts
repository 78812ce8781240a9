import { pixelsOf, type Dataset, type DatasetSplit } from '../io/dataset';
import type { SweepData } from './spec';

/** The first `limit` images of a set (its order is already the split's seeded shuffle). */
function firstImages(data: Dataset, limit: number | undefined): Dataset {
  if (limit === undefined || limit >= data.count) return data;
  const pixels = pixelsOf(data);
  return {
    ...data,
    name: `${data.name} (first ${limit})`,
    count: limit,
    // Views, not copies: the split's arrays are never modified.
    images: data.images.subarray(0, limit * pixels),
    labels: data.labels.subarray(0, limit),
  };
}

/** A split cut to a sweep's trainLimit / testLimit (quick sweeps); unchanged when none is set. */
export function limitSplit(split: DatasetSplit, data: SweepData): DatasetSplit {
  if (data.trainLimit === undefined && data.testLimit === undefined) return split;
  const train = firstImages(split.train, data.trainLimit);
  const test = firstImages(split.test, data.testLimit);
  return {
    ...split,
    train,
    test,
    label: `${split.label}, first ${train.count} train / ${test.count} test`,
  };
}
