import { describe, expect, it } from 'vitest';
import { LINEAR, SQUARE, type Activation } from '../../src/core/model/activation';
import { HepexError } from '../../src/core/model/errors';
import { interpretChunk } from '../../src/core/he/heInterpreter';
import {
  chooseHeTile,
  expectedOps,
  heDepth,
  orderInputs,
  prepareHeModel,
  referenceOutputs,
} from '../../src/core/he/heModel';
import {
  packBias,
  packColumnMask,
  packInputBlock,
  packWeightTile,
  slotIndex,
  unpackOutputBlock,
} from '../../src/core/he/hePacking';
import { operandVectors, simulateInference, simulatorBackend } from '../../src/core/he/heSimulator';
import { costOfExecution, keySwitchScale, type OpTimingTable } from '../../src/core/he/costModel';
import { OP_KINDS, addOps, zeroOps } from '../../src/core/tiling/executionPlan';
import { forward } from '../../src/core/model/network';
import { planTiles, tileLayer } from '../../src/core/tiling/tilePlan';
import { createTileShape } from '../../src/core/tiling/tileShape';
import {
  maxAbsDiff,
  randomInputs,
  randomNetwork,
  randomPermutation,
  tilePrune,
} from '../fixtures/networks';

const POLY: Activation = { type: 'poly', coefficients: [0.1, 0.5, 0.25] };

describe('tile slot packing', () => {
  // N = 8192 tile 2 x 4 x 512: small enough to check slots by hand.
  const tile = createTileShape(2, 4, { ringDegree: 8192, first: 'A' });
  const W = { rows: 3, cols: 6, data: Float64Array.from({ length: 18 }, (_, k) => k + 1) }; // W[r, c] = 6r + c + 1

  it('lays out an A weight tile as a t1 x t2 block of W, zero past the edge', () => {
    const t = tileLayer(0, 6, 3, tile); // A: blockOut 2, blockIn 4; 2 x 2 tiles
    const v = packWeightTile(t, tile, W, 1 * t.inBlocks + 1); // rows 2.., cols 4..
    expect(v[slotIndex(tile, 0, 0, 0)]).toBe(6 * 2 + 4 + 1);
    expect(v[slotIndex(tile, 0, 1, 511)]).toBe(6 * 2 + 5 + 1);
    expect(v[slotIndex(tile, 0, 2, 7)]).toBe(0); // column 6 does not exist
    expect(v[slotIndex(tile, 1, 0, 3)]).toBe(0); // row 3 does not exist
  });

  it('lays out a B weight tile as a block of W^T', () => {
    const t = tileLayer(1, 6, 3, tile); // B: blockOut t2 = 4 rows of W, blockIn t1 = 2 columns
    const v = packWeightTile(t, tile, W, 0 * t.inBlocks + 2); // W rows 0..3, cols 4..5
    expect(v[slotIndex(tile, 0, 0, 9)]).toBe(W.data[0 * 6 + 4]);
    expect(v[slotIndex(tile, 1, 2, 9)]).toBe(W.data[2 * 6 + 5]);
    expect(v[slotIndex(tile, 1, 3, 9)]).toBe(0); // W row 3 does not exist
  });

  it('duplicates A inputs over dim 0 and B inputs over dim 1, samples along the batch', () => {
    const x = Float32Array.from({ length: 2 * 6 }, (_, k) => k); // 2 samples x 6
    const a = packInputBlock(tileLayer(0, 6, 3, tile), tile, x, 0, 2, 1); // units 4, 5
    expect(a[slotIndex(tile, 1, 1, 1)]).toBe(6 + 5);
    expect(a[slotIndex(tile, 0, 0, 0)]).toBe(4);
    expect(a[slotIndex(tile, 0, 2, 0)]).toBe(0);
    expect(a[slotIndex(tile, 0, 0, 2)]).toBe(0); // no third sample
    const b = packInputBlock(tileLayer(1, 6, 3, tile), tile, x, 1, 1, 2); // units 4, 5 of sample 1
    expect(b[slotIndex(tile, 1, 3, 0)]).toBe(6 + 5);
    expect(b[slotIndex(tile, 0, 1, 0)]).toBe(6 + 4);
  });

  it('puts A biases per row and B biases per column; unpack reads column 0 (A) / row 0 (B)', () => {
    const bias = Float64Array.from([10, 20, 30]);
    const a = packBias(tileLayer(0, 6, 3, tile), tile, bias, 1);
    expect(a[slotIndex(tile, 0, 3, 5)]).toBe(30);
    expect(a[slotIndex(tile, 1, 0, 5)]).toBe(0);
    const b = packBias(tileLayer(1, 6, 3, tile), tile, bias, 0);
    expect(b[slotIndex(tile, 1, 2, 5)]).toBe(30);
    const y = new Float32Array(2 * 3);
    unpackOutputBlock(tileLayer(0, 6, 3, tile), tile, a, 1, y, 0, 2);
    expect(Array.from(y)).toEqual([0, 0, 30, 0, 0, 30]);
    const y2 = new Float32Array(3);
    unpackOutputBlock(tileLayer(1, 6, 3, tile), tile, b, 0, y2, 0, 1);
    expect(Array.from(y2)).toEqual([10, 20, 30]);
  });

  it('masks tile column 0 only', () => {
    const m = packColumnMask(tile);
    expect(m.reduce((s, v) => s + v, 0)).toBe(2 * 512);
    expect(m[slotIndex(tile, 1, 0, 511)]).toBe(1);
    expect(m[slotIndex(tile, 1, 1, 0)]).toBe(0);
  });
});

