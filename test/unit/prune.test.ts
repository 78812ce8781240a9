import { describe, expect, it } from 'vitest';
import { HepexError } from '../../src/core/model/errors';
import { countOnes } from '../../src/core/model/matrix';
import { magnitudePrune, maskSparsity } from '../../src/core/prune/magnitudePrune';
import { tilePrune, tileScores } from '../../src/core/prune/tilePrune';
import { createRng } from '../../src/core/model/random';
import { countTileNonZeros, planTiles, tileLayer } from '../../src/core/tiling/tilePlan';
import { createTileShape } from '../../src/core/tiling/tileShape';
import { randomMasks, randomNetwork, sameAsSnapshot, snapshot } from '../fixtures/pruning';

const tile48 = createTileShape(4, 8, { first: 'A' });

describe('magnitudePrune', () => {
  // These check the ranking itself; classFloor 0 turns off the class floor (a classifier's
  // output rows keep a share whatever the ranking: fashionFinetune.test.ts).
  it('local: every layer reaches the sparsity and keeps its largest weights', () => {
    const net = randomNetwork([30, 20, 10], 1);
    const masks = magnitudePrune(net, { sparsity: 0.75, scope: 'local', classFloor: 0 });
    masks.forEach((m, l) => {
      const w = net.layers[l].weights.data;
      expect(m.data.length - countOnes(m)).toBe(Math.round(0.75 * w.length));
      let minKept = Infinity;
      let maxPruned = 0;
      for (let k = 0; k < w.length; k++) {
        if (m.data[k]) minKept = Math.min(minKept, Math.abs(w[k]));
        else maxPruned = Math.max(maxPruned, Math.abs(w[k]));
      }
      expect(maxPruned).toBeLessThanOrEqual(minKept);
    });
  });

  it('global: one threshold over all layers, so layers end at different sparsities', () => {
    const net = randomNetwork([40, 20, 10], 2);
    // Scale layer 2 up: a global threshold must then prune it less than layer 1.
    const w2 = net.layers[1].weights.data;
    for (let k = 0; k < w2.length; k++) w2[k] *= 10;
    const masks = magnitudePrune(net, { sparsity: 0.5, scope: 'global', classFloor: 0 });
    expect(maskSparsity(net, masks)).toBeCloseTo(0.5, 2);
    const s1 = 1 - countOnes(masks[0]) / masks[0].data.length;
    const s2 = 1 - countOnes(masks[1]) / masks[1].data.length;
    expect(s2).toBeLessThan(s1);
    let minKept = Infinity;
    let maxPruned = 0;
    masks.forEach((m, l) => {
      const w = net.layers[l].weights.data;
      for (let k = 0; k < w.length; k++) {
        if (m.data[k]) minKept = Math.min(minKept, Math.abs(w[k]));
        else maxPruned = Math.max(maxPruned, Math.abs(w[k]));
      }
    });
    expect(maxPruned).toBeLessThanOrEqual(minKept);
  });

  it('keeps earlier pruning and ties are reproducible', () => {
    const net = randomNetwork([16, 8, 4], 3);
    const first = magnitudePrune(net, { sparsity: 0.5 });
    const second = magnitudePrune(net, { sparsity: 0.8, masks: first });
    const plain = magnitudePrune(net, { sparsity: 0.8, masks: first, classFloor: 0 });
    plain.forEach((m, l) => {
      for (let k = 0; k < m.data.length; k++) if (!first[l].data[k]) expect(m.data[k]).toBe(0);
    });
    second.forEach((m, l) => {
      for (let k = 0; k < m.data.length; k++) if (!first[l].data[k]) expect(m.data[k]).toBe(0);
    });
    const zeros = randomNetwork([8, 4], 4);
    zeros.layers[0].weights.data.fill(0);
    const a = magnitudePrune(zeros, { sparsity: 0.5, classFloor: 0 });
    // All ties: the lower indices are pruned first.
    expect(Array.from(a[0].data)).toEqual([...new Array(16).fill(0), ...new Array(16).fill(1)]);
  });

  it('sparsity 0 keeps everything', () => {
    const net = randomNetwork([10, 5], 5);
    expect(countOnes(magnitudePrune(net, { sparsity: 0 })[0])).toBe(50);
  });

  it('rejects bad sparsity, scope and masks without touching the network', () => {
    const net = randomNetwork([10, 6, 3], 6);
    const snap = snapshot(net);
    const masks = randomMasks([10, 6, 3], 0.5, createRng(1));
    const maskCopy = masks.map((m) => Uint8Array.from(m.data));
    for (const sparsity of [-0.1, 1, 1.5, Number.NaN]) {
      expect(() => magnitudePrune(net, { sparsity })).toThrow(HepexError);
    }
    expect(() => magnitudePrune(net, { sparsity: 0.5, scope: 'everywhere' as 'local' })).toThrow(
      HepexError,
    );
    const wrong = [masks[0], { rows: 3, cols: 5, data: new Uint8Array(15) }];
    expect(() => magnitudePrune(net, { sparsity: 0.5, masks: wrong })).toThrow(/mask is 3 x 5/);
    expect(sameAsSnapshot(net, snap)).toBe(true);
    masks.forEach((m, l) => expect(m.data).toEqual(maskCopy[l]));
  });
});

