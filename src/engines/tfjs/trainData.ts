import { pixelsOf, type Dataset } from '../../core/io/dataset';
import { type Network } from '../../core/model/network';
import { createRng, type Rng } from '../../core/model/random';
import type { Metric } from '../../core/model/trainer';
import { tf } from './backend';
import { type Params, forwardParams } from './trainParams';

/** Batches, noise and evaluation over a data set, for training and its metrics. */

/** Copies samples `order[from..from+n)` into a batch, optionally shifted by up to maxShift px. */
export function fillBatch(
  data: Dataset,
  pixels: Float32Array,
  order: Uint32Array,
  from: number,
  n: number,
  maxShift: number,
  rng: Rng,
  out: Float32Array,
): void {
  const p = pixelsOf(data);
  const { rows, cols } = data;
  for (let k = 0; k < n; k++) {
    const s = order[from + k];
    const dst = k * p;
    if (maxShift <= 0) {
      out.set(pixels.subarray(s * p, (s + 1) * p), dst);
      continue;
    }
    const dx = rng.int(2 * maxShift + 1) - maxShift;
    const dy = rng.int(2 * maxShift + 1) - maxShift;
    for (let r = 0; r < rows; r++) {
      const sr = r - dy;
      for (let c = 0; c < cols; c++) {
        const sc = c - dx;
        out[dst + r * cols + c] =
          sr >= 0 && sr < rows && sc >= 0 && sc < cols ? pixels[s * p + sr * cols + sc] : 0;
      }
    }
  }
}

export function addNoise(x: Float32Array, length: number, std: number, rng: Rng): void {
  for (let i = 0; i < length; i++) {
    const v = x[i] + std * rng.normal();
    x[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
}

/** Noisy copies of test images (fixed seed), so every evaluation of a denoiser sees the same noise. */
export function noisyImages(clean: Float32Array, std: number, seed: number): Float32Array {
  const out = clean.slice();
  addNoise(out, out.length, std, createRng(seed ^ 0x9015e));
  return out;
}

export const EVAL_BATCH = 500;

/** Forward pass of `params` over count x p inputs, reduced to a metric by `reduce` per batch. */
export function evaluateParams(
  params: Params,
  task: Network['task'],
  test: Dataset,
  inputs: Float32Array,
  targets: Float32Array,
): Metric {
  const p = pixelsOf(test);
  let acc = 0;
  for (let s = 0; s < test.count; s += EVAL_BATCH) {
    const n = Math.min(EVAL_BATCH, test.count - s);
    acc += tf.tidy(() => {
      const x = tf.tensor2d(inputs.subarray(s * p, (s + n) * p), [n, p]);
      const y = forwardParams(params, x);
      if (task === 'classification') {
        const labels = tf.tensor1d(test.labels.subarray(s, s + n), 'int32');
        return y.argMax(1).equal(labels).sum().dataSync()[0];
      }
      const t = tf.tensor2d(targets.subarray(s * p, (s + n) * p), [n, p]);
      return y.sub(t).square().sum().dataSync()[0];
    });
  }
  return task === 'classification'
    ? { name: 'accuracy', value: acc / test.count }
    : { name: 'mse', value: acc / (test.count * p) };
}
