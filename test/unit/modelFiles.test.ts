import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SQUARE, type Activation } from '../../src/core/model/activation';
import { HepexError } from '../../src/core/model/errors';
import { createMask, type Mask } from '../../src/core/model/matrix';
import type { HepexModel } from '../../src/core/io/model';
import { forward, type Network } from '../../src/core/model/network';
import { toDataOrder } from '../../src/core/model/clientOrder';
import { createTileShape } from '../../src/core/tiling/tileShape';
import { setupBackend, tf } from '../../src/engines/tfjs/backend';
import { networkToLayersModel, predictFlat } from '../../src/engines/tfjs/convert';
import { modelFromFiles } from '../../src/core/io/layersModelFile';
import { modelFromLayersModel, modelToFiles } from '../../src/engines/tfjs/modelFiles';
import { readModelDir, writeModelDir } from '../../src/engines/tfjs/modelDir';
import { expectInvalidModelFile } from '../fixtures/invalidModelFile';
import { randomNetwork as seededNetwork } from '../fixtures/networks';

const POLY: Activation = { type: 'poly', coefficients: [0.1, 0.5, 0.25] };

/** A seeded network whose task follows its shape (outputs = inputs: an autoencoder). */
const randomNetwork = (sizes: number[], activations: Activation[], seed: number): Network =>
  seededNetwork(
    sizes,
    activations,
    seed,
    sizes[0] === sizes[sizes.length - 1] ? 'reconstruction' : 'classification',
  );

/** A mask pruning every third weight, with the weights zeroed to match. */
function pruneEveryThird(network: Network): { network: Network; masks: Mask[] } {
  const masks = network.layers.map((l) => {
    const m = createMask(l.weights.rows, l.weights.cols);
    for (let k = 0; k < m.data.length; k += 3) m.data[k] = 0;
    return m;
  });
  const layers = network.layers.map((l, i) => ({
    ...l,
    weights: { ...l.weights, data: l.weights.data.map((w, k) => (masks[i].data[k] ? w : 0)) },
  }));
  return { network: { ...network, layers }, masks };
}

const net = randomNetwork([20, 12, 8, 5], [POLY, SQUARE, { type: 'linear' }], 7);
const pruned = pruneEveryThird(net);
const model: HepexModel = {
  name: 'test mlp',
  network: pruned.network,
  masks: pruned.masks,
  tile: createTileShape(4, 8, { ringDegree: 8192 }),
  permutation: {
    input: Uint32Array.from({ length: 20 }, (_, i) => 19 - i),
    output: Uint32Array.from([4, 3, 2, 1, 0]),
  },
  metrics: { accuracy: 0.5 },
  provenance: { method: 'test', seed: 7, dense: false },
};
const inputs = Float32Array.from({ length: 6 * 20 }, (_, i) => ((i * 37) % 17) / 17);

let server: Server;
let dir: string;
let baseUrl: string;

