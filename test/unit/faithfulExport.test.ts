import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LINEAR, SQUARE, type Activation } from '../../src/core/model/activation';
import { toDataOrder, toPackingOrder } from '../../src/core/model/clientOrder';
import { convGeometry, convLayer } from '../../src/core/model/conv';
import { expandFilterOrder, expandPatchOrder } from '../../src/core/model/convOrders';
import { createMatrix, nonZeroMask, type Mask } from '../../src/core/model/matrix';
import {
  firstLayerInputs,
  forwardDenseView,
  inputWidth,
  validateNetwork,
  type Network,
} from '../../src/core/model/network';
import { permuteRows, unpermuteRows, type Permutation } from '../../src/core/model/permutation';
import { createRng, shuffleInPlace, type Rng } from '../../src/core/model/random';
import type { HepexModel } from '../../src/core/io/model';
import { modelFromFiles } from '../../src/core/io/layersModelFile';
import { applyPermutation, nonZeroTilesPerLayer } from '../../src/core/prune/applyPermutation';
import {
  foldClientPermutation,
  unfoldClientPermutation,
} from '../../src/core/prune/clientPermutation';
import { maskNetwork } from '../../src/core/prune/common';
import { magnitudePrune } from '../../src/core/prune/magnitudePrune';
import { planTiles } from '../../src/core/tiling/tilePlan';
import { createTileShape, type TileShape } from '../../src/core/tiling/tileShape';
import { setupBackend } from '../../src/engines/tfjs/backend';
import { modelToFiles } from '../../src/engines/tfjs/modelFiles';
import { writeModelDir } from '../../src/engines/tfjs/modelDir';
import { expectInvalidModelFile } from '../fixtures/invalidModelFile';
import { maxAbsDiff, randomInputs, randomNetwork, tilePrune } from '../fixtures/networks';
import { randomMasks } from '../fixtures/pruning';

// An exported model must compute, in a plain tfjs that knows nothing of HE-PEx, what the
// studio computes on raw inputs; re-imported, it must be the very same HepexModel (packing-order
// weights, masks, permutation, tile counts).

const run = promisify(execFile);
const POLY: Activation = { type: 'poly', coefficients: [0.1, 0.5, 0.25] };
const SAMPLES = 256;

const order = (n: number, rng: Rng): Permutation =>
  shuffleInPlace(
    Uint32Array.from({ length: n }, (_, k) => k),
    rng,
  );

/** What the client and the HE server compute together: pack + permute, forward, unpermute. */
function rawFunction(model: HepexModel, x: Float32Array, n: number): Float32Array {
  const { network, permutation } = model;
  const packed = permuteRows(firstLayerInputs(network, x, n), permutation!.input, n);
  return unpermuteRows(forwardDenseView(network, packed, n), permutation!.output, n);
}

/** Prunes by `masks`, then applies `orders` (inputs, hidden..., outputs) as the permute step does. */
function permutedModel(
  name: string,
  network: Network,
  masks: Mask[],
  orders: Permutation[],
  tile: TileShape,
): HepexModel {
  const res = applyPermutation(maskNetwork(network, masks), orders, masks);
  return { name, network: res.network, masks: res.masks, permutation: res.permutation, tile };
}

function mlp(): HepexModel {
  const rng = createRng(11);
  const sizes = [20, 12, 8, 5];
  const net = randomNetwork(sizes, [POLY, SQUARE, LINEAR], 3);
  return permutedModel(
    'faithful mlp',
    net,
    randomMasks(sizes, 0.6, rng),
    sizes.map((n) => order(n, rng)),
    createTileShape(4, 8, { ringDegree: 8192 }),
  );
}

