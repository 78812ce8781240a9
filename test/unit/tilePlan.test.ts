import { describe, expect, it } from 'vitest';
import { HepexError } from '../../src/core/model/errors';
import { createMask } from '../../src/core/model/matrix';
import { createRng } from '../../src/core/model/random';
import {
  countNonZeroTiles,
  countTileNonZeros,
  planTiles,
  runtimeGrid,
  tileArea,
} from '../../src/core/tiling/tilePlan';
import {
  allTileShapes,
  createTileShape,
  parseTileShape,
  tileShapeLabel,
} from '../../src/core/tiling/tileShape';

describe('tile shapes', () => {
  it('fills the slots of the ring degree', () => {
    expect(parseTileShape('4x8')).toEqual({
      t1: 4,
      t2: 8,
      batch: 512,
      ringDegree: 32768,
      first: 'B',
    });
    expect(parseTileShape('4x8', { ringDegree: 8192 })).toEqual({
      t1: 4,
      t2: 8,
      batch: 128,
      ringDegree: 8192,
      first: 'B',
    });
    expect(parseTileShape('16x16x32:a')).toEqual({
      t1: 16,
      t2: 16,
      batch: 32,
      ringDegree: 16384,
      first: 'A',
    });
    expect(tileShapeLabel(parseTileShape('4x8:B'))).toBe('4x8');
    expect(tileShapeLabel(parseTileShape('4x8:A'))).toBe('4x8:A');
    expect(createTileShape(2, 4, { batch: 512 }).ringDegree).toBe(8192);
  });

  it.each([
    ['3x8', /powers of two/],
    ['4x0', /powers of two/],
    ['-4x8', /not a tile shape/],
    ['4 by 8', /not a tile shape/],
    ['4x8:C', /not a tile shape/],
    ['4x8x100', /batch is 100/],
    ['4x8x64', /needs 2048 slots/],
  ])('rejects %s with a plain message', (text, message) => {
    expect(() => parseTileShape(text)).toThrow(HepexError);
    expect(() => parseTileShape(text)).toThrow(message);
  });

  it('rejects an unsupported ring degree and a tile larger than the slots', () => {
    expect(() => parseTileShape('4x8', { ringDegree: 1000 })).toThrow(
      /Ring degree 1000 is not supported/,
    );
    expect(() => parseTileShape('128x128', { ringDegree: 8192 })).toThrow(
      /must fill exactly 4096 slots/,
    );
  });

  it('enumerates every power-of-two shape that fits', () => {
    const shapes = allTileShapes(8192, 4096);
    expect(shapes.every((s) => s.t1 * s.t2 * s.batch === 4096)).toBe(true);
    // t1 = 2^i, t2 = 2^j with i + j <= 12: 13 * 14 / 2 = 91 shapes.
    expect(shapes).toHaveLength(91);
  });
});

