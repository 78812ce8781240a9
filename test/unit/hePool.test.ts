import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SQUARE, type Activation } from '../../src/core/model/activation';
import {
  chooseHeTile,
  expectedOps,
  prepareHeModel,
  referenceOutputs,
} from '../../src/core/he/heModel';
import { assignBlocks, poolCost, streamSchedule } from '../../src/core/he/poolPlan';
import { HepexError } from '../../src/core/model/errors';
import { OP_KINDS, addOps, zeroOps } from '../../src/core/tiling/executionPlan';
import { planTiles } from '../../src/core/tiling/tilePlan';
import { HePool } from '../../src/engines/seal/hePool';
import { HePoolMember } from '../../src/engines/seal/hePoolMember';
import { spawnNodePoolWorkers } from '../../src/engines/seal/hePoolNode';
import { loadSeal, type Seal } from '../../src/engines/seal/loadSeal';
import {
  maxAbsDiff,
  randomInputs,
  randomNetwork,
  randomPermutation,
  tilePrune,
} from '../fixtures/networks';

// Real node-seal in real worker threads. A small MLP (pruned, permuted) at N = 8192 keeps each
// run to seconds; the pool's split and transport are the same at any size.
const POLY: Activation = { type: 'poly', coefficients: [0.1, 0.5, 0.25] };
const sizes = [40, 24, 10];
let network = randomNetwork(sizes, [POLY, { type: 'linear' }], 7);
const tile = chooseHeTile(network, { t1: 4, t2: 8 });
network = tilePrune(network, planTiles(sizes, tile), 0.3, 8);
const permutation = randomPermutation(sizes, 9);
const samples = 6;
const inputs = randomInputs(samples, sizes[0], 10);

/**
 * The pool's ciphertexts (its first layer streamed in groups) against one member owning every
 * block, in this thread, with the pool's own public keys: equal bytes, equal operation counts.
 */
async function expectSameAsOneMember(pool: HePool): Promise<void> {
  const encrypted = pool.encrypt(inputs, samples);
  const pooled = await pool.run(encrypted);
  // One member owning every block, in this thread, with the pool's own (public) keys.
  const single = await HePoolMember.create(seal, {
    network,
    tile,
    mode: 'plain-model',
    permutation,
    shares: pool.model.exec.layers.map((layer) => ({
      split: 'outputs' as const,
      blocks: [...layer.computedOutputs.keys()].filter((o) => layer.computedOutputs[o]),
    })),
    keys: pool.serverKeys(),
    weights: 'resident',
  });
  try {
    let current = encrypted;
    const ops = zeroOps();
    for (let l = 0; l < pool.model.exec.layers.length; l++) {
      const r = await single.runLayer(l, current);
      addOps(ops, r.ops);
      current = r.outputs;
    }
    expect(pooled.outputs.chunks.length).toBe(current.chunks.length);
    pooled.outputs.chunks.forEach((blocks, k) =>
      blocks.forEach((bytes, o) => {
        const other = current.chunks[k][o];
        expect(bytes === null).toBe(other === null);
        if (bytes && other) expect(Buffer.from(bytes).equals(Buffer.from(other))).toBe(true);
      }),
    );
    for (const kind of OP_KINDS) expect(pooled.ops[kind]).toBe(ops[kind]);
    // Equal bytes decrypt to equal numbers: the pool's answer is the single worker's.
    expect(maxAbsDiff(pool.decrypt(pooled.outputs), pool.decrypt(current))).toBeLessThanOrEqual(
      1e-9,
    );
  } finally {
    single.delete();
  }
}

let seal: Seal;
beforeAll(async () => {
  ({ seal } = await loadSeal());
});

describe('HE worker pool', () => {
  let pool: HePool;
  beforeAll(async () => {
    // Two input blocks per streamed message: each worker's first-layer share arrives in groups.
    pool = await HePool.create(seal, network, tile, spawnNodePoolWorkers(2), {
      permutation,
      streamGroup: 2,
    });
  });
  afterAll(() => pool?.delete());

  it('splits every layer so the shares cover every computed block (and live input) once', () => {
    const a = assignBlocks(pool.model.exec, 2);
    pool.model.exec.layers.forEach((layer, l) => {
      const all = a.shares[l].flatMap((s) => s.blocks).sort((x, y) => x - y);
      const computed = [...layer.computedOutputs.keys()].filter((o) => layer.computedOutputs[o]);
      expect(all).toEqual(computed);
      const live = [...layer.liveInputs.keys()].filter((i) => layer.liveInputs[i]);
      const split = live.length > 2 * computed.length ? 'inputs' : 'outputs';
      expect(a.shares[l].every((s) => s.split === split)).toBe(true);
      if (split === 'inputs')
        expect(a.shares[l].flatMap((s) => s.inputs ?? []).sort((x, y) => x - y)).toEqual(live);
    });
    // This network's first layer (10 live inputs, 3 outputs) splits by inputs, the second by outputs.
    expect(a.shares.map((s) => s[0].split)).toEqual(['inputs', 'outputs']);
  });

  it('computes exactly the ciphertexts one worker computes, with the same operations in total', () =>
    expectSameAsOneMember(pool));

  it('infers the plaintext function and counts what the plan predicts', async () => {
    const { outputs, stats } = await pool.infer(inputs, samples);
    const reference = referenceOutputs(pool.model, network, inputs, samples);
    expect(maxAbsDiff(outputs, reference)).toBeLessThan(1e-3);
    const expected = expectedOps(pool.model, samples);
    const measured = addOps(addOps(zeroOps(), stats.ops), stats.clientOps);
    for (const kind of OP_KINDS) expect(measured[kind]).toBe(expected[kind]);
    expect(stats.workers).toBe(2);
    expect(stats.predicted.workers).toBe(2);
    expect(stats.predicted.predictedMs).toBeGreaterThan(0);
  });

  it('cancels across the pool and stays usable', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(pool.infer(inputs, samples, { signal: controller.signal })).rejects.toMatchObject({
      code: 'cancelled',
    });
    const again = await pool.infer(inputs, samples);
    expect(again.outputs.length).toBe(samples * sizes[sizes.length - 1]);
  });
});