beforeAll(async () => {
  await setupBackend();
  dir = await mkdtemp(join(tmpdir(), 'hepex-model-'));
  server = createServer((req, res) => {
    readFile(join(dir, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)))
      .then((body) => res.end(body))
      .catch(() => {
        res.statusCode = 404;
        res.end();
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(async () => {
  server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('model files', () => {
  it('round-trips a HepexModel exactly (weights, activations, masks, permutation, tile, metrics)', async () => {
    const { modelJson, weights } = await modelToFiles(model);
    const back = await modelFromFiles(modelJson, weights);
    expect(back.name).toBe(model.name);
    expect(back.network.task).toBe('classification');
    back.network.layers.forEach((l, i) => {
      expect(l.activation).toEqual(model.network.layers[i].activation);
      expect(Array.from(l.weights.data)).toEqual(Array.from(model.network.layers[i].weights.data));
      expect(Array.from(l.bias)).toEqual(Array.from(model.network.layers[i].bias));
      expect(Array.from(back.masks![i].data)).toEqual(Array.from(model.masks![i].data));
    });
    expect(Array.from(back.permutation!.input)).toEqual(Array.from(model.permutation!.input));
    expect(back.tile).toEqual(model.tile);
    expect(back.metrics).toEqual(model.metrics);
    expect(back.provenance).toEqual(model.provenance);
  });

  it('refuses to export what it could not read back', async () => {
    await expect(modelToFiles({ ...model, metrics: { accuracy: NaN } })).rejects.toThrow(
      /Cannot export this model: metrics.accuracy/,
    );
    await expect(modelToFiles({ ...model, name: 'x'.repeat(500) })).rejects.toThrow(/name/);
    await expect(modelToFiles({ ...model, network: net })).rejects.toThrow(/pruned by the mask/);
  });

  it('stores tile-aligned masks one bit per tile', async () => {
    const dense = randomNetwork([16, 8, 4], [SQUARE, { type: 'linear' }], 3);
    const tile = createTileShape(4, 8, { ringDegree: 8192, first: 'A' });
    // Layer 1 (orientation A): tiles are 4 rows x 8 cols of W; keep only tile (0, 1).
    const m0 = createMask(8, 16, 0);
    for (let r = 0; r < 4; r++) for (let c = 8; c < 16; c++) m0.data[r * 16 + c] = 1;
    const m1 = createMask(4, 8, 1);
    const layers = dense.layers.map((l, i) => ({
      ...l,
      weights: { ...l.weights, data: l.weights.data.map((w, k) => ([m0, m1][i].data[k] ? w : 0)) },
    }));
    const files = await modelToFiles({
      name: 'tiles',
      network: { ...dense, layers },
      masks: [m0, m1],
      tile,
    });
    const meta = JSON.parse(files.modelJson).userDefinedMetadata.hepex;
    expect(meta.masks[0].encoding).toBe('tiles');
    expect(meta.masks[0].ones).toBe(32);
    const back = await modelFromFiles(files.modelJson, files.weights);
    expect(Array.from(back.masks![0].data)).toEqual(Array.from(m0.data));
  });

  it('loads in plain tfjs over HTTP and computes the same outputs (max abs diff <= 1e-6)', async () => {
    await writeModelDir(dir, model);
    const plain = await tf.loadLayersModel(`${baseUrl}/model.json`);
    // The file holds data-order weights: the model's function on raw inputs.
    const raw = toDataOrder(model.network, model.permutation!).network;
    const ours = networkToLayersModel(raw);
    try {
      const a = predictFlat(plain, inputs, 6);
      const b = predictFlat(ours, inputs, 6);
      let maxDiff = 0;
      for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
      expect(maxDiff).toBeLessThanOrEqual(1e-6);
      // ...and both agree with the core's float64 reference forward pass.
      const ref = forward(raw, inputs, 6);
      for (let i = 0; i < a.length; i++)
        expect(Math.abs(a[i] - ref[i])).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(ref[i])));
      expect(plain.getUserDefinedMetadata()).toHaveProperty('hepex.schemaVersion', 2);
    } finally {
      plain.dispose();
      ours.dispose();
    }
    const live = networkToLayersModel(model.network);
    const fromLive = await modelFromLayersModel(live);
    live.dispose();
    expect(fromLive.network.layers.map((l) => l.activation)).toEqual(
      model.network.layers.map((l) => l.activation),
    );
    expect(Array.from(fromLive.network.layers[0].weights.data)).toEqual(
      Array.from(model.network.layers[0].weights.data),
    );
    const back = await readModelDir(dir);
    expect(Array.from(back.network.layers[1].weights.data)).toEqual(
      Array.from(model.network.layers[1].weights.data),
    );
  });

  it('reads a plain tfjs Sequential model (no hepex metadata) and drops a final softmax', async () => {
    const seq = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [6], units: 4, name: 'd1' }),
        tf.layers.dense({ units: 3, activation: 'softmax', name: 'd2' }),
      ],
    });
    let artifacts: tf.io.ModelArtifacts | undefined;
    await seq.save(
      tf.io.withSaveHandler(
        async (a) => (
          (artifacts = a),
          { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }
        ),
      ),
    );
    const json = JSON.stringify({
      modelTopology: artifacts!.modelTopology,
      format: 'layers-model',
      weightsManifest: [{ paths: ['w.bin'], weights: artifacts!.weightSpecs }],
    });
    const back = await modelFromFiles(json, new Uint8Array(artifacts!.weightData as ArrayBuffer));
    expect(back.network.layers.map((l) => l.weights.rows)).toEqual([4, 3]);
    expect(back.provenance).toEqual({ importedSoftmaxDropped: true });
    const k = (seq.layers[0].getWeights()[0].dataSync() as Float32Array)[1]; // kernel[0][1] = W[1][0]
    expect(back.network.layers[0].weights.data[1 * 6 + 0]).toBe(k);
    seq.dispose();
  });
});