describe('tile plan', () => {
  it('matches the golden counts of docs/method.md', () => {
    expect(planTiles([784, 256, 64, 256, 784], parseTileShape('4x8')).weightTiles).toBe(13_568);
    expect(planTiles([784, 128, 32, 128, 784], parseTileShape('4x4')).weightTiles).toBe(13_056);
  });

  it('starts with B by default, then alternates', () => {
    const plan = planTiles([784, 128, 10], parseTileShape('4x8'));
    expect(plan.layers.map((l) => l.orientation)).toEqual(['B', 'A']);
    // B: W^T as [784/4, 128/8] = 196 x 16; A: [10/4, 128/8] = 3 x 16.
    expect(plan.layers.map((l) => l.tileCount)).toEqual([3136, 48]);
    expect(plan.layers[0].outBlocks).toBe(plan.layers[1].inBlocks);
  });

  it('alternates orientations and swaps the block sides', () => {
    const plan = planTiles([784, 256, 64, 10], parseTileShape('4x8:A'));
    expect(plan.layers.map((l) => l.orientation)).toEqual(['A', 'B', 'A']);
    expect(plan.layers.map((l) => [l.blockOut, l.blockIn])).toEqual([
      [4, 8],
      [8, 4],
      [4, 8],
    ]);
    // A's output block (t1 rows) is B's input block (t1), B's output block (t2) is A's input block.
    expect(plan.layers[0].outBlocks).toBe(plan.layers[1].inBlocks);
    expect(plan.layers[1].outBlocks).toBe(plan.layers[2].inBlocks);
    expect(plan.layers[2]).toMatchObject({ outBlocks: 3, inBlocks: 8, tileCount: 24 });
  });

  it('rejects zero, negative and fractional layer sizes', () => {
    expect(() => planTiles([784, 0, 10], parseTileShape('4x8'))).toThrow(/Layer size 2 is 0/);
    expect(() => planTiles([784, -3], parseTileShape('4x8'))).toThrow(HepexError);
    expect(() => planTiles([784.5, 3], parseTileShape('4x8'))).toThrow(/whole number/);
  });

  it('counts non-zeros per tile like a brute-force scan, on random shapes and masks', () => {
    const rng = createRng(7);
    for (let trial = 0; trial < 40; trial++) {
      const inputs = 1 + rng.int(70);
      const outputs = 1 + rng.int(70);
      const tile = createTileShape(2 ** rng.int(4), 2 ** rng.int(4), { ringDegree: 8192 });
      const plan = planTiles([inputs, outputs, 1 + rng.int(20)], tile);
      for (const tiling of plan.layers) {
        const mask = createMask(tiling.outputs, tiling.inputs, 0);
        const density = rng.next();
        for (let k = 0; k < mask.data.length; k++)
          mask.data[k] = rng.next() < density * 0.3 ? 1 : 0;
        const counts = countTileNonZeros(mask, tiling);
        let nonZeroTiles = 0;
        for (let o = 0; o < tiling.outBlocks; o++) {
          for (let i = 0; i < tiling.inBlocks; i++) {
            let n = 0;
            for (
              let r = o * tiling.blockOut;
              r < Math.min((o + 1) * tiling.blockOut, tiling.outputs);
              r++
            ) {
              for (
                let c = i * tiling.blockIn;
                c < Math.min((i + 1) * tiling.blockIn, tiling.inputs);
                c++
              ) {
                n += mask.data[r * tiling.inputs + c];
              }
            }
            expect(counts[o * tiling.inBlocks + i]).toBe(n);
            if (n > 0) nonZeroTiles++;
          }
        }
        expect(countNonZeroTiles(mask, tiling)).toBe(nonZeroTiles);
        const area = Array.from({ length: tiling.tileCount }, (_, t) => tileArea(tiling, t)).reduce(
          (s, a) => s + a,
          0,
        );
        expect(area).toBe(tiling.inputs * tiling.outputs);
      }
    }
  });

  it('rejects a mask of the wrong shape', () => {
    const plan = planTiles([8, 4], parseTileShape('2x4', { ringDegree: 8192 }));
    expect(() => countTileNonZeros(createMask(4, 7), plan.layers[0])).toThrow(
      /mask is 4 x 7 but the weights are 4 x 8/,
    );
  });

  it('lays B out transposed in the runtime grid', () => {
    const plan = planTiles([8, 4, 2], parseTileShape('2x4:A', { ringDegree: 8192 }));
    const a = runtimeGrid(plan.layers[0]);
    const b = runtimeGrid(plan.layers[1]);
    expect([a.rows, a.cols]).toEqual([2, 2]);
    expect([b.rows, b.cols]).toEqual([2, 1]); // W^T: 4 inputs / t1=2 down, 2 outputs / t2=4 across
    expect(b.tileIndexAt(1, 0)).toBe(1); // in block 1, out block 0 -> W-frame index 0 * 2 + 1
  });
});