describe('HE worker pool, one worker', () => {
  it('streams a first layer split by outputs group by group to the same ciphertexts', async () => {
    const pool = await HePool.create(seal, network, tile, spawnNodePoolWorkers(1), {
      permutation,
      streamGroup: 3,
    });
    try {
      expect(assignBlocks(pool.model.exec, 1).shares[0][0].split).toBe('outputs');
      await expectSameAsOneMember(pool);
    } finally {
      pool.delete();
    }
  });
});

describe('HE worker pool failures', () => {
  it('reports a worker that dies mid-run and fails cleanly instead of hanging', async () => {
    const workers = spawnNodePoolWorkers(2);
    const pool = await HePool.create(seal, network, tile, workers, { permutation });
    try {
      const run = pool.infer(inputs, samples);
      workers[1].terminate();
      const error = (await run.catch((e: unknown) => e)) as HepexError;
      expect(error).toBeInstanceOf(HepexError);
      expect(error.code).toBe('he-runtime');
      expect(error.message).toMatch(/HE worker 2 stopped/);
      // The pool says it is broken rather than running on one worker.
      await expect(pool.infer(inputs, samples)).rejects.toThrow(/HE worker 2 stopped/);
    } finally {
      pool.delete();
    }
  });

  it('refuses a plan that would exceed one worker memory budget, before starting any worker work', async () => {
    const workers = spawnNodePoolWorkers(2);
    try {
      await expect(
        HePool.create(seal, network, tile, workers, { permutation, memoryBudgetBytes: 1e6 }),
      ).rejects.toMatchObject({ code: 'out-of-memory' });
    } finally {
      workers.forEach((w) => w.terminate());
    }
  });

  it('predicts a pool wall time below one worker when the work splits', () => {
    const big = randomNetwork([256, 64, 10], [SQUARE, { type: 'linear' }], 3);
    const bigTile = chooseHeTile(big, { t1: 4, t2: 8 });
    const exec = prepareHeModel(big, bigTile).exec;
    // One worker on one core, nothing moved: the client's encryption cannot overlap the first
    // layer, so the pool is the single session. On two cores it overlaps.
    const oneCore = poolCost(exec, 1, 0, { cores: 1 });
    expect(oneCore.predictedMs).toBeCloseTo(oneCore.singleWorkerMs, 6);
    const twoCores = poolCost(exec, 1, 0, { cores: 2 });
    expect(twoCores.predictedMs).toBeLessThan(oneCore.predictedMs);
    expect(twoCores.predictedMs).toBeGreaterThanOrEqual(twoCores.encryptMs);
    // A one-worker pool still moves its inputs to the worker, and pays for it.
    expect(poolCost(exec, 1, 2).transferMs).toBeGreaterThan(0);
    // Free transfer: the split alone; then moving ciphertexts costs what it costs.
    const free = poolCost(exec, 2, 0);
    expect(free.speedup).toBeGreaterThan(1.3);
    const priced = poolCost(exec, 2, 2);
    expect(priced.transferMs).toBeGreaterThan(0);
    expect(priced.predictedMs).toBeCloseTo(free.predictedMs + priced.transferMs, 6);
    // Three threads on two cores: no faster than all their work over two cores.
    const shared = poolCost(exec, 2, 0, { cores: 2 });
    const work = assignBlocks(exec, 2).workMs.reduce((a, b) => a + b, 0);
    expect(shared.predictedMs).toBeGreaterThanOrEqual((shared.encryptMs + work) / 2);
    expect(shared.predictedMs).toBeGreaterThanOrEqual(free.predictedMs);
  });
});

describe('streamed first layer schedule', () => {
  it('sends every live input once to each worker that reads it, the workers in turn', () => {
    const big = randomNetwork([256, 64, 10], [SQUARE, { type: 'linear' }], 3);
    const exec = prepareHeModel(big, chooseHeTile(big, { t1: 4, t2: 8 })).exec;
    const live = [...exec.layers[0].liveInputs.keys()].filter((i) => exec.layers[0].liveInputs[i]);
    for (const workers of [1, 2, 3]) {
      const shares = assignBlocks(exec, workers).shares[0];
      const { sends, lastOf } = streamSchedule(exec, shares, 2, 3);
      for (let j = 0; j < workers; j++) {
        const mine = sends.filter((s) => s.to.includes(j));
        expect(lastOf[j]).toBe(sends.lastIndexOf(mine[mine.length - 1]));
        for (const chunk of [0, 1]) {
          const got = mine.filter((s) => s.chunk === chunk).flatMap((s) => s.blocks);
          const wanted = shares[j].split === 'inputs' ? shares[j].inputs : live;
          expect([...got].sort((a, b) => a - b)).toEqual(wanted);
        }
        expect(mine.every((s) => s.blocks.length <= 3)).toBe(true);
      }
      // Split by inputs the first messages go to different workers, so all start at once.
      if (shares[0].split === 'inputs') expect(sends[1].to).not.toEqual(sends[0].to);
    }
  });
});
