import { beforeAll, describe, expect, it } from 'vitest';
import { subsetDataset, takeSamples, type DatasetSplit } from '../../src/core/io/dataset';
import { mnistSplit } from '../../src/core/io/mnist';
import { HepexError } from '../../src/core/model/errors';
import type { Mask } from '../../src/core/model/matrix';
import { forward, type Network } from '../../src/core/model/network';
import { magnitudePrune } from '../../src/core/prune/magnitudePrune';
import { createRng } from '../../src/core/model/random';
import { setupBackend, tf } from '../../src/engines/tfjs/backend';
import { loadMnist } from '../../src/engines/tfjs/mnistNode';
import { createSpec, initNetwork, parseActivation } from '../../src/engines/tfjs/models';
import { evaluateNetwork, trainNetwork } from '../../src/engines/tfjs/train';
import {
  createTfjsTrainer,
  fineTuneShiftOf,
  TRAINING_DEFAULTS,
} from '../../src/engines/tfjs/trainer';
import { randomMasks as seededMasks } from '../fixtures/pruning';

// Small real data: 400 training and 200 test digits from the seeded MNIST split.
let small: DatasetSplit;

beforeAll(async () => {
  await setupBackend();
  const split = mnistSplit(await loadMnist(), 1);
  small = { ...split, train: takeSamples(split.train, 400), test: takeSamples(split.test, 200) };
});

const mlpSpec = createSpec('mlp', [784, 32, 10]);

const randomMasks = (sizes: number[], keep: number, seed: number): Mask[] =>
  seededMasks(sizes, keep, createRng(seed));

