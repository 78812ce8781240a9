import { describe, expect, it } from 'vitest';
import { LINEAR, SQUARE } from '../../src/core/model/activation';
import { costOf, costOfExecution } from '../../src/core/he/costModel';
import { planExecution, zeroOps } from '../../src/core/tiling/executionPlan';
import { planTiles } from '../../src/core/tiling/tilePlan';
import { parseTileShape } from '../../src/core/tiling/tileShape';

// 8 -> 4 -> 2 with 2x4 tiles at N = 8192 (4096 slots, batch 512).
// Layer 1 (A): W 4x8 in 2x4 tiles: 2 out blocks x 2 in blocks. Layer 2 (B): W 2x4 in 4x2 tiles: 1 x 2.
const tile = parseTileShape('2x4:A', { ringDegree: 8192 });
const plan = planTiles([8, 4, 2], tile);
const dense = plan.layers.map((t) => new Uint8Array(t.tileCount).fill(1));

describe('execution plan, counted by hand', () => {
  it('counts a dense two-layer network in the plaintext-model mode', () => {
    const exec = planExecution(plan, dense, [SQUARE, LINEAR]);
    const [a, b] = exec.layers;
    expect(a.ops).toEqual({
      ...zeroOps(),
      multiplyPlain: 4, // one per tile
      // (4 products - 2 sums) + 2 rows x log2(t2 = 4) reduction adds + 2 x 2 duplication adds
      add: 2 + 4 + 4,
      rotate: 4 + 4, // 2 rows x log2(4) to reduce, the same to duplicate
      rescale: 2 + 2 + 2, // after the products, after the square, after the mask
      addPlain: 2, // bias
      multiply: 2, // square
      relinearize: 2,
      maskMultiply: 2,
    });
    expect(b.ops).toEqual({
      ...zeroOps(),
      multiplyPlain: 2,
      add: 1 + 1, // accumulate 2 products, then log2(t1 = 2) = 1 reduction add
      rotate: 1,
      rescale: 1,
      addPlain: 1,
    });
    expect([a.depth, b.depth, exec.depth]).toEqual([3, 1, 4]);
    expect([a.levelIn, b.levelIn]).toEqual([0, 3]);
    // A reduces with steps b * 2^k and duplicates with -b * 2^k; B reduces with t2 * b * 2^k.
    expect(exec.rotationSteps).toEqual([-1024, -512, 512, 1024, 2048]);
    expect([exec.inputCiphertexts, exec.outputCiphertexts, exec.weightCiphertexts]).toEqual([
      2, 1, 6,
    ]);
  });

  it('starts the chain with B when the tile says so: no mask, no duplication', () => {
    // Same 8 -> 4 -> 2 network, B first. Layer 1 (B): W 4x8 in 4x2 blocks: 1 out block x 4 in
    // blocks. Layer 2 (A): W 2x4 in 2x4 blocks: 1 x 1, the last layer, so no mask either.
    const tileB = parseTileShape('2x4:B', { ringDegree: 8192 });
    const planB = planTiles([8, 4, 2], tileB);
    const denseB = planB.layers.map((t) => new Uint8Array(t.tileCount).fill(1));
    const exec = planExecution(planB, denseB, [SQUARE, LINEAR]);
    const [b, a] = exec.layers;
    expect([b.tiling.orientation, a.tiling.orientation]).toEqual(['B', 'A']);
    expect(b.ops).toEqual({
      ...zeroOps(),
      multiplyPlain: 4,
      add: 3 + 1, // accumulate 4 products, then log2(t1 = 2) = 1 reduction add
      rotate: 1,
      rescale: 1 + 1, // after the products, after the square
      addPlain: 1,
      multiply: 1,
      relinearize: 1,
    });
    expect(a.ops).toEqual({
      ...zeroOps(),
      multiplyPlain: 1,
      add: 2,
      rotate: 2,
      rescale: 1,
      addPlain: 1,
    });
    expect([b.depth, a.depth, exec.depth]).toEqual([2, 1, 3]);
    // B reduces with t2 * b * 2^k = 2048; A with b * 2^k = 512, 1024; nothing duplicates.
    expect(exec.rotationSteps).toEqual([512, 1024, 2048]);
    expect([exec.inputCiphertexts, exec.outputCiphertexts, exec.weightCiphertexts]).toEqual([
      4, 1, 5,
    ]);
  });

  it('splits the ops of each layer by the level they run at', () => {
    const [a, b] = planExecution(plan, dense, [SQUARE, LINEAR]).layers;
    // A: products at +0; reduction, bias and square at +1; mask at +2; duplication at +3.
    expect(a.phases.map((p) => p.levelOffset)).toEqual([0, 1, 2, 3]);
    expect(a.phases[0].ops).toMatchObject({ multiplyPlain: 4, add: 2, rescale: 2, rotate: 0 });
    expect(a.phases[1].ops).toMatchObject({
      rotate: 4,
      addPlain: 2,
      multiply: 2,
      relinearize: 2,
      rescale: 2,
    });
    expect(a.phases[2].ops).toMatchObject({ maskMultiply: 2, rescale: 2, rotate: 0 });
    expect(a.phases[3].ops).toMatchObject({ rotate: 4, add: 4, rescale: 0 });
    expect(b.phases.map((p) => p.levelOffset)).toEqual([0, 1]);
    for (const layer of [a, b]) {
      const total = zeroOps();
      for (const p of layer.phases)
        for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += p.ops[k];
      expect(total).toEqual(layer.ops);
      expect(layer.phases.at(-1)?.levelOffset).toBe(layer.depth);
    }
  });

  it('multiplies and relinearizes once per sum in the encrypted-model mode', () => {
    const exec = planExecution(plan, dense, [SQUARE, LINEAR], 'encrypted-model');
    expect(exec.layers[0].ops).toMatchObject({
      multiplyPlain: 0,
      multiply: 4 + 2,
      relinearize: 2 + 2,
      add: 2 + 2 + 4 + 4,
      addPlain: 0,
    });
    expect(exec.layers[1].ops).toMatchObject({ multiply: 2, relinearize: 1, add: 1 + 1 + 1 });
  });

  it('counts a quadratic polynomial activation with its constant terms', () => {
    const exec = planExecution(plan, dense, [
      { type: 'poly', coefficients: [0.25, 0.5, 0.125] },
      LINEAR,
    ]);
    // bias + (x' + c1/sqrt(c2)) + c0 per output block
    expect(exec.layers[0].ops.addPlain).toBe(2 * 3);
    expect(exec.layers[0].depth).toBe(3);
  });

  it('skips zero tiles, dead blocks and inputs nobody reads', () => {
    // Layer 1: only tile (out 0, in 1) survives, so in block 0 is never encrypted and out block 1
    // is the constant act(bias). Layer 2 reads out block 1 through tile (0, 1): that tile is inactive.
    const flags = [Uint8Array.from([0, 1, 0, 0]), Uint8Array.from([1, 1])];
    const exec = planExecution(plan, flags, [SQUARE, LINEAR]);
    const [a, b] = exec.layers;
    expect(Array.from(a.liveInputs)).toEqual([0, 1]);
    expect(Array.from(a.computedOutputs)).toEqual([1, 0]);
    expect(Array.from(a.constantOutputs)).toEqual([0, 1]);
    expect(Array.from(b.activeTiles)).toEqual([1, 0]);
    expect(b.nonZeroTileCount).toBe(2);
    expect(exec.weightCiphertexts).toBe(2);
    expect(a.ops.rotate).toBe(2 + 2);
    expect(b.ops.add).toBe(0 + 1);
    expect(exec.inputCiphertexts).toBe(1);
  });

  it('drops work whose output nobody needs', () => {
    // Layer 2 reads only in block 0, so layer 1's out block 1 is not computed.
    const flags = [Uint8Array.from([1, 1, 1, 1]), Uint8Array.from([1, 0])];
    const exec = planExecution(plan, flags, [SQUARE, LINEAR]);
    expect(Array.from(exec.layers[0].computedOutputs)).toEqual([1, 0]);
    expect(Array.from(exec.layers[0].constantOutputs)).toEqual([0, 0]);
    expect(exec.layers[0].activeTileCount).toBe(2);
  });

  it('needs no mask when t1 is 1: the reduction wraps the whole ciphertext', () => {
    const t = parseTileShape('1x4:A', { ringDegree: 8192 });
    const p = planTiles([8, 4, 2], t);
    const exec = planExecution(
      p,
      p.layers.map((l) => new Uint8Array(l.tileCount).fill(1)),
      [SQUARE, LINEAR],
    );
    expect(exec.layers[0].masked).toBe(false);
    expect(exec.layers[0].duplicationSteps).toEqual([]);
    expect(exec.layers[0].ops).toMatchObject({ maskMultiply: 0, rotate: 4 * 2 }); // 4 out blocks x log2(4)
    expect(exec.depth).toBe(2 + 1);
  });

  it('needs no mask when t2 is 1 and no rotations when the summed dim is 1', () => {
    const t = parseTileShape('4x1:A', { ringDegree: 8192 });
    const p = planTiles([8, 4, 2], t);
    const exec = planExecution(
      p,
      p.layers.map((l) => new Uint8Array(l.tileCount).fill(1)),
      [SQUARE, LINEAR],
    );
    expect(exec.layers[0].masked).toBe(false);
    expect(exec.layers[0].ops.rotate).toBe(0);
    expect(exec.layers[1].ops.rotate).toBe(2 * 2); // 2 output blocks (t2 = 1) x log2(t1 = 4)
  });
});

