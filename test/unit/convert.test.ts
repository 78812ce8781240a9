import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command as convertCommand } from '../../src/cli/commands/convert';
import { command as trainCommand } from '../../src/cli/commands/train';
import type { CommandIo } from '../../src/cli/command';
import { takeSamples, type DatasetSplit } from '../../src/core/io/dataset';
import { modelFromFiles } from '../../src/core/io/layersModelFile';
import { mnistSplit } from '../../src/core/io/mnist';
import { sourceModelFromFiles } from '../../src/core/io/sourceModelFile';
import type { SourceModel } from '../../src/core/io/model';
import { evaluateActivation, type SourceActivation } from '../../src/core/model/activation';
import { fitNetworkActivations, fitQuadratic } from '../../src/core/model/activationFit';
import { HepexError } from '../../src/core/model/errors';
import { createMatrix } from '../../src/core/model/matrix';
import {
  forward,
  forwardDenseView,
  validateNetwork,
  type SourceNetwork,
} from '../../src/core/model/network';
import { createRng } from '../../src/core/model/random';
import { setupBackend, tf } from '../../src/engines/tfjs/backend';
import { convertModel } from '../../src/engines/tfjs/convertModel';
import { loadMnist } from '../../src/engines/tfjs/mnistNode';
import { readModelDir, readSourceModelDir } from '../../src/engines/tfjs/modelDir';
import { createSpec, initNetwork } from '../../src/engines/tfjs/models';
import { sourceModelToFiles } from '../../src/engines/tfjs/sourceModelFiles';
import { evaluateNetwork, trainNetwork } from '../../src/engines/tfjs/train';

const io: CommandIo = { progress: () => undefined, signal: new AbortController().signal };

/** n values of a seeded normal(mean, std). */
function normals(n: number, mean: number, std: number, seed: number): Float64Array {
  const rng = createRng(seed);
  return Float64Array.from({ length: n }, () => mean + std * rng.normal());
}

/** A ReLU network with random weights: layer sizes inputs first, the last layer linear. */
function randomReluNetwork(sizes: number[], seed: number): SourceNetwork {
  const rng = createRng(seed);
  return {
    task: 'classification',
    layers: sizes.slice(1).map((rows, l) => ({
      kind: 'dense' as const,
      weights: createMatrix(
        rows,
        sizes[l],
        Float32Array.from({ length: rows * sizes[l] }, () => rng.normal() / Math.sqrt(sizes[l])),
      ),
      bias: Float32Array.from({ length: rows }, () => 0.1 * rng.normal()),
      activation: l === sizes.length - 2 ? { type: 'linear' as const } : { type: 'relu' as const },
    })),
  };
}

describe('fitQuadratic', () => {
  it('recovers an exact quadratic, whatever the scale and offset of the values', () => {
    for (const [mean, std] of [
      [0, 1],
      [50, 0.01],
      [-3, 40],
    ]) {
      const x = normals(500, mean, std, 3);
      const fit = fitQuadratic(x, (v) => 0.3 - 0.7 * v + 1.2 * v * v);
      const [c0, c1, c2] = fit.coefficients;
      const tol = (c: number) => 1e-6 * Math.max(1, Math.abs(c));
      expect(Math.abs(c0 - 0.3)).toBeLessThan(tol(mean * mean) * 10);
      expect(Math.abs(c1 + 0.7)).toBeLessThan(tol(mean) * 10);
      expect(Math.abs(c2 - 1.2)).toBeLessThan(1e-6);
      expect(fit.clamped).toBe(false);
      expect(fit.rmse).toBeLessThan(1e-6 * Math.max(1, (mean + 3 * std) ** 2));
    }
  });

  it('never gives a negative x^2 coefficient, and clamps to the least-squares line', () => {
    const targets: (SourceActivation | ((x: number) => number))[] = [
      { type: 'relu' },
      { type: 'sigmoid' },
      { type: 'tanh' },
      (x) => -x * x,
      (x) => Math.log1p(Math.abs(x)),
    ];
    for (const target of targets) {
      for (const [mean, std] of [
        [0, 1],
        [2, 1],
        [-2, 0.5],
        [0, 6],
      ]) {
        const x = normals(400, mean, std, 11);
        const fit = fitQuadratic(x, target);
        expect(fit.coefficients[2]).toBeGreaterThanOrEqual(0);
        expect(fit.coefficients.every(Number.isFinite)).toBe(true);
      }
    }
    // A concave target: the free fit has c2 < 0, so the best c2 >= 0 fit is the line.
    const x = normals(400, 0, 1, 5);
    const fit = fitQuadratic(x, (v) => 1 - v * v + 0.5 * v);
    expect(fit.clamped).toBe(true);
    expect(fit.coefficients[2]).toBe(0);
    const n = x.length;
    const mx = x.reduce((a, v) => a + v, 0) / n;
    const y = Array.from(x, (v) => 1 - v * v + 0.5 * v);
    const my = y.reduce((a, v) => a + v, 0) / n;
    let sxy = 0;
    let sxx = 0;
    x.forEach((v, i) => {
      sxy += (v - mx) * (y[i] - my);
      sxx += (v - mx) ** 2;
    });
    expect(fit.coefficients[1]).toBeCloseTo(sxy / sxx, 9);
    expect(fit.coefficients[0]).toBeCloseTo(my - (sxy / sxx) * mx, 9);
  });

  it('fits ReLU on a symmetric spread with a positive x^2 term', () => {
    const fit = fitQuadratic(normals(2000, 0, 1, 2), { type: 'relu' });
    expect(fit.coefficients[2]).toBeGreaterThan(0.1);
    expect(fit.coefficients[1]).toBeCloseTo(0.5, 1);
  });
});

