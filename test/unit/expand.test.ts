import { describe, expect, it } from 'vitest';
import { HepexError } from '../../src/core/model/errors';
import { countTileNonZeros, planTiles, tileArea } from '../../src/core/tiling/tilePlan';
import { createTileShape } from '../../src/core/tiling/tileShape';
import { pruneAndExpand, selectTilesByDensity, tileDensities } from '../../src/core/prune/expand';
import { magnitudePrune } from '../../src/core/prune/magnitudePrune';
import { maskNetwork } from '../../src/core/prune/common';
import { randomNetwork, sameAsSnapshot, snapshot } from '../fixtures/pruning';

const tile48 = createTileShape(4, 8, { first: 'A' });

describe('tile densities and selection', () => {
  it('density is kept weights over the entries a tile covers (edge tiles too)', () => {
    // 5 x 10 in orientation A: tiles 4x8, 4x2, 1x8, 1x2.
    const plan = planTiles([10, 5], tile48);
    const data = new Uint8Array(50);
    data[0] = 1; // tile 0
    data[9] = 1; // row 0, col 9 -> tile 1 (4 x 2)
    data[4 * 10 + 9] = 1; // row 4, col 9 -> tile 3 (1 x 2)
    const d = tileDensities([{ rows: 5, cols: 10, data }], plan)[0];
    expect(Array.from(d)).toEqual([1 / 32, 1 / 8, 0, 1 / 2]);
    expect([0, 1, 2, 3].map((t) => tileArea(plan.layers[0], t))).toEqual([32, 8, 8, 2]);
  });

  it('global drops tiles at or below theta; local measures against the densest tile of the layer', () => {
    const net = randomNetwork([16, 8], 1);
    const data = new Uint8Array(128);
    // Orientation A, 4x8 tiles: 2 x 2 tiles. Densities 2/32, 3/32, 8/32, 16/32.
    const fillTile = (o: number, i: number, count: number) => {
      let left = count;
      for (let r = o * 4; r < o * 4 + 4; r++)
        for (let c = i * 8; c < i * 8 + 8 && left > 0; c++, left--) data[r * 16 + c] = 1;
    };
    fillTile(0, 0, 2);
    fillTile(0, 1, 3);
    fillTile(1, 0, 8);
    fillTile(1, 1, 16);
    const masks = [{ rows: 8, cols: 16, data }];
    expect(Array.from(selectTilesByDensity(net, masks, tile48, { theta: 0.0625 })[0])).toEqual([
      0, 1, 1, 1,
    ]);
    expect(Array.from(selectTilesByDensity(net, masks, tile48, { theta: 0.25 })[0])).toEqual([
      0, 0, 0, 1,
    ]);
    expect(Array.from(selectTilesByDensity(net, masks, tile48, { theta: 0 })[0])).toEqual([
      1, 1, 1, 1,
    ]);
    // local: bar = theta * 0.5 (densest tile), so theta 0.25 drops density <= 0.125 only.
    expect(
      Array.from(selectTilesByDensity(net, masks, tile48, { theta: 0.25, scope: 'local' })[0]),
    ).toEqual([0, 0, 1, 1]);
    // theta 1 global drops everything that is not full; an empty tile never survives.
    expect(Array.from(selectTilesByDensity(net, masks, tile48, { theta: 1 })[0])).toEqual([
      0, 0, 0, 0,
    ]);
  });
});