/** 8 x 8 x 1 images, 3 x 3 kernel, 8 filters (36 positions, 16-wide patches), 288 -> 16 -> 10. */
function cnn(): HepexModel {
  const rng = createRng(5);
  const g = convGeometry({ height: 8, width: 8, channels: 1, kernel: 3, stride: 1, filters: 8 });
  const normal = (n: number, std: number) =>
    Float32Array.from({ length: n }, () => rng.normal() * std);
  const dense = (rows: number, cols: number, activation: Activation) => ({
    kind: 'dense' as const,
    weights: createMatrix(rows, cols, normal(rows * cols, 1 / Math.sqrt(cols))),
    bias: normal(rows, 0.1),
    activation,
  });
  const net = validateNetwork({
    task: 'classification',
    layers: [
      convLayer(g, normal(72, 1 / 3), normal(8, 0.1), SQUARE),
      dense(16, 288, POLY),
      dense(10, 16, LINEAR),
    ],
  });
  const masks = magnitudePrune(net, { sparsity: 0.7, scope: 'local' });
  const orders = [
    expandPatchOrder(g, order(9, rng)),
    expandFilterOrder(g, order(8, rng)),
    order(16, rng),
    order(10, rng),
  ];
  return permutedModel('faithful cnn', net, masks, orders, createTileShape(4, 8, { first: 'B' }));
}

/** 16-8-4-8-16, whole 4 x 8 tiles dropped (masks stored one bit per tile). */
function autoencoder(): HepexModel {
  const rng = createRng(8);
  const sizes = [16, 8, 4, 8, 16];
  const tile = createTileShape(4, 8, { ringDegree: 8192 });
  const net = tilePrune(
    randomNetwork(sizes, [SQUARE, POLY, SQUARE, LINEAR], 4, 'reconstruction'),
    planTiles(sizes, tile),
    0.3,
    2,
  );
  const masks = net.layers.map((l) => nonZeroMask(l.weights));
  return permutedModel(
    'faithful ae',
    net,
    masks,
    sizes.map((n) => order(n, rng)),
    tile,
  );
}

const models = [mlp(), cnn(), autoencoder()];
let dir: string;

