import { describe, expect, it } from 'vitest';
import { countTileNonZeros, runtimeGrid, tileLayer } from '../../src/core/tiling/tilePlan';
import { createTileShape } from '../../src/core/tiling/tileShape';
import { lightPalette, paletteTables } from '../../src/viz/palette';
import { MIN_BORDER_TILE_PX, paintTileGrid } from '../../src/viz/tileGridPainter';
import {
  gridCellOfTile,
  isHatchPixel,
  rasterizeTileGrid,
  runtimeFrame,
  tileIndexAtPixel,
  weightAt,
  weightColourIndex,
  type TileGridData,
} from '../../src/viz/tileRaster';
import { fitViewport, panBy, pixelAt, zoomAt } from '../../src/viz/viewport';
import { canvasRecorder } from '../fixtures/canvasRecorder';

const tile = createTileShape(2, 4, { ringDegree: 8192, first: 'A' });

/** W is 6 x 10 (outputs x inputs): ragged in both directions for 2x4 tiles. */
function layer(index: number, prune: (o: number, i: number) => boolean) {
  const tiling = tileLayer(index, 10, 6, tile);
  const weights = new Float32Array(60);
  const mask = new Uint8Array(60);
  for (let o = 0; o < 6; o++) {
    for (let i = 0; i < 10; i++) {
      weights[o * 10 + i] = (o - 2.5) * 0.1 + i * 0.01;
      mask[o * 10 + i] = prune(o, i) ? 0 : 1;
    }
  }
  const counts = countTileNonZeros({ rows: 6, cols: 10, data: mask }, tiling);
  return { tiling, weights, mask, counts } satisfies TileGridData;
}

const rgbAt = (px: Uint8ClampedArray, width: number, row: number, col: number) => {
  const p = (row * width + col) * 4;
  return [px[p], px[p + 1], px[p + 2]];
};

describe('tile raster: the runtime frame', () => {
  for (const index of [0, 1]) {
    it(`maps pixels to W and tiles like core's runtimeGrid (orientation ${index ? 'B' : 'A'})`, () => {
      const { tiling } = layer(index, () => false);
      const frame = runtimeFrame(tiling);
      const grid = runtimeGrid(tiling);
      expect([frame.gridRows, frame.gridCols]).toEqual([grid.rows, grid.cols]);
      // Every runtime tile is t1 x t2 pixels, whatever the orientation.
      expect([frame.tileRows, frame.tileCols]).toEqual([tile.t1, tile.t2]);
      for (let row = 0; row < frame.rows; row++) {
        for (let col = 0; col < frame.cols; col++) {
          const t = tileIndexAtPixel(tiling, row, col);
          const gr = Math.floor(row / frame.tileRows);
          const gc = Math.floor(col / frame.tileCols);
          expect(t).toBe(grid.tileIndexAt(gr, gc));
          expect(gridCellOfTile(tiling, t)).toEqual({ gridRow: gr, gridCol: gc });
          const { o, i } = weightAt(tiling, row, col);
          expect(index === 0 ? [o, i] : [i, o]).toEqual([row, col]);
        }
      }
    });
  }
});

describe('tile raster: colours', () => {
  // Prune everything in W rows 0-1 / columns 0-3 (tile 0 in both orientations' W frame... A: t1=2 rows x t2=4 cols),
  // and one single weight elsewhere.
  const pruneA = (o: number, i: number) => (o < 2 && i < 4) || (o === 4 && i === 9);

  it('hatches all-zero tiles, inks pruned weights of live tiles, colours kept weights by value', () => {
    const data = layer(0, pruneA);
    const { width, height, pixels } = rasterizeTileGrid(data, 'weights', lightPalette, 0.5);
    expect([width, height]).toEqual([10, 6]);
    expect(data.counts[0]).toBe(0);
    for (let row = 0; row < 2; row++) {
      for (let col = 0; col < 4; col++) {
        const expected = isHatchPixel(row, col)
          ? lightPalette.zeroTileHatch
          : lightPalette.zeroTile;
        expect(rgbAt(pixels, width, row, col)).toEqual([...expected]);
      }
    }
    expect(rgbAt(pixels, width, 4, 9)).toEqual([...lightPalette.prunedInLiveTile]);
    const lut = paletteTables(lightPalette).weights;
    const w = data.weights[3 * 10 + 5];
    const c = weightColourIndex(w, 0.5) * 3;
    expect(rgbAt(pixels, width, 3, 5)).toEqual([lut[c], lut[c + 1], lut[c + 2]]);
    // The zero tile and a pruned weight in a live tile must look different (the point of the view).
    expect(lightPalette.prunedInLiveTile).not.toEqual(lightPalette.zeroTile);
  });

  it('orientation B draws W transposed: pixel (r, c) is W[c, r]', () => {
    const data = layer(1, () => false);
    const { width, height, pixels } = rasterizeTileGrid(data, 'weights', lightPalette, 0.5);
    expect([width, height]).toEqual([6, 10]);
    const lut = paletteTables(lightPalette).weights;
    for (const [r, c] of [
      [0, 0],
      [7, 2],
      [9, 5],
    ]) {
      const k = weightColourIndex(data.weights[c * 10 + r], 0.5) * 3;
      expect(rgbAt(pixels, width, r, c)).toEqual([lut[k], lut[k + 1], lut[k + 2]]);
    }
  });

  it('mask view paints kept weights in one colour; density view one colour per tile by kept / area', () => {
    const data = layer(0, (o, i) => o === 0 && i < 3);
    const mask = rasterizeTileGrid(data, 'mask', lightPalette, 0.5);
    expect(rgbAt(mask.pixels, 10, 5, 5)).toEqual([...lightPalette.kept]);
    expect(rgbAt(mask.pixels, 10, 0, 1)).toEqual([...lightPalette.prunedInLiveTile]);
    const density = rasterizeTileGrid(data, 'density', lightPalette, 0.5);
    const lut = paletteTables(lightPalette).density;
    // Tile 0 keeps 5 of 8; the ragged last tile of row 0 (columns 8-9) keeps 4 of 4.
    const d0 = Math.round((5 / 8) * 255) * 3;
    expect(rgbAt(density.pixels, 10, 1, 3)).toEqual([lut[d0], lut[d0 + 1], lut[d0 + 2]]);
    expect(rgbAt(density.pixels, 10, 0, 9)).toEqual([lut[765], lut[766], lut[767]]);
  });
});

