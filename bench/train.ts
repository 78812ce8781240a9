import { takeSamples } from '../src/core/io/dataset';
import { setupBackend, tf } from '../src/engines/tfjs/backend';
import { loadMnistSplit } from '../src/engines/tfjs/mnistNode';
import { createSpec, initNetwork, type Architecture } from '../src/engines/tfjs/models';
import { trainNetwork } from '../src/engines/tfjs/train';
import { TRAINING_DEFAULTS } from '../src/engines/tfjs/trainer';
import type { BenchOptions } from './main';

/**
 * Training time per epoch in Node (tfjs WASM backend, fallback cpu) on the MNIST split
 * (8000 training digits, batch 64, Adam), for the MLP and the autoencoders, plus a masked
 * fine-tuning epoch (90% of weights pruned, masks re-applied after every step). ms per epoch
 * excludes the per-epoch evaluation. --quick trains on 2000 digits for 1 epoch.
 */
export async function run({ quick, progress }: BenchOptions) {
  const backend = await setupBackend();
  const split = await loadMnistSplit();
  const train = quick ? takeSamples(split.train, 2000) : split.train;
  const epochs = quick ? 1 : 2;
  const cases: { name: string; arch: Architecture; layers: number[]; masked?: boolean }[] = [
    { name: 'mlp 784-128-10', arch: 'mlp', layers: [784, 128, 10] },
    { name: 'mlp 784-128-10 masked 90%', arch: 'mlp', layers: [784, 128, 10], masked: true },
    { name: 'ae 784-128-32-128-784', arch: 'ae', layers: [784, 128, 32, 128, 784] },
    { name: 'ae 784-256-64-256-784', arch: 'ae', layers: [784, 256, 64, 256, 784] },
    { name: 'dae 784-256-64-256-784', arch: 'dae', layers: [784, 256, 64, 256, 784] },
  ];
  const results: Record<
    string,
    { msPerEpoch: number; samplesPerSecond: number; epochs: number; samples: number }
  > = {};
  for (const c of cases) {
    const network = initNetwork(createSpec(c.arch, c.layers), 1);
    const masks = c.masked
      ? network.layers.map((l) => ({
          rows: l.weights.rows,
          cols: l.weights.cols,
          data: Uint8Array.from(l.weights.data, (_, k) => (k % 10 === 0 ? 1 : 0)),
        }))
      : undefined;
    const d = TRAINING_DEFAULTS[c.arch];
    const r = await trainNetwork(network, train, split.test, {
      epochs,
      learningRate: d.learningRate,
      batchSize: d.batchSize,
      maxShift: d.maxShift,
      noise: d.noise,
      masks,
      evaluateEachEpoch: false,
    });
    results[c.name] = {
      msPerEpoch: Math.round(r.msPerEpoch),
      samplesPerSecond: Math.round((train.count / r.msPerEpoch) * 1000),
      epochs,
      samples: train.count,
    };
    progress(`${c.name}: ${Math.round(r.msPerEpoch)} ms/epoch`);
  }
  return { backend, tensorsLeft: tf.memory().numTensors, batchSize: 64, results };
}