beforeAll(async () => {
  await setupBackend();
  dir = await mkdtemp(join(tmpdir(), 'hepex-faithful-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Exact equality of everything a HepexModel's HE plan depends on. */
function expectSameModel(back: HepexModel, model: HepexModel): void {
  expect(back.network.task).toBe(model.network.task);
  back.network.layers.forEach((l, i) => {
    const want = model.network.layers[i];
    expect(l.kind).toBe(want.kind);
    expect(l.activation).toEqual(want.activation);
    expect(l.weights.data).toEqual(want.weights.data);
    expect(l.bias).toEqual(want.bias);
    expect(back.masks![i].data).toEqual(model.masks![i].data);
  });
  expect(back.permutation!.input).toEqual(model.permutation!.input);
  expect(back.permutation!.output).toEqual(model.permutation!.output);
  expect(back.tile).toEqual(model.tile);
  expect(nonZeroTilesPerLayer(back.masks!, back.tile!)).toEqual(
    nonZeroTilesPerLayer(model.masks!, model.tile!),
  );
}

describe('faithful TF.js export', () => {
  it('plain tfjs in a fresh process computes the raw-input function (MLP, CNN, AE; <= 1e-5 on 256 inputs)', async () => {
    const jobs: string[] = [];
    const inputs = models.map((m, k) => randomInputs(SAMPLES, inputWidth(m.network), 100 + k));
    for (const [k, m] of models.entries()) {
      const sub = join(dir, `plain-${k}`);
      await writeModelDir(sub, m);
      await writeFile(join(sub, 'x.bin'), new Uint8Array(inputs[k].buffer));
      jobs.push(sub, join(sub, 'x.bin'), String(SAMPLES), join(sub, 'y.bin'));
    }
    await run(process.execPath, [
      'node_modules/tsx/dist/cli.mjs',
      'test/fixtures/plainTfjsPredict.ts',
      ...jobs,
    ]);
    for (const [k, m] of models.entries()) {
      const bytes = await readFile(join(dir, `plain-${k}`, 'y.bin'));
      const plain = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
      const want = rawFunction(m, inputs[k], SAMPLES);
      expect(plain.length).toBe(want.length);
      expect(maxAbsDiff(plain, want), m.name).toBeLessThanOrEqual(1e-5);
      // The permutations are not the identity: packing-order weights would compute something else.
      expect(
        maxAbsDiff(
          forwardDenseView(m.network, firstLayerInputs(m.network, inputs[k], SAMPLES), SAMPLES),
          want,
        ),
      ).toBeGreaterThan(1e-2);
    }
  });

  it('re-import gives the same network, masks, permutation, tile and tile counts', async () => {
    for (const m of models) {
      const { modelJson, weights } = await modelToFiles(m);
      const meta = JSON.parse(modelJson).userDefinedMetadata.hepex;
      expect([meta.schemaVersion, meta.weightOrder]).toEqual([2, 'data']);
      expectSameModel(await modelFromFiles(modelJson, weights), m);
    }
  });

  it('an old file (schema 1, packing-order weights) imports exactly as before', async () => {
    for (const m of models) {
      // The old writer: packing-order weights, permutation in the metadata only.
      const packing = await modelToFiles({ ...m, permutation: undefined });
      const json = JSON.parse((await modelToFiles(m)).modelJson);
      delete json.userDefinedMetadata.hepex.weightOrder;
      json.userDefinedMetadata.hepex.schemaVersion = 1;
      expectSameModel(await modelFromFiles(JSON.stringify(json), packing.weights), m);
      // Version 2 may say 'packing' too, and reads the same.
      json.userDefinedMetadata.hepex.schemaVersion = 2;
      json.userDefinedMetadata.hepex.weightOrder = 'packing';
      expectSameModel(await modelFromFiles(JSON.stringify(json), packing.weights), m);
    }
  });

  it('refuses a weight order that is missing, unknown or in a version-1 file', async () => {
    const good = await modelToFiles(models[0]);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- free-form edits of parsed JSON
    const edit = (f: (hepex: Record<string, any>) => void): string => {
      const j = JSON.parse(good.modelJson);
      f(j.userDefinedMetadata.hepex);
      return JSON.stringify(j);
    };
    await expectInvalidModelFile(
      edit((h) => delete h.weightOrder),
      good.weights,
      /weightOrder must be "data" or "packing"/,
    );
    await expectInvalidModelFile(
      edit((h) => (h.weightOrder = 'shuffled')),
      good.weights,
      /weightOrder/,
    );
    await expectInvalidModelFile(
      edit((h) => (h.schemaVersion = 1)),
      good.weights,
      /weightOrder needs schema version 2/,
    );
  });

  it('data order <-> packing order moves values only, as the pipeline folds them', () => {
    for (const m of models) {
      const unfolded = unfoldClientPermutation(m.network, m.masks!, m.permutation!);
      const data = toDataOrder(m.network, m.permutation!, m.masks);
      data.network.layers.forEach((l, i) => {
        expect(l.weights.data).toEqual(unfolded.network.layers[i].weights.data);
        expect(l.bias).toEqual(unfolded.network.layers[i].bias);
        expect(data.masks![i].data).toEqual(unfolded.masks[i].data);
      });
      const back = toPackingOrder(data.network, m.permutation!, data.masks);
      const folded = foldClientPermutation(data.network, data.masks!, m.permutation!);
      back.network.layers.forEach((l, i) => {
        expect(l.weights.data).toEqual(m.network.layers[i].weights.data);
        expect(l.weights.data).toEqual(folded.network.layers[i].weights.data);
        expect(back.masks![i].data).toEqual(m.masks![i].data);
      });
      // A conv-first network stays a tied convolution in data order.
      expect(() => validateNetwork(data.network)).not.toThrow();
    }
  });
});