describe('fitNetworkActivations', () => {
  it('fits each layer on what the already converted layers before it feed it', () => {
    const network = randomReluNetwork([12, 8, 6, 3], 7);
    const count = 300;
    const rng = createRng(9);
    const inputs = Float32Array.from({ length: count * 12 }, () => rng.next());
    const { network: converted, fits } = fitNetworkActivations(network, inputs, count);
    validateNetwork(converted);
    expect(fits.map((f) => [f.layer, f.from])).toEqual([
      [0, 'ReLU'],
      [1, 'ReLU'],
    ]);
    expect(converted.layers[2].activation).toEqual({ type: 'linear' });
    // Layer 2's pre-activations from the CONVERTED layer 1.
    const h1 = forward({ task: 'classification', layers: [converted.layers[0]] }, inputs, count);
    const z2 = forwardDenseView(
      {
        task: 'classification',
        layers: [{ ...converted.layers[1], activation: { type: 'linear' } }],
      },
      h1,
      count,
    );
    const expected = fitQuadratic(z2, { type: 'relu' });
    fits[1].coefficients.forEach((c, k) => expect(c).toBeCloseTo(expected.coefficients[k], 6));
    // The converted network tracks the original (a rough bound: one quadratic per layer).
    const a = forward(network, inputs, count);
    const b = forward(converted, inputs, count);
    let err = 0;
    let norm = 0;
    a.forEach((v, i) => {
      err += (v - b[i]) ** 2;
      norm += v * v;
    });
    expect(Math.sqrt(err / norm)).toBeLessThan(0.5);
    expect(evaluateActivation(converted.layers[0].activation, 0)).toBeCloseTo(
      fits[0].coefficients[0],
      12,
    );
  });
});

describe('TF.js files with ReLU', () => {
  const source: SourceModel = {
    name: 'relu mlp',
    network: randomReluNetwork([20, 7, 5, 10], 4),
    metrics: { accuracy: 0.5 },
    provenance: { splitSeed: 3 },
  };

  it('modelFromFiles asks for conversion naming the layer; sourceModelFromFiles reads it', async () => {
    await setupBackend();
    const { modelJson, weights } = await sourceModelToFiles(source);
    const error = await modelFromFiles(modelJson, weights).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(HepexError);
    expect((error as HepexError).code).toBe('needs-conversion');
    expect((error as HepexError).message).toMatch(/"dense_1" uses ReLU.*hepex convert/);
    const back = sourceModelFromFiles(modelJson, weights);
    expect(back.name).toBe('relu mlp');
    expect(back.metrics).toEqual({ accuracy: 0.5 });
    expect(back.provenance).toEqual({ splitSeed: 3 });
    expect(back.network.layers.map((l) => l.activation.type)).toEqual(['relu', 'relu', 'linear']);
    const rng = createRng(1);
    const x = Float32Array.from({ length: 4 * 20 }, () => rng.next());
    const want = forward(source.network, x, 4);
    forward(back.network, x, 4).forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
  });

  it('reads Keras-style Activation layers (relu, tanh) and a final softmax', async () => {
    await setupBackend();
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [6], units: 4, name: 'd1' }),
        tf.layers.activation({ activation: 'tanh', name: 'a1' }),
        tf.layers.dense({ units: 3, activation: 'relu', name: 'd2' }),
        tf.layers.dense({ units: 2, activation: 'softmax', name: 'd3' }),
      ],
    });
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    model.dispose();
    const json = JSON.stringify({
      modelTopology: artifacts!.modelTopology,
      format: 'layers-model',
      weightsManifest: [{ paths: ['./weights.bin'], weights: artifacts!.weightSpecs }],
    });
    const weights = new Uint8Array(artifacts!.weightData as ArrayBuffer);
    const read = sourceModelFromFiles(json, weights);
    expect(read.network.layers.map((l) => l.activation.type)).toEqual(['tanh', 'relu', 'linear']);
    expect(read.notes?.[0]).toMatch(/softmax/);
    await expect(modelFromFiles(json, weights)).rejects.toMatchObject({
      code: 'needs-conversion',
      message: expect.stringMatching(/"d1" uses tanh/),
    });
  });
});