describe('HE model preparation', () => {
  it('folds sqrt(c2) of a quadratic activation and linear activations into W and b', () => {
    const net = randomNetwork([8, 4, 2], [POLY, { type: 'poly', coefficients: [0.3, 2] }], 1);
    const model = prepareHeModel(net, createTileShape(2, 2, { ringDegree: 16384, first: 'A' }));
    const s = Math.sqrt(0.25);
    expect(model.layers[0].weights.data[5]).toBeCloseTo(net.layers[0].weights.data[5] * s, 12);
    expect(model.layers[0].quadratic).toEqual({ shift: 0.5 / s, offset: 0.1 });
    expect(model.layers[1].quadratic).toBeNull();
    expect(model.layers[1].weights.data[3]).toBeCloseTo(net.layers[1].weights.data[3] * 2, 12);
  });

  it('folds a dead block into the next bias and returns last-layer constants', () => {
    const tile = createTileShape(2, 2, { ringDegree: 16384, first: 'A' });
    const net = randomNetwork([4, 4, 4], [SQUARE, SQUARE], 2);
    const plan = planTiles([4, 4, 4], tile);
    // Layer 1 tile row 0 zero: its output block 0 (units 0, 1) is bias^2, a constant.
    const pruned = tilePrune(net, plan, 0, 3);
    // Layer 2 (B): output block 1 (units 2, 3) reads only input block 0 => constant too.
    const W2 = pruned.layers[1].weights.data;
    for (const r of [2, 3]) for (const c of [2, 3]) W2[r * 4 + c] = 0;
    const model = prepareHeModel(pruned, tile);
    expect(Array.from(model.exec.layers[0].computedOutputs)).toEqual([0, 1]);
    expect(Array.from(model.exec.layers[1].computedOutputs)).toEqual([1, 0]);
    const h0 = pruned.layers[0].bias[0] ** 2;
    const h1 = pruned.layers[0].bias[1] ** 2;
    const z2 = pruned.layers[1].bias[2] + W2[2 * 4] * h0 + W2[2 * 4 + 1] * h1;
    expect(model.constantOutputs[2]).toBeCloseTo(z2 * z2, 6);
    expect(Number.isNaN(model.constantOutputs[0])).toBe(true);
  });

  it('needs depth per layer: 1 + quadratic + mask (A, not last, t2 > 1)', () => {
    const net = randomNetwork([8, 4, 4, 2], [SQUARE, SQUARE, LINEAR], 4);
    expect(heDepth(net, { t1: 4, t2: 8, first: 'A' })).toBe(3 + 2 + 1);
    expect(heDepth(net, { t1: 4, t2: 1, first: 'A' })).toBe(2 + 2 + 1);
    expect(chooseHeTile(net, { t1: 4, t2: 8 }).ringDegree).toBe(16384);
    expect(chooseHeTile(randomNetwork([8, 2], [LINEAR], 1), { t1: 4, t2: 8 }).ringDegree).toBe(
      8192,
    );
  });

  it('rejects a network too deep for any parameter set, and a tile whose ring degree is too small', () => {
    const deep = randomNetwork(Array(12).fill(4), Array(11).fill(SQUARE), 5);
    expect(() => chooseHeTile(deep, { t1: 2, t2: 2 })).toThrow(HepexError);
    expect(() => chooseHeTile(deep, { t1: 2, t2: 2 })).toThrow(/multiplicative levels/);
    const net = randomNetwork([8, 4, 2], [SQUARE, LINEAR], 6);
    let error: unknown;
    try {
      prepareHeModel(net, createTileShape(2, 4, { ringDegree: 8192, first: 'A' }));
    } catch (e) {
      error = e;
    }
    expect((error as HepexError).code).toBe('he-parameters');
    expect((error as Error).message).toMatch(/ring degree 8192 carries at most 2/);
  });

  it('rejects inputs of the wrong size or non-finite', () => {
    const net = randomNetwork([8, 2], [LINEAR], 1);
    const model = prepareHeModel(net, createTileShape(2, 4, { ringDegree: 8192, first: 'A' }));
    expect(() => orderInputs(model, new Float32Array(7), 1)).toThrow(/8 inputs per sample/);
    expect(() =>
      orderInputs(
        model,
        Float32Array.from({ length: 8 }, (_, k) => (k === 3 ? NaN : 0)),
        1,
      ),
    ).toThrow(/finite/);
  });
});

