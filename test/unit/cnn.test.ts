import { beforeAll, describe, expect, it } from 'vitest';
import { checkTied, convLayer, kernelOf } from '../../src/core/model/conv';
import { expandKernelBlockMask } from '../../src/core/model/convMasks';
import { imagesToFloat, takeSamples, type DatasetSplit } from '../../src/core/io/dataset';
import { mnistSplit } from '../../src/core/io/mnist';
import { HepexError } from '../../src/core/model/errors';
import { createMask, type Mask } from '../../src/core/model/matrix';
import type { HepexModel } from '../../src/core/io/model';
import {
  forward,
  validateNetwork,
  type ConvLayer,
  type Network,
} from '../../src/core/model/network';
import { createRng } from '../../src/core/model/random';
import { setupBackend, tf } from '../../src/engines/tfjs/backend';
import { networkToLayersModel, predictFlat } from '../../src/engines/tfjs/convert';
import { modelFromFiles } from '../../src/core/io/layersModelFile';
import { modelFromLayersModel, modelToFiles } from '../../src/engines/tfjs/modelFiles';
import { loadMnist } from '../../src/engines/tfjs/mnistNode';
import { createSpec, initNetwork } from '../../src/engines/tfjs/models';
import { evaluateNetwork, trainNetwork } from '../../src/engines/tfjs/train';
import { createTfjsTrainer } from '../../src/engines/tfjs/trainer';
import { expectInvalidModelFile } from '../fixtures/invalidModelFile';
import { maxAbsDiff } from '../fixtures/networks';

// Real MNIST digits (400 train / 200 test of the seeded split) and a small CNN:
// conv 4 filters 5x5 stride 2 (12 x 12 x 4 = 576 features) -> poly -> dense 16 -> poly -> dense 10.
let small: DatasetSplit;
const spec = createSpec('cnn', [784, 16, 10], undefined, { filters: 4 });

beforeAll(async () => {
  await setupBackend();
  const split = mnistSplit(await loadMnist(), 1);
  small = { ...split, train: takeSamples(split.train, 400), test: takeSamples(split.test, 200) };
});

const convWith = (conv: ConvLayer, kernel: Float32Array, bias: Float32Array): ConvLayer =>
  convLayer(conv.geometry, kernel, bias, conv.activation);

/** A CNN with every weight and bias random (non-zero biases, so bias handling is checked too). */
function randomCnn(seed: number): Network {
  const start = initNetwork(spec, seed);
  const rng = createRng(seed);
  const conv = start.layers[0] as ConvLayer;
  const filterBias = Float32Array.from({ length: conv.geometry.filters }, () => rng.normal() * 0.1);
  return {
    ...start,
    layers: start.layers.map((l, i) =>
      i === 0
        ? convWith(conv, kernelOf(conv).kernel, filterBias)
        : { ...l, bias: Float32Array.from({ length: l.bias.length }, () => rng.normal() * 0.1) },
    ),
  };
}