describe('tfjs training', () => {
  it('learns MNIST digits (mechanics: 400 samples, 3 epochs, far above chance)', async () => {
    const start = initNetwork(mlpSpec, 1);
    const before = await evaluateNetwork(start, small.train, small.test);
    const progress: number[] = [];
    const result = await trainNetwork(start, small.train, small.test, {
      epochs: 3,
      learningRate: 3e-3,
      onProgress: (p) => progress.push(p.loss),
    });
    expect(progress).toHaveLength(3);
    expect(progress[2]).toBeLessThan(progress[0]);
    expect(before.metric.value).toBeLessThan(0.3);
    expect(result.metric.name).toBe('accuracy');
    expect(result.metric.value).toBeGreaterThan(0.6);
    // The tfjs-trained weights give the same predictions through the core's float64 forward pass.
    const x = Float32Array.from(small.test.images.subarray(0, 784 * 5), (v) => v / 255);
    const core = forward(result.network, x, 5);
    const engine = await evaluateNetwork(result.network, small.train, small.test);
    expect(engine.metric.value).toBeCloseTo(result.metric.value, 10);
    expect(core.every(Number.isFinite)).toBe(true);
  });

  it('is reproducible: the same seed gives identical weights', async () => {
    const a = await trainNetwork(initNetwork(mlpSpec, 5), small.train, small.test, {
      epochs: 1,
      seed: 9,
      maxShift: 1,
      evaluateEachEpoch: false,
    });
    const b = await trainNetwork(initNetwork(mlpSpec, 5), small.train, small.test, {
      epochs: 1,
      seed: 9,
      maxShift: 1,
      evaluateEachEpoch: false,
    });
    expect(
      Buffer.from(a.network.layers[0].weights.data.buffer).equals(
        Buffer.from(b.network.layers[0].weights.data.buffer),
      ),
    ).toBe(true);
    const c = await trainNetwork(initNetwork(mlpSpec, 5), small.train, small.test, {
      epochs: 1,
      seed: 10,
      maxShift: 1,
      evaluateEachEpoch: false,
    });
    expect(
      Buffer.from(a.network.layers[0].weights.data.buffer).equals(
        Buffer.from(c.network.layers[0].weights.data.buffer),
      ),
    ).toBe(false);
  });

  it('fine-tuning holds the masks: pruned weights are exactly zero AFTER training, kept ones moved', async () => {
    const dense = (
      await trainNetwork(initNetwork(mlpSpec, 2), small.train, small.test, {
        epochs: 3,
        learningRate: 3e-3,
        evaluateEachEpoch: false,
      })
    ).network;
    const masks = randomMasks([784, 32, 10], 0.3, 4);
    const trainer = createTfjsTrainer(small);
    const prunedMetric = await trainer.evaluate({
      ...dense,
      layers: dense.layers.map((l, i) => ({
        ...l,
        weights: { ...l.weights, data: l.weights.data.map((w, k) => (masks[i].data[k] ? w : 0)) },
      })),
    });
    const tuned = await trainer.fineTune(dense, masks, {
      epochs: 3,
      learningRate: 2e-3,
      batchSize: 32,
    });
    let pruned = 0;
    let moved = 0;
    tuned.layers.forEach((layer, l) => {
      for (let k = 0; k < layer.weights.data.length; k++) {
        if (!masks[l].data[k]) {
          expect(layer.weights.data[k]).toBe(0);
          pruned++;
        } else if (layer.weights.data[k] !== dense.layers[l].weights.data[k]) moved++;
      }
    });
    expect(pruned).toBeGreaterThan(15000);
    expect(moved).toBeGreaterThan(1000);
    // The input network is untouched (pruned entries of the dense net are still non-zero).
    expect(dense.layers[0].weights.data.some((w, k) => !masks[0].data[k] && w !== 0)).toBe(true);
    const metric = await trainer.evaluate(tuned);
    expect(metric.name).toBe('accuracy');
    expect(metric.value).toBeGreaterThan(0.5);
    expect(metric.value).toBeGreaterThan(prunedMetric.value);
  });

  it('augments an unpruned fine-tune as the network was trained, a pruned MLP not at all, a CNN by 1 px', () => {
    const mlp = initNetwork(mlpSpec, 1);
    const cnn = initNetwork(createSpec('cnn', [784, 16, 10], undefined, { filters: 4 }), 1);
    const allOnes = (n: Network): Mask[] =>
      n.layers.map((l) => ({
        rows: l.weights.rows,
        cols: l.weights.cols,
        data: new Uint8Array(l.weights.rows * l.weights.cols).fill(1),
      }));
    const pruned = (n: Network): Mask[] => magnitudePrune(n, { sparsity: 0.5 });
    expect(fineTuneShiftOf(mlp, allOnes(mlp))).toBe(TRAINING_DEFAULTS.mlp.maxShift);
    expect(TRAINING_DEFAULTS.mlp.maxShift).toBeGreaterThan(0);
    expect(fineTuneShiftOf(mlp, pruned(mlp))).toBe(0);
    expect(fineTuneShiftOf(cnn, allOnes(cnn))).toBe(TRAINING_DEFAULTS.cnn.maxShift);
    expect(fineTuneShiftOf(cnn, pruned(cnn))).toBe(1);
  });

  it('group lasso zeroes whole pixels and neurons: after magnitude pruning far more of them are dead', async () => {
    const start = (
      await trainNetwork(initNetwork(mlpSpec, 3), small.train, small.test, {
        epochs: 3,
        learningRate: 3e-3,
        evaluateEachEpoch: false,
      })
    ).network;
    const deadLines = (net: Network): number => {
      // Input pixels (columns of W1) and hidden neurons (rows of W1) with no weight left at 0.9.
      const [m] = magnitudePrune(net, { sparsity: 0.9, scope: 'global' });
      let dead = 0;
      for (let c = 0; c < m.cols; c++) if (!m.data.some((v, k) => v && k % m.cols === c)) dead++;
      for (let r = 0; r < m.rows; r++)
        if (!m.data.subarray(r * m.cols, (r + 1) * m.cols).some((v) => v)) dead++;
      return dead;
    };
    const plain = await trainNetwork(start, small.train, small.test, {
      epochs: 8,
      learningRate: 2e-3,
      evaluateEachEpoch: false,
    });
    const lasso = await trainNetwork(start, small.train, small.test, {
      epochs: 8,
      learningRate: 2e-3,
      groupLasso: 5e-3,
      evaluateEachEpoch: false,
    });
    expect(deadLines(lasso.network)).toBeGreaterThan(deadLines(plain.network) + 100);
    expect(lasso.metric.value).toBeGreaterThan(0.6);
    await expect(trainNetwork(start, small.train, small.test, { groupLasso: 1.5 })).rejects.toThrow(
      /group-lasso/,
    );
  });

  it('distillation pulls a pruned student towards its teacher, and checks what it is given', async () => {
    const teacher = (
      await trainNetwork(initNetwork(mlpSpec, 3), small.train, small.test, {
        epochs: 4,
        learningRate: 3e-3,
        evaluateEachEpoch: false,
      })
    ).network;
    const masks = magnitudePrune(teacher, { sparsity: 0.9, scope: 'global' });
    const student = (options: { distill?: { teacher: Network; weight: number } }) =>
      trainNetwork(teacher, small.train, small.test, {
        epochs: 3,
        learningRate: 3e-3,
        masks,
        evaluateEachEpoch: false,
        ...options,
      });
    // What distillation minimises: the divergence KL(teacher || student) of the outputs
    // softened at the default temperature 4, averaged over the 200 test digits.
    const inputs = Float32Array.from(small.test.images, (v) => v / 255);
    const softened = (net: Network) => {
      const out = forward(net, inputs, small.test.count);
      return Array.from({ length: small.test.count }, (_, n) => {
        const z = Array.from(out.subarray(n * 10, n * 10 + 10), (v) => v / 4);
        const top = Math.max(...z);
        const e = z.map((v) => Math.exp(v - top));
        const sum = e.reduce((a, b) => a + b, 0);
        return e.map((v) => v / sum);
      });
    };
    const reference = softened(teacher);
    const divergence = (net: Network) =>
      softened(net).reduce(
        (acc, q, n) => acc + reference[n].reduce((a, p, k) => a + p * Math.log(p / q[k]), 0),
        0,
      ) / small.test.count;
    const plain = await student({});
    const tensorsBefore = tf.memory().numTensors;
    const distilled = await student({ distill: { teacher, weight: 1 } });
    // The teacher's tensors are disposed with the student's.
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(divergence(distilled.network)).toBeLessThan(0.9 * divergence(plain.network));
    // Weight 0 is the plain loss: the same seeded run gives the same weights.
    const off = await student({ distill: { teacher, weight: 0 } });
    expect(off.network.layers[0].weights.data).toEqual(plain.network.layers[0].weights.data);
    // An autoencoder distils its teacher's outputs (MSE); a teacher of another task is refused.
    const ae = initNetwork(createSpec('ae', [784, 16, 784]), 1);
    await expect(
      trainNetwork(ae, small.train, small.test, { epochs: 1, distill: { teacher: ae } }),
    ).resolves.toBeDefined();
    await expect(
      trainNetwork(ae, small.train, small.test, { distill: { teacher } }),
    ).rejects.toThrow(/same task/);
    const other = initNetwork(createSpec('mlp', [784, 16, 10]), 1);
    await expect(student({ distill: { teacher: other, weight: 1 } })).rejects.toThrow(
      /layer sizes/,
    );
    await expect(
      trainNetwork(teacher, small.train, small.test, { distill: { teacher, temperature: 0 } }),
    ).rejects.toBeInstanceOf(HepexError);
  });

  it('does not leak tensors across repeated training calls', async () => {
    const masks = randomMasks([784, 32, 10], 0.5, 1);
    const run = (): Promise<unknown> =>
      trainNetwork(initNetwork(mlpSpec, 3), takeSamples(small.train, 128), small.test, {
        epochs: 1,
        masks,
      });
    await run();
    const after1 = tf.memory().numTensors;
    await run();
    await run();
    await evaluateNetwork(initNetwork(mlpSpec, 3), small.train, small.test);
    expect(tf.memory().numTensors).toBe(after1);
  });

  it('trains an autoencoder below the mean-image baseline and a denoiser on noisy inputs', async () => {
    const spec = createSpec('ae', [784, 64, 32, 64, 784], parseActivation('poly:0,0.5,0.25'));
    const ae = await trainNetwork(initNetwork(spec, 1), small.train, small.test, {
      epochs: 3,
      learningRate: 3e-3,
    });
    const evalAe = await evaluateNetwork(ae.network, small.train, small.test);
    expect(evalAe.metric.name).toBe('mse');
    expect(evalAe.meanImageMse).toBeGreaterThan(0.05);
    expect(evalAe.metric.value).toBeLessThan(evalAe.meanImageMse!);
    const noisy = await evaluateNetwork(ae.network, small.train, small.test, { noise: 0.5 });
    expect(noisy.metric.value).toBeGreaterThan(evalAe.metric.value);
    const dae = await trainNetwork(
      initNetwork(createSpec('dae', [784, 64, 32, 64, 784]), 1),
      small.train,
      small.test,
      { epochs: 1, noise: 0.3 },
    );
    expect(dae.metric.value).toBeLessThan(evalAe.meanImageMse! * 1.5);
  });

  it('cancels through an AbortSignal and rejects bad masks and data with typed errors', async () => {
    const controller = new AbortController();
    const before = tf.memory().numTensors;
    const job = trainNetwork(initNetwork(mlpSpec, 1), small.train, small.test, {
      epochs: 50,
      signal: controller.signal,
      onProgress: () => controller.abort(),
    });
    await expect(job).rejects.toMatchObject({ code: 'cancelled' });
    expect(tf.memory().numTensors).toBe(before);
    const net = initNetwork(mlpSpec, 1);
    await expect(
      createTfjsTrainer(small).fineTune(net, randomMasks([784, 32, 10], 1, 1).slice(0, 1)),
    ).rejects.toBeInstanceOf(HepexError);
    const wrong = randomMasks([784, 16, 10], 1, 1);
    await expect(
      trainNetwork(net, small.train, small.test, { masks: wrong }),
    ).rejects.toMatchObject({ code: 'invalid-mask' });
    const tiny = {
      ...small.test,
      rows: 2,
      cols: 2,
      images: small.test.images.subarray(0, 4 * small.test.count),
    };
    await expect(trainNetwork(net, tiny, tiny)).rejects.toMatchObject({
      code: 'invalid-data-file',
    });
    expect(subsetDataset(small.test, [0]).count).toBe(1);
    await expect(trainNetwork(net, small.train, small.test, { batchSize: 0.5 })).rejects.toThrow(
      /batch size/,
    );
    await expect(trainNetwork(net, small.train, small.test, { noise: -1 })).rejects.toThrow(
      /noise/,
    );
  });
});