describe('tilePrune', () => {
  it('scores tiles in the runtime orientation (B layers tile W as t2 x t1)', () => {
    const tiling = tileLayer(1, 8, 16, tile48); // orientation B: blockOut 8, blockIn 4
    expect(tiling.orientation).toBe('B');
    const data = new Float32Array(16 * 8);
    data[0] = -3; // tile (0, 0)
    data[9 * 8 + 5] = 2; // row 9 -> out block 1, col 5 -> in block 1
    const w = { rows: 16, cols: 8, data };
    expect(Array.from(tileScores(w, tiling, 'max'))).toEqual([3, 0, 0, 2]);
    expect(Array.from(tileScores(w, tiling, 'l1'))).toEqual([3, 0, 0, 2]);
    expect(Array.from(tileScores(w, tiling, 'avg'))).toEqual([3 / 32, 0, 0, 2 / 32]);
    expect(Array.from(tileScores(w, tiling, 'min'))).toEqual([0, 0, 0, 0]);
  });

  it('avg divides an edge tile by the entries it covers', () => {
    const tiling = tileLayer(0, 10, 5, tile48); // A: 4 x 8 tiles; edge tiles 1 x 8, 4 x 2, 1 x 2
    const w = { rows: 5, cols: 10, data: new Float32Array(50).fill(1) };
    expect(Array.from(tileScores(w, tiling, 'avg'))).toEqual([1, 1, 1, 1]);
    expect(Array.from(tileScores(w, tiling, 'l1'))).toEqual([32, 8, 8, 2]);
  });

  for (const scope of ['local', 'global'] as const) {
    it(`${scope}: drops the lowest-scoring tiles to the tile sparsity`, () => {
      const sizes = [64, 32, 16];
      const net = randomNetwork(sizes, 7);
      const plan = planTiles(sizes, tile48);
      const { masks, keepTiles } = tilePrune(net, tile48, {
        tileSparsity: 0.5,
        scope,
        score: 'l1',
      });
      const dropped = keepTiles.map((k) => k.length - k.reduce((s, v) => s + v, 0));
      if (scope === 'local')
        plan.layers.forEach((t, l) => expect(dropped[l]).toBe(Math.round(0.5 * t.tileCount)));
      else expect(dropped[0] + dropped[1]).toBe(Math.round(0.5 * plan.weightTiles));
      // Masks zero exactly the dropped tiles, and every dropped tile scores <= every kept one.
      masks.forEach((m, l) => {
        const counts = countTileNonZeros(m, plan.layers[l]);
        counts.forEach((c, t) => expect(c > 0).toBe(keepTiles[l][t] === 1));
      });
      const scores = net.layers.map((layer, l) => tileScores(layer.weights, plan.layers[l], 'l1'));
      const groups = scope === 'local' ? [[0], [1]] : [[0, 1]];
      for (const g of groups) {
        let maxDropped = -Infinity;
        let minKept = Infinity;
        for (const l of g) {
          scores[l].forEach((s, t) => {
            if (keepTiles[l][t]) minKept = Math.min(minKept, s);
            else maxDropped = Math.max(maxDropped, s);
          });
        }
        expect(maxDropped).toBeLessThanOrEqual(minKept);
      }
    });
  }

  it('combines with earlier masks', () => {
    const sizes = [32, 16];
    const net = randomNetwork(sizes, 8);
    const prior = magnitudePrune(net, { sparsity: 0.6 });
    const { masks } = tilePrune(net, tile48, { tileSparsity: 0.25, masks: prior });
    for (let k = 0; k < masks[0].data.length; k++)
      if (!prior[0].data[k]) expect(masks[0].data[k]).toBe(0);
  });

  it('rejects bad tile sparsity, score, tile shapes and masks without touching the network', () => {
    const net = randomNetwork([16, 8], 9);
    const snap = snapshot(net);
    expect(() => tilePrune(net, tile48, { tileSparsity: 1 })).toThrow(HepexError);
    expect(() => tilePrune(net, tile48, { tileSparsity: -0.5 })).toThrow(HepexError);
    expect(() => tilePrune(net, tile48, { tileSparsity: 0.5, score: 'median' as 'min' })).toThrow(
      HepexError,
    );
    expect(() => tilePrune(net, { ...tile48, t1: 3 }, { tileSparsity: 0.5 })).toThrow(HepexError);
    expect(() => tilePrune(net, { ...tile48, batch: 7 }, { tileSparsity: 0.5 })).toThrow(
      HepexError,
    );
    expect(() =>
      tilePrune(net, tile48, {
        tileSparsity: 0.5,
        masks: [{ rows: 16, cols: 8, data: new Uint8Array(128) }],
      }),
    ).toThrow(HepexError);
    expect(sameAsSnapshot(net, snap)).toBe(true);
  });
});