describe('the plan interpreter on exact slot arithmetic', () => {
  const cases = [
    { name: 'MLP 20-12-5, 4x8 tiles', sizes: [20, 12, 5], acts: [POLY, LINEAR], t: [4, 8] },
    { name: 'MLP 20-12-5, 2x4 tiles', sizes: [20, 12, 5], acts: [SQUARE, LINEAR], t: [2, 4] },
    {
      name: 'autoencoder 16-8-4-8-16, 4x4 tiles',
      sizes: [16, 8, 4, 8, 16],
      acts: [SQUARE, LINEAR, POLY, LINEAR],
      t: [4, 4],
    },
    { name: 'autoencoder 16-6-16, 2x1 tiles', sizes: [16, 6, 16], acts: [POLY, LINEAR], t: [2, 1] },
    // t1 = 1: A's reduction comes out duplicated, so no mask and no duplication rotations.
    { name: 'MLP 20-12-5, 1x8 tiles', sizes: [20, 12, 5], acts: [SQUARE, LINEAR], t: [1, 8] },
    {
      name: 'autoencoder 16-8-4-8-16, 1x4 tiles',
      sizes: [16, 8, 4, 8, 16],
      acts: [SQUARE, LINEAR, POLY, LINEAR],
      t: [1, 4],
    },
  ] as const;
  for (const c of cases) {
    for (const pruned of [false, true]) {
      it(`${c.name}, ${pruned ? 'tile-pruned' : 'dense'}, permuted: outputs = forward pass, ops = cost model`, async () => {
        const task =
          c.sizes[0] === c.sizes[c.sizes.length - 1] ? 'reconstruction' : 'classification';
        let net = randomNetwork(c.sizes, c.acts, 10, task);
        const tile = chooseHeTile(net, { t1: c.t[0], t2: c.t[1] });
        if (pruned) net = tilePrune(net, planTiles(c.sizes, tile), 0.4, 11);
        const model = prepareHeModel(net, tile, { permutation: randomPermutation(c.sizes, 12) });
        const samples = tile.batch + 3; // two chunks, the second partial
        const x = randomInputs(samples, c.sizes[0], 13);
        const { outputs, ops } = await simulateInference(model, x, samples);
        const reference = referenceOutputs(model, net, x, samples);
        expect(maxAbsDiff(outputs, reference)).toBeLessThan(1e-5);
        expect(ops).toEqual(expectedOps(model, samples));
        if (pruned) expect(model.exec.weightCiphertexts).toBeLessThan(model.exec.plan.weightTiles);
      });
    }
  }

  it('does not encrypt input blocks no tile reads', async () => {
    const tile = createTileShape(2, 4, { ringDegree: 8192, first: 'A' });
    const net = randomNetwork([16, 4], [LINEAR], 20);
    const plan = planTiles([16, 4], tile);
    const W = net.layers[0].weights.data;
    for (let r = 0; r < 4; r++) for (let col = 4; col < 8; col++) W[r * 16 + col] = 0; // input block 1 unused
    const model = prepareHeModel(net, tile);
    expect(plan.layers[0].inBlocks).toBe(4);
    expect(model.exec.inputCiphertexts).toBe(3);
    const x = randomInputs(5, 16, 21);
    const { outputs, ops } = await simulateInference(model, x, 5);
    expect(ops.encrypt).toBe(3);
    expect(maxAbsDiff(outputs, forward(net, x, 5))).toBeLessThan(1e-5);
  });

  it("hands each finished layer its own operations and the injected clock's elapsed ms", async () => {
    const net = randomNetwork(
      [16, 8, 4, 8, 16],
      [SQUARE, LINEAR, POLY, LINEAR],
      40,
      'reconstruction',
    );
    const model = prepareHeModel(net, chooseHeTile(net, { t1: 4, t2: 4 }));
    const inputs = Array.from(model.exec.layers[0].liveInputs, (live) =>
      live ? new Float64Array(model.tile.ringDegree / 2).fill(0.5) : null,
    );
    let clock = 0;
    const seen: { layer: number; ms: number; ops: Record<string, number> }[] = [];
    const ops = zeroOps();
    const out = await interpretChunk(model, simulatorBackend, operandVectors(model), inputs, ops, {
      // Each reading advances 7 ms: a layer reads the clock at its start and at its end.
      now: () => (clock += 7),
      onLayer: (layer, ms, layerOps) => seen.push({ layer, ms, ops: layerOps }),
    });
    expect(out.length).toBe(model.exec.layers.at(-1)?.tiling.outBlocks);
    expect(seen.map((s) => s.layer)).toEqual([0, 1, 2, 3]);
    for (const s of seen) {
      expect(s.ms).toBe(7);
      expect(s.ops).toEqual(model.exec.layers[s.layer].ops);
    }
    expect(ops).toEqual(model.exec.layers.reduce((acc, l) => addOps(acc, l.ops), zeroOps()));
  });

  it('stops at a block boundary when aborted', async () => {
    const net = randomNetwork([16, 8, 4], [SQUARE, LINEAR], 30);
    const model = prepareHeModel(net, chooseHeTile(net, { t1: 2, t2: 2 }));
    const controller = new AbortController();
    const inputs = Array.from(
      { length: model.exec.layers[0].tiling.inBlocks },
      () => new Float64Array(model.tile.ringDegree / 2),
    );
    const run = interpretChunk(model, simulatorBackend, operandVectors(model), inputs, undefined, {
      signal: controller.signal,
      onBlock: (done) => {
        if (done === 2) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'cancelled' });
  });
});

describe('level-aware latency prediction', () => {
  // The cost model's prediction for the plan the engine runs.
  const predict = (
    model: { exec: Parameters<typeof costOfExecution>[0] },
    samples: number,
    table: OpTimingTable,
  ) => ({
    ms: costOfExecution(model.exec, { samples, timings: [table] }).total.predictedMs,
  });
  const unit = (op: string, dataPrimes: number) => ({
    ringDegree: 16384 as const,
    dataPrimes,
    ms: Object.fromEntries(OP_KINDS.map((k) => [k, k === op ? 1 : 0])) as Record<
      (typeof OP_KINDS)[number],
      number
    >,
    source: 'test',
  });

  it('charges each op at the primes it works on', () => {
    const net = randomNetwork([16, 8, 4], [SQUARE, LINEAR], 40);
    const model = prepareHeModel(net, chooseHeTile(net, { t1: 2, t2: 4 }));
    const P = model.params.depth + 1; // 5: layer 1 uses levels 0..3, layer 2 level 3..4
    const samples = model.tile.batch * 2;
    const ops = expectedOps(model, samples);
    // Products of layer 1 at the top level: exactly one unit each.
    const l0 = model.exec.layers[0];
    const l1 = model.exec.layers[1];
    const mults = predict(model, samples, unit('multiplyPlain', P));
    expect(mults.ms).toBeCloseTo(
      2 * (l0.activeTileCount + (l1.activeTileCount * (P - l1.levelIn)) / P),
      9,
    );
    // Encryption at the top level: one unit per input ciphertext.
    expect(predict(model, samples, unit('encrypt', P)).ms).toBeCloseTo(ops.encrypt, 9);
    // Rotations happen below the top level and key switching shrinks superlinearly.
    const rot = predict(model, samples, unit('rotate', P));
    expect(rot.ms).toBeLessThan(ops.rotate * keySwitchScale(P - 1, P) + 1e-9);
    expect(rot.ms).toBeGreaterThan(0);
    expect(keySwitchScale(4, 5)).toBeCloseTo(0.72, 2);
  });
});