describe('hostile model files', () => {
  const expectInvalid = expectInvalidModelFile;
  let good: { modelJson: string; weights: Uint8Array };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- free-form edits of parsed JSON
  const edit = (f: (j: Record<string, any>) => void): string => {
    const j = JSON.parse(good.modelJson);
    f(j);
    return JSON.stringify(j);
  };
  beforeAll(async () => {
    good = await modelToFiles(model);
  });

  it('rejects a byte length mismatch', () =>
    expectInvalid(good.modelJson, good.weights.subarray(0, good.weights.length - 4), /bytes/));
  it('rejects NaN weights', async () => {
    const w = good.weights.slice();
    new DataView(w.buffer).setFloat32(8, NaN, true);
    await expectInvalid(good.modelJson, w, /NaN/);
  });
  it('rejects a non-zero weight where the mask prunes', async () => {
    const w = good.weights.slice();
    // kernel[1][0]: data-order W[0][1], packing-order W[0][18] (input order reversed), pruned.
    new DataView(w.buffer).setFloat32(1 * 12 * 4, 0.5, true);
    await expectInvalid(good.modelJson, w, /pruned by the mask/);
  });
  it('rejects missing weights', () =>
    expectInvalid(
      edit(
        (j) =>
          (j.weightsManifest[0].weights = j.weightsManifest[0].weights.filter(
            (w: { name: string }) => w.name !== 'dense_2/bias',
          )),
      ),
      good.weights.subarray(0, good.weights.length - 32),
      /dense_2\/bias/,
    ));
  it('rejects wrong shapes', () =>
    expectInvalid(
      edit((j) => (j.weightsManifest[0].weights[0].shape = [12, 20])),
      good.weights,
      /shape|units|inputs/,
    ));
  it('rejects absurd sizes', () =>
    expectInvalid(
      edit((j) => (j.weightsManifest[0].weights[0].shape = [100000, 100000])),
      good.weights,
      /sizes must be/,
    ));
  it('rejects unknown layer types', () =>
    expectInvalid(
      edit((j) => (j.modelTopology.config.layers[1].class_name = 'Conv2D')),
      good.weights,
      /Conv2D/,
    ));
  it('rejects input preprocessing before the first Dense layer', () =>
    expectInvalid(
      edit((j) => {
        const layers = j.modelTopology.config.layers;
        layers.splice(1, 0, {
          name: 'pre',
          class_name: 'Rescaling',
          config: { scale: 1 / 255, offset: 0, name: 'pre' },
          inbound_nodes: [[['input', 0, 0, {}]]],
        });
        layers[2].inbound_nodes = [[['pre', 0, 0, {}]]];
      }),
      good.weights,
      /before the first Dense/,
    ));
  it('rejects ReLU activations', () =>
    expectInvalid(
      edit((j) => (j.modelTopology.config.layers[1].config.activation = 'relu')),
      good.weights,
      /relu/,
    ));
  it('rejects a newer schema version and unknown metadata fields', async () => {
    await expectInvalid(
      edit((j) => (j.userDefinedMetadata.hepex.schemaVersion = 3)),
      good.weights,
      /newer/,
    );
    await expectInvalid(
      edit((j) => (j.userDefinedMetadata.hepex.extra = 1)),
      good.weights,
      /unknown field/,
    );
  });
  it('rejects a mask of the wrong length and a bad permutation', async () => {
    await expectInvalid(
      edit((j) => (j.userDefinedMetadata.hepex.masks[0].bits = 'AAAA')),
      good.weights,
      /bitset/,
    );
    await expectInvalid(
      edit((j) => (j.userDefinedMetadata.hepex.permutation.input[0] = 5)),
      good.weights,
      /permutation/,
    );
  });
  it('rejects an activation that disagrees with the graph', () =>
    expectInvalid(
      edit((j) => (j.userDefinedMetadata.hepex.layers[1].activation = { type: 'linear' })),
      good.weights,
      /metadata says/,
    ));
  it('rejects non-JSON', () => expectInvalid('{"modelTopology": ', good.weights, /not valid JSON/));
  it('a failed read leaves an existing model directory untouched', async () => {
    const sub = join(dir, 'keep');
    await writeModelDir(sub, model);
    const before = await readFile(join(sub, 'model.json'), 'utf8');
    await writeFile(join(dir, 'bad.json'), '{}');
    await expect(readModelDir(join(dir, 'missing'))).rejects.toBeInstanceOf(HepexError);
    expect(await readFile(join(sub, 'model.json'), 'utf8')).toBe(before);
  });
});