describe('pruneAndExpand', () => {
  it('kept tiles get every dense weight back, dropped tiles are exactly zero', () => {
    const sizes = [32, 24, 16];
    const dense = randomNetwork(sizes, 2);
    const masks = magnitudePrune(dense, { sparsity: 0.9 });
    const current = maskNetwork(dense, masks);
    // Pretend fine-tuning moved the kept weights.
    for (const l of current.layers)
      for (let k = 0; k < l.weights.data.length; k++) l.weights.data[k] *= 1.5;
    const denseSnap = snapshot(dense);
    const currentSnap = snapshot(current);
    const plan = planTiles(sizes, tile48);
    const res = pruneAndExpand(current, dense, masks, tile48, { theta: 0.0625 });
    res.network.layers.forEach((layer, l) => {
      const t = plan.layers[l];
      const counts = countTileNonZeros(masks[l], t);
      const { rows, cols, data } = layer.weights;
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const tileIndex = Math.floor(r / t.blockOut) * t.inBlocks + Math.floor(c / t.blockIn);
          const density = counts[tileIndex] / tileArea(t, tileIndex);
          const kept = density > 0.0625;
          expect(res.keepTiles[l][tileIndex]).toBe(kept ? 1 : 0);
          expect(res.masks[l].data[r * cols + c]).toBe(kept ? 1 : 0);
          expect(data[r * cols + c]).toBe(kept ? dense.layers[l].weights.data[r * cols + c] : 0);
        }
      }
      expect(Array.from(layer.bias)).toEqual(Array.from(dense.layers[l].bias));
    });
    expect(res.keptTiles.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(res.droppedTiles.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(sameAsSnapshot(dense, denseSnap)).toBe(true);
    expect(sameAsSnapshot(current, currentSnap)).toBe(true);
  });

  it("'pruned-only' keeps fine-tuned values where the mask kept them", () => {
    const sizes = [16, 8];
    const dense = randomNetwork(sizes, 3);
    const masks = magnitudePrune(dense, { sparsity: 0.5 });
    const current = maskNetwork(dense, masks);
    current.layers[0].weights.data.forEach((v, k, a) => (a[k] = v * 2));
    const res = pruneAndExpand(current, dense, masks, tile48, { theta: 0, restore: 'pruned-only' });
    const w = res.network.layers[0].weights.data;
    for (let k = 0; k < w.length; k++) {
      expect(w[k]).toBe(
        masks[0].data[k] ? current.layers[0].weights.data[k] : dense.layers[0].weights.data[k],
      );
    }
  });

  it('rejects theta outside [0, 1], bad masks and mismatched networks, inputs untouched', () => {
    const dense = randomNetwork([16, 8], 4);
    const masks = magnitudePrune(dense, { sparsity: 0.5 });
    const maskCopy = Uint8Array.from(masks[0].data);
    const snap = snapshot(dense);
    for (const theta of [-0.01, 1.01, Number.NaN]) {
      expect(() => pruneAndExpand(dense, dense, masks, tile48, { theta })).toThrow(HepexError);
    }
    expect(() =>
      pruneAndExpand(dense, dense, [{ rows: 16, cols: 8, data: new Uint8Array(128) }], tile48, {
        theta: 0.1,
      }),
    ).toThrow(/mask is 16 x 8/);
    expect(() =>
      pruneAndExpand(dense, randomNetwork([16, 4], 5), masks, tile48, { theta: 0.1 }),
    ).toThrow(HepexError);
    expect(() => pruneAndExpand(dense, dense, masks, { ...tile48, t1: 5 }, { theta: 0.1 })).toThrow(
      HepexError,
    );
    expect(() =>
      pruneAndExpand(dense, dense, masks, tile48, { theta: 0.1, scope: 'all' as 'local' }),
    ).toThrow(HepexError);
    expect(sameAsSnapshot(dense, snap)).toBe(true);
    expect(masks[0].data).toEqual(maskCopy);
  });
});