describe('viewport', () => {
  const frame = { rows: 256, cols: 784 };
  it('fits and centres the frame, and maps canvas points back to pixels', () => {
    const v = fitViewport(frame, 800, 400);
    expect(v.scale).toBeCloseTo(800 / 784);
    expect(pixelAt(v, 0, 200, frame)?.col).toBe(0);
    expect(pixelAt(v, 799, 200, frame)?.col).toBe(783);
    expect(pixelAt(v, 400, 2, frame)).toBeNull(); // above the centred frame
  });
  it('zooms about the pointer and pans within bounds', () => {
    const v0 = fitViewport(frame, 800, 400);
    const before = pixelAt(v0, 300, 200, frame)!;
    const v1 = zoomAt(v0, 4, 300, 200, frame, 800, 400);
    expect(v1.scale).toBeCloseTo(v0.scale * 4);
    expect(pixelAt(v1, 300, 200, frame)).toEqual(before);
    const far = panBy(v1, 1e6, 1e6, frame, 800, 400);
    expect([far.x, far.y]).toEqual([0, 0]);
  });
});

describe('paintTileGrid', () => {
  const { tiling } = layer(0, () => false);
  const frame = runtimeFrame(tiling);
  const image = {} as CanvasImageSource;

  it('draws the raster nearest-neighbour, with tile borders only when tiles are big enough', () => {
    const small = canvasRecorder();
    paintTileGrid(small.ctx, {
      image,
      frame,
      viewport: { scale: 1, x: 0, y: 0 },
      width: 10,
      height: 6,
      dpr: 2,
      palette: lightPalette,
    });
    expect(small.ctx.imageSmoothingEnabled).toBe(false);
    expect(small.calls.find((c) => c.op === 'setTransform')?.args).toEqual([2, 0, 0, 2, 0, 0]);
    expect(small.calls.find((c) => c.op === 'drawImage')?.args).toEqual([
      image,
      0,
      0,
      10,
      6,
      -0,
      -0,
      10,
      6,
    ]);
    expect(small.calls.filter((c) => c.op === 'moveTo')).toHaveLength(0);

    const scale = MIN_BORDER_TILE_PX; // tiles are 2 x 4 pixels: 10 x 20 CSS px
    const big = canvasRecorder();
    paintTileGrid(big.ctx, {
      image,
      frame,
      viewport: { scale, x: 0, y: 0 },
      width: 10 * scale,
      height: 6 * scale,
      dpr: 1,
      palette: lightPalette,
    });
    // Interior boundaries: gridRows - 1 horizontal + gridCols - 1 vertical lines.
    expect(big.calls.filter((c) => c.op === 'moveTo')).toHaveLength(
      frame.gridRows - 1 + frame.gridCols - 1,
    );
  });

  it('outlines the hovered tile', () => {
    const r = canvasRecorder();
    paintTileGrid(r.ctx, {
      image,
      frame,
      viewport: { scale: 10, x: 0, y: 0 },
      width: 100,
      height: 60,
      dpr: 1,
      palette: lightPalette,
      hover: { gridRow: 1, gridCol: 2 },
    });
    const last = r.calls.filter((c) => c.op === 'strokeRect').at(-1)!;
    expect(last.lineWidth).toBe(2);
    // Column 2 of a ragged row: tile covers columns 8-9 only (2 px of 4), rows 2-3.
    expect(last.args).toEqual([2 * 4 * 10 - 1, 1 * 2 * 10 - 1, 2 * 10 + 2, 2 * 10 + 2]);
  });
});