describe('cost model', () => {
  it('scales per-chunk work by the number of batch chunks', () => {
    const one = costOf(plan, [SQUARE, LINEAR], dense, { samples: 512 });
    const three = costOf(plan, [SQUARE, LINEAR], dense, { samples: 1100 });
    expect(three.chunks).toBe(3);
    expect(three.total.ops.multiplyPlain).toBe(3 * one.total.ops.multiplyPlain);
    expect(three.total.weightCiphertexts).toBe(one.total.weightCiphertexts);
    expect(three.total.predictedMs).toBeGreaterThan(2.9 * one.total.predictedMs);
  });

  it('adds up layers into the total and prices pruning below dense', () => {
    const c = costOf(plan, [SQUARE, LINEAR], dense);
    expect(c.total.multiplications).toBe(c.layers.reduce((s, l) => s + l.multiplications, 0));
    expect(c.total.rotations).toBe(c.layers.reduce((s, l) => s + l.rotations, 0));
    expect(c.heParameters.coeffModulusBits).toEqual([60, 40, 40, 40, 40, 60]);
    expect(c.heParameters.fits).toBe(false); // 280 bits > 218 at N = 8192
    const pruned = costOf(
      plan,
      [SQUARE, LINEAR],
      [Uint8Array.from([0, 1, 0, 0]), Uint8Array.from([1, 1])],
    );
    expect(pruned.total.predictedMs).toBeLessThan(c.total.predictedMs);
    expect(pruned.total.modelBytes).toBeLessThan(c.total.modelBytes);
  });

  it('prices an encrypted model as twice the plaintext model bytes', () => {
    const exec = planExecution(plan, dense, [SQUARE, LINEAR], 'encrypted-model');
    const plain = costOf(plan, [SQUARE, LINEAR], dense);
    expect(costOfExecution(exec).total.modelBytes).toBe(2 * plain.total.modelBytes);
  });

  it('rejects a sample count below one', () => {
    expect(() => costOf(plan, [SQUARE, LINEAR], dense, { samples: 0 })).toThrow(/at least 1/);
  });
});