describe('convertModel on a quickly trained ReLU MLP', () => {
  let small: DatasetSplit;
  let relu: SourceNetwork;
  beforeAll(async () => {
    await setupBackend();
    const split = mnistSplit(await loadMnist(), 1);
    small = { ...split, train: takeSamples(split.train, 3000), test: takeSamples(split.test, 600) };
    const start = initNetwork(createSpec('mlp', [784, 32, 10]), 1);
    const network: SourceNetwork = {
      ...start,
      layers: start.layers.map((l, i) => (i === 0 ? { ...l, activation: { type: 'relu' } } : l)),
    };
    relu = (await trainNetwork(network, small.train, small.test, { epochs: 2, learningRate: 3e-3 }))
      .network;
  });

  it('loses little after fit + fine-tune, and the fine-tune does not make it worse', async () => {
    const tensors = tf.memory().numTensors;
    const progress: string[] = [];
    const { model, report } = await convertModel({ name: 'relu', network: relu }, small, {
      epochs: 2,
      fitSamples: 1000,
      onProgress: (p) => progress.push(p.stage),
    });
    expect(tf.memory().numTensors).toBe(tensors);
    const original = (await evaluateNetwork(relu, small.train, small.test)).metric.value;
    expect(report.original).toBe(original);
    expect(original).toBeGreaterThan(0.85);
    expect(report.fineTuned).toBeGreaterThanOrEqual(original - 0.03);
    expect(report.fineTuned).toBeGreaterThanOrEqual(report.fitted - 0.005);
    expect(report.layers).toHaveLength(1);
    expect(report.layers[0].coefficients[2]).toBeGreaterThanOrEqual(0);
    expect(progress).toEqual([
      'evaluate-original',
      'fit',
      'evaluate-fit',
      'fine-tune',
      'fine-tune',
    ]);
    validateNetwork(model.network);
    expect(model.provenance?.method).toBe('convert');
    expect(model.metrics?.accuracy).toBe(report.fineTuned);
  });

  it('converts an autoencoder, distilling the original outputs (MSE) in the fine-tune', async () => {
    const start = initNetwork(createSpec('ae', [784, 16, 784]), 1);
    const network: SourceNetwork = {
      ...start,
      layers: start.layers.map((l, i) => (i === 0 ? { ...l, activation: { type: 'relu' } } : l)),
    };
    const few = {
      ...small,
      train: takeSamples(small.train, 800),
      test: takeSamples(small.test, 200),
    };
    const ae = (await trainNetwork(network, few.train, few.test, { epochs: 2, learningRate: 3e-3 }))
      .network;
    const { model, report } = await convertModel({ name: 'ae', network: ae }, few, {
      epochs: 2,
      fitSamples: 400,
    });
    expect(report.metric).toBe('mse');
    expect(report.fineTuned).toBeLessThanOrEqual(report.fitted);
    expect(report.fineTuned).toBeLessThan(1.5 * report.original);
    expect(model.network.task).toBe('reconstruction');
    validateNetwork(model.network);
  });

  it('stops on abort and refuses a model that is already HE-ready', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      convertModel({ name: 'relu', network: relu }, small, { signal: controller.signal }),
    ).rejects.toMatchObject({ code: 'cancelled' });
    const poly = initNetwork(createSpec('mlp', [784, 8, 10]), 1);
    await expect(convertModel({ name: 'poly', network: poly }, small)).rejects.toThrow(
      /already has only polynomial activations/,
    );
  });
});

describe('hepex train --activation relu / hepex convert', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hepex-convert-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('trains a ReLU model file, converts it, and the result is a normal HE-ready model', async () => {
    const reluDir = join(dir, 'relu');
    await trainCommand.run(
      [
        '--arch',
        'mlp',
        '--layers',
        '784,8,10',
        '--activation',
        'relu',
        '--epochs',
        '1',
        '--out',
        reluDir,
      ],
      io,
    );
    await expect(readModelDir(reluDir)).rejects.toMatchObject({ code: 'needs-conversion' });
    const source = await readSourceModelDir(reluDir);
    expect(source.network.layers[0].activation).toEqual({ type: 'relu' });
    const out = join(dir, 'converted');
    const result = await convertCommand.run(
      ['--model', reluDir, '--out', out, '--epochs', '1', '--fit-samples', '500'],
      io,
    );
    const json = result.json as Record<string, unknown> & {
      layers: { layer: number; from: string; coefficients: number[] }[];
    };
    expect(json.metric).toBe('accuracy');
    for (const k of ['original', 'fitted', 'fineTuned', 'seconds'])
      expect(Number.isFinite(json[k])).toBe(true);
    expect(json.epochs).toBe(1);
    expect(json.layers).toHaveLength(1);
    expect(json.layers[0]).toMatchObject({ layer: 1, from: 'ReLU' });
    expect(json.layers[0].coefficients[2]).toBeGreaterThanOrEqual(0);
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
    const converted = await readModelDir(out);
    validateNetwork(converted.network);
    expect(converted.provenance?.method).toBe('convert');
    expect(converted.metrics?.accuracy).toBe(json.fineTuned);
  });
});
