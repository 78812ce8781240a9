import { describe, expect, it } from 'vitest';
import { HepexError } from '../../src/core/model/errors';
import { forward } from '../../src/core/model/network';
import {
  identityPermutation,
  isPermutation,
  permuteRows,
  unpermuteRows,
} from '../../src/core/model/permutation';
import { findPermutation } from '../../src/core/prune/permute';
import {
  applyPermutation,
  composePermutations,
  nonZeroTilesPerLayer,
} from '../../src/core/prune/applyPermutation';
import { magnitudePrune } from '../../src/core/prune/magnitudePrune';
import { selectTilesByDensity } from '../../src/core/prune/expand';
import { createRng, shuffleInPlace } from '../../src/core/model/random';
import { countTileNonZeros, planTiles } from '../../src/core/tiling/tilePlan';
import { createTileShape } from '../../src/core/tiling/tileShape';
import { randomMasks, randomNetwork, sameAsSnapshot, snapshot } from '../fixtures/pruning';

const tile48 = createTileShape(4, 8, { first: 'A' });

describe('findPermutation', () => {
  it('recovers a hidden block structure exactly (reaches the lower bound)', () => {
    // Block-diagonal masks in 4 x 8 tiles, then shuffled neurons: the best order puts them back.
    const sizes = [32, 16, 32];
    const rng = createRng(11);
    const masks = sizes.slice(1).map((rows, l) => {
      const cols = sizes[l];
      const data = new Uint8Array(rows * cols);
      const t = l === 0 ? { bo: 4, bi: 8 } : { bo: 8, bi: 4 };
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < cols; c++) {
          const ob = Math.floor(r / t.bo);
          const ib = Math.floor(c / t.bi);
          if (ob % 4 === ib % 4) data[r * cols + c] = 1;
        }
      return { rows, cols, data };
    });
    const orders = sizes.map((n) => shuffleInPlace(identityPermutation(n), rng));
    const net = randomNetwork(sizes, 1);
    const shuffled = applyPermutation(net, orders, masks).masks!;
    const res = findPermutation(shuffled, tile48, { seed: 3 });
    expect(res.nonZeroTilesBefore).toBeGreaterThan(res.lowerBound);
    expect(res.nonZeroTilesAfter).toBe(res.lowerBound);
    res.layers.forEach((f) => expect(f.nonZeroTilesAfter).toBe(f.lowerBound));
    res.orders.forEach((o, s) => expect(isPermutation(o, sizes[s])).toBe(true));
    // The figures describe what applying the orders really gives.
    const applied = applyPermutation(net, res.orders, shuffled).masks!;
    expect(nonZeroTilesPerLayer(applied, tile48)).toEqual(
      res.layers.map((f) => f.nonZeroTilesAfter),
    );
  });

  it('randomized: never increases the non-zero tile count, with or without k-means, and reports true figures', () => {
    const rng = createRng(21);
    for (let trial = 0; trial < 6; trial++) {
      const sizes = [8 + rng.int(40), 4 + rng.int(40), 4 + rng.int(30), 2 + rng.int(20)];
      const masks = randomMasks(sizes, 0.05 + 0.3 * rng.next(), rng);
      const maskCopy = masks.map((m) => Uint8Array.from(m.data));
      const tile = trial % 2 ? tile48 : createTileShape(8, 2, { first: 'A' });
      for (const opts of [{}, { maxKMeansIterations: 0 }, { refine: false }]) {
        const res = findPermutation(masks, tile, { seed: trial, ...opts });
        expect(res.nonZeroTilesAfter).toBeLessThanOrEqual(res.nonZeroTilesBefore);
        expect(res.nonZeroTilesAfter).toBeGreaterThanOrEqual(res.lowerBound);
        expect(res.nonZeroTilesBefore).toBe(
          nonZeroTilesPerLayer(masks, tile).reduce((a, b) => a + b, 0),
        );
        const net = randomNetwork(sizes, trial);
        const applied = applyPermutation(net, res.orders, masks).masks!;
        expect(nonZeroTilesPerLayer(applied, tile)).toEqual(
          res.layers.map((f) => f.nonZeroTilesAfter),
        );
      }
      masks.forEach((m, l) => expect(m.data).toEqual(maskCopy[l]));
    }
  });

  it('the swap refinement beats k-means alone on a structured problem', () => {
    const sizes = [64, 48, 32];
    const net = randomNetwork(sizes, 5);
    const masks = magnitudePrune(net, { sparsity: 0.9 });
    const km = findPermutation(masks, tile48, { refine: false });
    const full = findPermutation(masks, tile48);
    expect(full.nonZeroTilesAfter).toBeLessThan(km.nonZeroTilesAfter);
    expect(full.nonZeroTilesAfter).toBeLessThan(0.9 * full.nonZeroTilesBefore);
  });

  it('with theta, minimises the tiles that would survive almost-zero tile pruning at theta', () => {
    const sizes = [64, 48, 32];
    const net = randomNetwork(sizes, 12);
    const masks = magnitudePrune(net, { sparsity: 0.85 });
    const survivors = (orders: Uint32Array[]) => {
      const applied = applyPermutation(net, orders, masks);
      return selectTilesByDensity(applied.network, applied.masks!, tile48, {
        theta: 0.0625,
      }).reduce((s, k) => s + k.reduce((a, b) => a + b, 0), 0);
    };
    const identity = sizes.map((n) => identityPermutation(n));
    const plain = findPermutation(masks, tile48, { seed: 1 });
    const aware = findPermutation(masks, tile48, { seed: 1, theta: 0.0625 });
    expect(survivors(aware.orders)).toBeLessThan(survivors(identity));
    expect(survivors(aware.orders)).toBeLessThanOrEqual(survivors(plain.orders));
    expect(() => findPermutation(masks, tile48, { theta: 1.5 })).toThrow(HepexError);
  });

  it("'concentration' never lowers the sum of squared tile counts and beats no permutation after theta pruning", () => {
    const sizes = [64, 48, 32];
    const net = randomNetwork(sizes, 13);
    const masks = magnitudePrune(net, { sparsity: 0.9, scope: 'global' });
    const plan = planTiles(sizes, tile48);
    const squares = (m: typeof masks) =>
      m.reduce(
        (sum, mask, l) =>
          sum + countTileNonZeros(mask, plan.layers[l]).reduce((a, c) => a + c * c, 0),
        0,
      );
    const res = findPermutation(masks, tile48, { objective: 'concentration', seed: 2 });
    const applied = applyPermutation(net, res.orders, masks).masks!;
    expect(squares(applied)).toBeGreaterThan(squares(masks));
    expect(() => findPermutation(masks, tile48, { objective: 'fewest' as 'tiles' })).toThrow(
      HepexError,
    );
  });

  it('keeps inputs and outputs in place when asked', () => {
    const sizes = [24, 16, 12];
    const masks = randomMasks(sizes, 0.2, createRng(4));
    const res = findPermutation(masks, tile48, { permuteInput: false, permuteOutput: false });
    expect(Array.from(res.permutation.input)).toEqual(Array.from(identityPermutation(24)));
    expect(Array.from(res.permutation.output)).toEqual(Array.from(identityPermutation(12)));
  });

  it('cancels through an AbortSignal', () => {
    const masks = randomMasks([32, 32, 32], 0.2, createRng(5));
    const controller = new AbortController();
    controller.abort();
    expect(() => findPermutation(masks, tile48, { signal: controller.signal })).toThrow(
      /cancelled/,
    );
  });

  it('rejects masks that do not chain, bad tiles and bad options', () => {
    const masks = randomMasks([16, 8, 4], 0.5, createRng(6));
    expect(() =>
      findPermutation([masks[0], { rows: 4, cols: 9, data: new Uint8Array(36) }], tile48),
    ).toThrow(HepexError);
    expect(() => findPermutation([{ rows: 4, cols: 4, data: new Uint8Array(3) }], tile48)).toThrow(
      HepexError,
    );
    expect(() => findPermutation(masks, { ...tile48, t2: 6 })).toThrow(HepexError);
    expect(() => findPermutation(masks, tile48, { maxOuterIterations: -1 })).toThrow(HepexError);
  });
});

