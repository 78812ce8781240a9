import { activationCoefficients, LINEAR, SQUARE } from '../../src/core/model/activation';
import { HepexError } from '../../src/core/model/errors';
import type { Mask } from '../../src/core/model/matrix';
import { forward, type Network, type Task } from '../../src/core/model/network';
import { createRng, type Rng } from '../../src/core/model/random';
import { randomNetwork as randomActivatedNetwork } from './heNetworks';
import type { FineTuneOptions, Metric, Trainer } from '../../src/core/model/trainer';

/**
 * Small random networks for the pruning tests (seeded, so failures reproduce): square hidden
 * activations, a linear output layer.
 */
export function randomNetwork(
  sizes: readonly number[],
  seed: number,
  task: Task = 'classification',
): Network {
  const activations = sizes.slice(1).map((_, l) => (l < sizes.length - 2 ? SQUARE : LINEAR));
  return randomActivatedNetwork(sizes, activations, seed, task);
}

/** Masks keeping each weight with probability `density`. */
export function randomMasks(sizes: readonly number[], density: number, rng: Rng): Mask[] {
  return sizes.slice(1).map((rows, l) => {
    const cols = sizes[l];
    const data = new Uint8Array(rows * cols);
    for (let k = 0; k < data.length; k++) data[k] = rng.next() < density ? 1 : 0;
    return { rows, cols, data };
  });
}

/** A deep snapshot of a network's arrays, to check a function left its input untouched. */
export function snapshot(network: Network): Float32Array[] {
  return network.layers.flatMap((l) => [
    Float32Array.from(l.weights.data),
    Float32Array.from(l.bias),
  ]);
}

export function sameAsSnapshot(network: Network, snap: readonly Float32Array[]): boolean {
  const now = snapshot(network);
  return (
    now.length === snap.length &&
    now.every((a, i) => a.length === snap[i].length && a.every((v, k) => Object.is(v, snap[i][k])))
  );
}

/**
 * A small but real Trainer for pipeline tests: full-batch gradient descent on the MSE between
 * the network's outputs and a fixed teacher's, on seeded random inputs, with masked weights
 * held at exactly 0 after every step (what the tfjs trainer guarantees). Metric: MSE.
 * It also records the masks it was given, so tests can check what the pipeline passes.
 */
export class GradientTrainer implements Trainer {
  readonly inputs: Float32Array;
  readonly targets: Float32Array;
  readonly calls: {
    masks: readonly Mask[];
    epochs: number;
    groupLasso?: number;
    teacher?: Network;
  }[] = [];
  constructor(
    teacher: Network,
    readonly samples = 64,
    seed = 7,
    readonly learningRate = 0.05,
  ) {
    const rng = createRng(seed);
    const width = teacher.layers[0].weights.cols;
    this.inputs = Float32Array.from({ length: samples * width }, () => rng.normal());
    this.targets = forward(teacher, this.inputs, samples);
  }

  async evaluate(network: Network): Promise<Metric> {
    const out = forward(network, this.inputs, this.samples);
    let sum = 0;
    for (let k = 0; k < out.length; k++) sum += (out[k] - this.targets[k]) ** 2;
    return { name: 'mse', value: sum / out.length };
  }

  async fineTune(
    network: Network,
    masks: readonly Mask[],
    options: FineTuneOptions = {},
  ): Promise<Network> {
    this.calls.push({
      masks,
      epochs: options.epochs ?? 1,
      groupLasso: options.groupLasso,
      teacher: options.distill?.teacher,
    });
    const layers = network.layers.map((l) => ({
      ...l,
      weights: { ...l.weights, data: Float64Array.from(l.weights.data) },
      bias: Float64Array.from(l.bias),
    }));
    const n = this.samples;
    const lr = options.learningRate ?? this.learningRate;
    const epochs = options.epochs ?? 1;
    for (let epoch = 0; epoch < epochs; epoch++) {
      if (options.signal?.aborted) throw new HepexError('cancelled', 'The job was cancelled.');
      // Forward, keeping pre-activations z and activations a per layer (batch-major).
      const acts: Float64Array[] = [Float64Array.from(this.inputs)];
      const pre: Float64Array[] = [];
      for (const layer of layers) {
        const { rows, cols, data } = layer.weights;
        const x = acts[acts.length - 1];
        const z = new Float64Array(n * rows);
        const a = new Float64Array(n * rows);
        const [c0 = 0, c1 = 0, c2 = 0] = activationCoefficients(layer.activation);
        for (let s = 0; s < n; s++) {
          for (let r = 0; r < rows; r++) {
            let acc = layer.bias[r];
            for (let c = 0; c < cols; c++) acc += data[r * cols + c] * x[s * cols + c];
            z[s * rows + r] = acc;
            a[s * rows + r] = c0 + c1 * acc + c2 * acc * acc;
          }
        }
        pre.push(z);
        acts.push(a);
      }
      const out = acts[acts.length - 1];
      let grad = new Float64Array(out.length);
      let loss = 0;
      for (let k = 0; k < out.length; k++) {
        const e = out[k] - this.targets[k];
        loss += e * e;
        grad[k] = (2 * e) / out.length;
      }
      for (let l = layers.length - 1; l >= 0; l--) {
        const layer = layers[l];
        const { rows, cols, data } = layer.weights;
        const [, c1 = 0, c2 = 0] = activationCoefficients(layer.activation);
        const z = pre[l];
        const x = acts[l];
        const delta = new Float64Array(n * rows);
        for (let k = 0; k < delta.length; k++) delta[k] = grad[k] * (c1 + 2 * c2 * z[k]);
        const gx = new Float64Array(n * cols);
        for (let s = 0; s < n; s++) {
          for (let r = 0; r < rows; r++) {
            const d = delta[s * rows + r];
            for (let c = 0; c < cols; c++) gx[s * cols + c] += data[r * cols + c] * d;
          }
        }
        const m = masks[l].data;
        for (let r = 0; r < rows; r++) {
          let gb = 0;
          for (let s = 0; s < n; s++) gb += delta[s * rows + r];
          layer.bias[r] -= lr * gb;
          for (let c = 0; c < cols; c++) {
            const k = r * cols + c;
            if (!m[k]) {
              data[k] = 0;
              continue;
            }
            let gw = 0;
            for (let s = 0; s < n; s++) gw += delta[s * rows + r] * x[s * cols + c];
            data[k] -= lr * gw;
          }
        }
        grad = gx;
      }
      options.onProgress?.({
        epoch: epoch + 1,
        epochs,
        loss: loss / out.length,
        metric: { name: 'mse', value: loss / out.length },
      });
    }
    return {
      task: network.task,
      layers: layers.map((l) => ({
        ...l,
        weights: { ...l.weights, data: Float32Array.from(l.weights.data) },
        bias: Float32Array.from(l.bias),
      })),
    };
  }
}