describe('tfjs CNN', () => {
  it('computes what the core forward pass computes on raw images (tf.conv2d vs float64 im2col, <= 1e-4)', () => {
    const net = randomCnn(3);
    const n = 16;
    const images = imagesToFloat(takeSamples(small.test, n));
    const model = networkToLayersModel(net);
    try {
      const tfjs = predictFlat(model, images, n);
      const core = forward(net, images, n);
      expect(tfjs.length).toBe(n * 10);
      expect(maxAbsDiff(tfjs, core)).toBeLessThanOrEqual(1e-4);
      // The conv is a real Conv2D layer with a k x k x C x filters kernel, not the dense form.
      expect(model.getLayer('conv_1').getWeights()[0].shape).toEqual([5, 5, 1, 4]);
    } finally {
      model.dispose();
    }
  });

  it('trains (im2col matMul) and evaluates (tf.conv2d) the same network; the result stays tied', async () => {
    const before = tf.memory().numTensors;
    const result = await trainNetwork(initNetwork(spec, 1), small.train, small.test, {
      epochs: 5,
      batchSize: 32,
      learningRate: 5e-3,
      seed: 2,
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(result.metric.value).toBeGreaterThan(0.7);
    const conv = result.network.layers[0] as ConvLayer;
    expect(conv.kind).toBe('conv');
    checkTied(conv);
    // evaluateNetwork's tf.conv2d accuracy equals the core's float64 forward pass's.
    const images = imagesToFloat(small.test);
    const out = forward(result.network, images, small.test.count);
    let correct = 0;
    for (let s = 0; s < small.test.count; s++) {
      const row = out.subarray(s * 10, (s + 1) * 10);
      if (row.indexOf(Math.max(...row)) === small.test.labels[s]) correct++;
    }
    const evaluated = await evaluateNetwork(result.network, small.train, small.test);
    expect(evaluated.metric.value).toBeCloseTo(correct / small.test.count, 2);
    expect(evaluated.metric.value).toBeCloseTo(result.metric.value, 10);
  });

  it('fine-tunes with masks: pruned kernel weights stay exactly 0, the conv stays tied', async () => {
    const net = randomCnn(5);
    const conv = net.layers[0] as ConvLayer;
    const g = conv.geometry;
    const rng = createRng(7);
    const block = createMask(g.filters, g.patchWidth, 0);
    for (let k = 0; k < block.data.length; k++) block.data[k] = rng.next() < 0.5 ? 1 : 0;
    const masks: Mask[] = [
      expandKernelBlockMask(g, block),
      ...net.layers.slice(1).map((l) => {
        const m = createMask(l.weights.rows, l.weights.cols);
        for (let k = 0; k < m.data.length; k++) m.data[k] = rng.next() < 0.7 ? 1 : 0;
        return m;
      }),
    ];
    const tuned = await createTfjsTrainer(small, { seed: 3 }).fineTune(net, masks, { epochs: 1 });
    validateNetwork(tuned);
    const tconv = tuned.layers[0] as ConvLayer;
    checkTied(tconv);
    const { kernel } = kernelOf(tconv);
    const taps = g.kernel * g.kernel * g.channels;
    let kept = 0;
    let changed = 0;
    for (let f = 0; f < g.filters; f++) {
      for (let j = 0; j < taps; j++) {
        const w = kernel[f * taps + j];
        if (!block.data[f * g.patchWidth + j]) expect(w).toBe(0);
        else {
          kept++;
          if (w !== kernelOf(conv).kernel[f * taps + j]) changed++;
        }
      }
    }
    expect(changed).toBeGreaterThan(kept / 2); // the kept weights did train
    tuned.layers
      .slice(1)
      .forEach((l, i) =>
        l.weights.data.forEach((w, k) => masks[i + 1].data[k] || expect(w).toBe(0)),
      );
  });

  it('refuses a conv mask that differs between positions', async () => {
    const net = randomCnn(5);
    const masks = net.layers.map((l) => createMask(l.weights.rows, l.weights.cols));
    masks[0].data[masks[0].cols * 5 + 32 + 3] = 0; // row 5 = position 1, filter 2; columns 32.. its patch
    const error = await createTfjsTrainer(small)
      .fineTune(net, masks, { epochs: 1 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HepexError);
    expect((error as HepexError).code).toBe('invalid-mask');
    expect((error as HepexError).message).toMatch(/differs between output positions/);
  });
});

describe('CNN model files', () => {
  let model: HepexModel;
  let good: { modelJson: string; weights: Uint8Array };
  beforeAll(async () => {
    const net = randomCnn(9);
    const conv = net.layers[0] as ConvLayer;
    const g = conv.geometry;
    // Prune every third kernel weight (tied) and every fourth dense weight; zero them. The
    // patch padding columns (25..31) hold no weights: their mask bits are 0 (kernelMaskOf).
    const block = createMask(g.filters, g.patchWidth, 1);
    for (let k = 0; k < block.data.length; k++)
      if (k % 3 === 0 || k % g.patchWidth >= 25) block.data[k] = 0;
    const masks: Mask[] = [expandKernelBlockMask(g, block)];
    for (const l of net.layers.slice(1)) {
      const m = createMask(l.weights.rows, l.weights.cols);
      for (let k = 0; k < m.data.length; k += 4) m.data[k] = 0;
      masks.push(m);
    }
    const { kernel, bias } = kernelOf(conv);
    const taps = g.kernel * g.kernel * g.channels;
    const pruned = kernel.map((w, i) =>
      block.data[Math.floor(i / taps) * g.patchWidth + (i % taps)] ? w : 0,
    );
    const layers = net.layers.map((l, i) =>
      i === 0
        ? convWith(conv, pruned, bias)
        : {
            ...l,
            weights: {
              ...l.weights,
              data: l.weights.data.map((w, k) => (masks[i].data[k] ? w : 0)),
            },
          },
    );
    model = { name: 'cnn', network: { ...net, layers }, masks, metrics: { accuracy: 0.5 } };
    good = await modelToFiles(model);
  });

  it('round-trips export -> import identically, masks stored as the kernel block', async () => {
    const meta = JSON.parse(good.modelJson).userDefinedMetadata.hepex;
    expect(meta.layers[0]).toEqual({
      kind: 'conv',
      geometry: { height: 28, width: 28, channels: 1, kernel: 5, stride: 2, filters: 4 },
      inputs: 144 * 32,
      outputs: 144 * 4,
      activation: spec.activation,
    });
    expect(meta.masks[0]).toMatchObject({ rows: 4, cols: 32, encoding: 'kernel' });
    // The weights file holds the kernel once (5*5*1*4 + 4 floats), not the 576 x 4608 dense form.
    const back = await modelFromFiles(good.modelJson, good.weights);
    expect(back.network.layers.map((l) => l.kind)).toEqual(['conv', 'dense', 'dense']);
    back.network.layers.forEach((l, i) => {
      const a = model.network.layers[i];
      expect(Buffer.from(l.weights.data.buffer).equals(Buffer.from(a.weights.data.buffer))).toBe(
        true,
      );
      expect(Array.from(l.bias)).toEqual(Array.from(a.bias));
      expect(l.activation).toEqual(a.activation);
    });
    expect((back.network.layers[0] as ConvLayer).geometry).toEqual(
      (model.network.layers[0] as ConvLayer).geometry,
    );
    back.masks!.forEach((m, i) =>
      expect(Buffer.from(m.data).equals(Buffer.from(model.masks![i].data))).toBe(true),
    );
    // Plain tfjs loads the same files and computes the same outputs.
    const plain = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: JSON.parse(good.modelJson).modelTopology,
        weightSpecs: JSON.parse(good.modelJson).weightsManifest[0].weights,
        weightData: good.weights.slice().buffer,
      }),
    );
    try {
      const images = imagesToFloat(takeSamples(small.test, 8));
      expect(
        maxAbsDiff(predictFlat(plain, images, 8), forward(model.network, images, 8)),
      ).toBeLessThanOrEqual(1e-4);
    } finally {
      plain.dispose();
    }
  });

  it('reads a CNN made elsewhere in tfjs (Sequential, image input, no hepex metadata)', async () => {
    const seq = tf.sequential({
      layers: [
        tf.layers.conv2d({
          inputShape: [28, 28, 1],
          filters: 3,
          kernelSize: 5,
          strides: 2,
          name: 'c',
          biasInitializer: 'randomNormal',
        }),
        tf.layers.flatten({ name: 'f' }),
        tf.layers.dense({ units: 10, name: 'd' }),
      ],
    });
    try {
      const back = await modelFromLayersModel(seq);
      expect(back.network.layers.map((l) => l.kind)).toEqual(['conv', 'dense']);
      expect((back.network.layers[0] as ConvLayer).geometry).toMatchObject({
        height: 28,
        width: 28,
        channels: 1,
        kernel: 5,
        stride: 2,
        filters: 3,
      });
      const images = imagesToFloat(takeSamples(small.test, 4));
      const theirs = tf.tidy(
        () =>
          (
            seq.predict(tf.tensor4d(images, [4, 28, 28, 1])) as tf.Tensor
          ).dataSync() as Float32Array,
      );
      expect(maxAbsDiff(theirs, forward(back.network, images, 4))).toBeLessThanOrEqual(1e-4);
    } finally {
      seq.dispose();
    }
  });

  it('exports any tied conv mask in its canonical form (padding and off-block bits 0)', async () => {
    const conv = model.network.layers[0] as ConvLayer;
    const loose = { ...model.masks![0], data: model.masks![0].data.slice() };
    loose.data[3 * loose.cols + 4 * 32 + 30] = 1; // off-block (position 4's patch, row of position 0), padding column 30
    loose.data[(4 * 4 + 1) * loose.cols + 4 * 32 + 27] = 1; // position 4's own padding column 27
    const files = await modelToFiles({ ...model, masks: [loose, ...model.masks!.slice(1)] });
    const back = await modelFromFiles(files.modelJson, files.weights);
    expect(Buffer.from(back.masks![0].data).equals(Buffer.from(model.masks![0].data))).toBe(true);
    expect(conv.geometry.patchWidth).toBe(32);
  });

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- free-form edits of parsed JSON
  const edit = (f: (j: Record<string, any>) => void): string => {
    const j = JSON.parse(good.modelJson);
    f(j);
    return JSON.stringify(j);
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the functional model's layer list
  const layer = (j: Record<string, any>, name: string): Record<string, any> =>
    j.modelTopology.config.layers.find((l: { name: string }) => l.name === name);
  const expectInvalid = (json: string, pattern: RegExp): Promise<void> =>
    expectInvalidModelFile(json, good.weights, pattern);

  it('refuses conv metadata that does not match the weights', async () => {
    await expectInvalid(
      edit((j) => (j.userDefinedMetadata.hepex.layers[0].geometry.filters = 8)),
      /positions|filters|outputs/,
    );
    await expectInvalid(
      edit((j) => (j.userDefinedMetadata.hepex.layers[0].geometry.stride = 1)),
      /positions/,
    );
    // Sizes consistent with the geometry, but the graph's conv differs (kernel 4, stride 2: 13 x 13 = 169 positions).
    await expectInvalid(
      edit((j) => {
        const meta = j.userDefinedMetadata.hepex;
        Object.assign(meta.layers[0], {
          geometry: { ...meta.layers[0].geometry, kernel: 4 },
          inputs: 169 * 16,
          outputs: 169 * 4,
        });
        meta.layers[1].inputs = 169 * 4;
        delete meta.masks;
      }),
      /metadata describes|weights are/,
    );
  });

  it('refuses missing or unknown conv fields and convs that are not first', async () => {
    await expectInvalid(
      edit((j) => delete j.userDefinedMetadata.hepex.layers[0].geometry.kernel),
      /lacks kernel/,
    );
    await expectInvalid(
      edit((j) => delete j.userDefinedMetadata.hepex.layers[0].geometry),
      /no geometry/,
    );
    await expectInvalid(
      edit((j) => (j.userDefinedMetadata.hepex.layers[0].geometry.padding = 'same')),
      /unknown field "padding"/,
    );
    await expectInvalid(
      edit((j) => (j.userDefinedMetadata.hepex.layers[0].kind = 'conv3d')),
      /unknown kind/,
    );
    await expectInvalid(
      edit((j) => (j.userDefinedMetadata.hepex.layers[1].kind = 'conv')),
      /only the first layer/,
    );
    await expectInvalid(
      edit((j) => delete j.userDefinedMetadata.hepex.layers[0].kind),
      /geometry but is not a convolution/,
    );
    await expectInvalid(
      edit((j) => (j.userDefinedMetadata.hepex.layers[0].geometry.kernel = 40)),
      /does not fit/,
    );
  });

  it('refuses conv masks stored per element, of the wrong size, or with a wrong count', async () => {
    await expectInvalid(
      edit((j) => (j.userDefinedMetadata.hepex.masks[0].encoding = 'elements')),
      /encoding "kernel"/,
    );
    await expectInvalid(
      edit((j) => (j.userDefinedMetadata.hepex.masks[0].cols = 25)),
      /kernel block is 4 filters x 32/,
    );
    await expectInvalid(
      edit((j) => (j.userDefinedMetadata.hepex.masks[0].ones += 1)),
      /says it keeps/,
    );
    await expectInvalid(
      edit((j) => (j.userDefinedMetadata.hepex.masks[1].encoding = 'kernel')),
      /not a convolution/,
    );
    // Bit 31 of filter 1 is a padding column: it holds no weight.
    await expectInvalid(
      edit((j) => {
        const m = j.userDefinedMetadata.hepex.masks[0];
        const bytes = Buffer.from(m.bits, 'base64');
        bytes[3] |= 0x80;
        Object.assign(m, { bits: bytes.toString('base64'), ones: m.ones + 1 });
      }),
      /padding entry 32 of filter 1/,
    );
  });

  it('refuses conv graphs the HE engine cannot run', async () => {
    await expectInvalid(
      edit((j) => (layer(j, 'conv_1').config.padding = 'same')),
      /padding/,
    );
    await expectInvalid(
      edit((j) => (layer(j, 'conv_1').config.activation = 'relu')),
      /transforms the output of a relu activation/,
    );
    await expectInvalid(
      edit((j) => (layer(j, 'conv_1').config.strides = [2, 1])),
      /square stride/,
    );
    await expectInvalid(
      edit((j) => (layer(j, 'conv_1').config.dilation_rate = [2, 2])),
      /dilat/,
    );
    await expectInvalid(
      edit((j) => (layer(j, 'reshape_1').config.target_shape = [14, 56, 1])),
      /takes 576 inputs but the layer before gives 520/,
    );
    await expectInvalid(
      edit((j) => (layer(j, 'reshape_1').config.target_shape = [28, 27, 1])),
      /views 784 inputs/,
    );
    // Dense straight on the conv's image-shaped output (no Flatten).
    await expectInvalid(
      edit((j) => {
        const layers = j.modelTopology.config.layers as {
          name: string;
          inbound_nodes: unknown[][][];
        }[];
        const flatten = layers.findIndex((l) => l.name === 'flatten_1');
        layers.splice(flatten, 1);
        for (const l of layers)
          for (const node of l.inbound_nodes)
            for (const ref of node) if (ref[0] === 'flatten_1') ref[0] = 'conv_1';
      }),
      /flatten it first/,
    );
    // A conv kernel of the wrong shape in the manifest.
    await expectInvalid(
      edit((j) => {
        const w = j.weightsManifest[0].weights.find(
          (s: { name: string }) => s.name === 'conv_1/kernel',
        );
        w.shape = [5, 5, 4, 1];
      }),
      /conv_1\/kernel has shape/,
    );
  });
});