describe('applyPermutation', () => {
  it('randomized: the permuted network with client-side permutations computes the same outputs', () => {
    const rng = createRng(31);
    for (let trial = 0; trial < 5; trial++) {
      const sizes = [5 + rng.int(30), 3 + rng.int(30), 3 + rng.int(30), 2 + rng.int(12)];
      const net = randomNetwork(
        sizes,
        100 + trial,
        trial % 2 ? 'reconstruction' : 'classification',
      );
      const masks = magnitudePrune(net, { sparsity: 0.7 });
      const snap = snapshot(net);
      // Even trials: the orders the search finds; odd trials: random orders of every set.
      const orders =
        trial % 2 === 0
          ? findPermutation(masks, tile48, { seed: trial }).orders
          : sizes.map((n) => shuffleInPlace(identityPermutation(n), rng));
      const permuted = applyPermutation(net, orders, masks);
      const batch = 7;
      const x = new Float32Array(batch * sizes[0]);
      for (let k = 0; k < x.length; k++) x[k] = rng.normal();
      const expected = forward(net, x, batch);
      const got = unpermuteRows(
        forward(permuted.network, permuteRows(x, permuted.permutation.input, batch), batch),
        permuted.permutation.output,
        batch,
      );
      for (let k = 0; k < expected.length; k++)
        expect(Math.abs(got[k] - expected[k])).toBeLessThan(
          1e-5 * Math.max(1, Math.abs(expected[k])),
        );
      // Hidden orders really moved something, so the check above is not vacuous.
      expect(orders.slice(1, -1).some((o) => o.some((v, k) => v !== k))).toBe(true);
      expect(sameAsSnapshot(net, snap)).toBe(true);
    }
  });

  it('composes: permuting twice equals permuting once by the composition', () => {
    const rng = createRng(41);
    const a = shuffleInPlace(identityPermutation(9), rng);
    const b = shuffleInPlace(identityPermutation(9), rng);
    const x = Float32Array.from({ length: 9 }, (_, k) => k * 1.5);
    expect(Array.from(permuteRows(permuteRows(x, a, 1), b, 1))).toEqual(
      Array.from(permuteRows(x, composePermutations(a, b), 1)),
    );
  });

  it('rejects orders that are not permutations', () => {
    const net = randomNetwork([4, 3, 2], 1);
    const bad = [identityPermutation(4), Uint32Array.from([0, 0, 1]), identityPermutation(2)];
    expect(() => applyPermutation(net, bad)).toThrow(HepexError);
    expect(() => applyPermutation(net, [identityPermutation(4)])).toThrow(HepexError);
  });
});