describe('tile budget (maxTiles)', () => {
  // 16 -> 8 -> 8 with 4x8 tiles from orientation A: layer 1 (8 x 16) has 2 x 2 tiles, layer 2
  // (8 x 8, orientation B: 8 rows x 4 columns per tile) has 1 x 2. Every weight of a tile has
  // the same value, so its L1 is 32 x value.
  const budgetNetwork = () => {
    const net = randomNetwork([16, 8, 8], 6);
    const w1 = net.layers[0].weights.data;
    for (let r = 0; r < 8; r++)
      for (let c = 0; c < 16; c++) w1[r * 16 + c] = 1 + Math.floor(r / 4) * 2 + Math.floor(c / 8);
    const w2 = net.layers[1].weights.data;
    // Small next to layer 1: a raw L1 ranking would never keep them, the per-layer one does.
    for (let r = 0; r < 8; r++) for (let c = 0; c < 8; c++) w2[r * 8 + c] = c < 4 ? 0.1 : 0.09;
    return net;
  };
  const keptOf = (res: { keepTiles: Uint8Array[] }) => res.keepTiles.map((k) => Array.from(k));

  it('keeps the tiles heaviest against their own layer, and theta still decides first', () => {
    const net = budgetNetwork();
    const masks = net.layers.map(({ weights: w }) => ({
      rows: w.rows,
      cols: w.cols,
      data: new Uint8Array(w.rows * w.cols).fill(1),
    }));
    // Layer 1 tile L1s 32, 64, 96, 128 (over 128: 0.25 ... 1); layer 2: 3.2, 2.88 (1, 0.9).
    expect(keptOf(pruneAndExpand(net, net, masks, tile48, { theta: 0, maxTiles: 3 }))).toEqual([
      [0, 0, 0, 1],
      [1, 1],
    ]);
    expect(keptOf(pruneAndExpand(net, net, masks, tile48, { theta: 0, maxTiles: 4 }))).toEqual([
      [0, 0, 1, 1],
      [1, 1],
    ]);
    // Without a budget, or one at least as large as the survivors, theta alone decides.
    expect(keptOf(pruneAndExpand(net, net, masks, tile48, { theta: 0, maxTiles: 6 }))).toEqual(
      keptOf(pruneAndExpand(net, net, masks, tile48, { theta: 0 })),
    );
    // Tile 3 a quarter full (density 0.25 <= theta 0.3: theta drops it), tile 2 half full: its
    // masked L1 is 48, under tile 1's 64, so tile 1 now leads layer 1.
    const m1 = masks[0].data;
    for (let r = 4; r < 8; r++) for (let c = 8; c < 16; c++) m1[r * 16 + c] = c < 10 ? 1 : 0;
    for (let r = 4; r < 8; r++) for (let c = 0; c < 8; c++) m1[r * 16 + c] = c < 4 ? 1 : 0;
    const res = pruneAndExpand(net, net, masks, tile48, { theta: 0.3, maxTiles: 3 });
    expect(keptOf(res)).toEqual([
      [0, 1, 0, 0],
      [1, 1],
    ]);
    expect(res.keptTiles).toEqual([1, 2]);
    expect(res.droppedTiles).toEqual([3, 0]);
    expect(keptOf(pruneAndExpand(net, net, masks, tile48, { theta: 0.3, maxTiles: 4 }))).toEqual([
      [0, 1, 1, 0],
      [1, 1],
    ]);
  });

  it('rejects a budget that is not a whole number or leaves a layer no tile, inputs untouched', () => {
    const net = budgetNetwork();
    const masks = magnitudePrune(net, { sparsity: 0.5 });
    const maskCopy = masks.map((m) => Uint8Array.from(m.data));
    const snap = snapshot(net);
    for (const maxTiles of [1, 0, -3, 2.5, Number.NaN]) {
      expect(() => pruneAndExpand(net, net, masks, tile48, { theta: 0, maxTiles })).toThrow(
        HepexError,
      );
    }
    expect(() => pruneAndExpand(net, net, masks, tile48, { theta: 0, maxTiles: 1 })).toThrow(
      /at least 2 \(one tile per layer\)/,
    );
    expect(sameAsSnapshot(net, snap)).toBe(true);
    masks.forEach((m, l) => expect(m.data).toEqual(maskCopy[l]));
  });
});
