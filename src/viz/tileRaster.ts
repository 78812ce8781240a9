import type { LayerTiling } from '../core/tiling/tilePlan';
import { paletteTables, weightRampPosition, type Palette } from './palette';

/**
 * The tile-grid heatmap as pixels: one pixel per weight, in the orientation the HE runtime uses
 * (A: W itself, outputs down and inputs across; B: W^T, inputs down and outputs across). In that
 * runtime frame every tile is t1 rows x t2 columns of pixels, whichever the orientation.
 *
 * Pure: typed arrays in, an RGBA buffer out. The React hook puts it on a canvas.
 */
export type GridViewMode = 'weights' | 'mask' | 'density';
export const GRID_VIEW_MODES: readonly GridViewMode[] = ['weights', 'mask', 'density'];

export interface TileGridData {
  readonly tiling: LayerTiling;
  /** W, outputs x inputs row-major (W frame). Pruned weights may hold anything: the mask decides. */
  readonly weights: Float32Array;
  /** Keep-mask in W's frame: 1 kept, 0 pruned. */
  readonly mask: Uint8Array;
  /** Kept weights per W-frame tile (countTileNonZeros of the mask): 0 marks an all-zero tile. */
  readonly counts: Uint32Array;
  /**
   * A conv kernel block: inputs from this column on are patch padding (always 0, not weights),
   * painted in the padding colour whatever the mode.
   */
  readonly paddingFrom?: number;
}

export interface RuntimeFrame {
  /** Pixel rows and columns of the runtime frame. */
  readonly rows: number;
  readonly cols: number;
  /** Pixel height and width of one tile (t1 x t2 in every orientation). */
  readonly tileRows: number;
  readonly tileCols: number;
  /** Grid of tiles, rows x cols. */
  readonly gridRows: number;
  readonly gridCols: number;
}

export function runtimeFrame(tiling: LayerTiling): RuntimeFrame {
  const a = tiling.orientation === 'A';
  return {
    rows: a ? tiling.outputs : tiling.inputs,
    cols: a ? tiling.inputs : tiling.outputs,
    tileRows: a ? tiling.blockOut : tiling.blockIn,
    tileCols: a ? tiling.blockIn : tiling.blockOut,
    gridRows: a ? tiling.outBlocks : tiling.inBlocks,
    gridCols: a ? tiling.inBlocks : tiling.outBlocks,
  };
}

/** The W-frame element (output o, input i) shown at runtime-frame pixel (row, col). */
export function weightAt(tiling: LayerTiling, row: number, col: number): { o: number; i: number } {
  return tiling.orientation === 'A' ? { o: row, i: col } : { o: col, i: row };
}

/**
 * What column j of a conv kernel block (filter x patch) multiplies: patch element (dy, dx, c),
 * j = (dy * kernel + dx) * channels + c (tfjs's kernel order), or a padding column (j >= k*k*C).
 */
export function kernelElement(
  g: { readonly kernel: number; readonly channels: number },
  j: number,
): { dy: number; dx: number; c: number; padding: boolean } {
  const kc = g.kernel * g.channels;
  if (j >= g.kernel * kc) return { dy: -1, dx: -1, c: -1, padding: true };
  return {
    dy: Math.floor(j / kc),
    dx: Math.floor((j % kc) / g.channels),
    c: j % g.channels,
    padding: false,
  };
}

/** The W-frame tile index (o * inBlocks + i) that runtime-frame pixel (row, col) belongs to. */
export function tileIndexAtPixel(tiling: LayerTiling, row: number, col: number): number {
  const { o, i } = weightAt(tiling, row, col);
  return Math.floor(o / tiling.blockOut) * tiling.inBlocks + Math.floor(i / tiling.blockIn);
}

/** Runtime grid cell (tile row, tile column) of a W-frame tile index. */
export function gridCellOfTile(
  tiling: LayerTiling,
  tileIndex: number,
): { gridRow: number; gridCol: number } {
  const o = Math.floor(tileIndex / tiling.inBlocks);
  const i = tileIndex % tiling.inBlocks;
  return tiling.orientation === 'A' ? { gridRow: o, gridCol: i } : { gridRow: i, gridCol: o };
}

/** True on the hatch lines of an all-zero tile: every 4th anti-diagonal of the pixel grid. */
export const isHatchPixel = (row: number, col: number): boolean => (row + col) % 4 === 0;

/** Largest |w| over kept weights; 0 when everything is pruned. */
export function maxAbsKept(weights: Float32Array, mask: Uint8Array): number {
  let m = 0;
  for (let k = 0; k < weights.length; k++) {
    if (mask[k]) {
      const a = Math.abs(weights[k]);
      if (a > m) m = a;
    }
  }
  return m;
}

/**
 * Colour-table index (0..255) of a weight on the diverging scale, |w| <= maxAbs (beyond it
 * clamps): its eased ramp position, so the table's 256 colours are spread evenly over the ramp
 * and w = 0 gets the neutral colour (index 128, 0.4% of the way to the positive end).
 */
export function weightColourIndex(w: number, maxAbs: number): number {
  if (!(maxAbs > 0)) return 128;
  return Math.round(weightRampPosition(w / maxAbs) * 255);
}

/** Colour-table index (0..255) of a tile density in (0, 1]. */
export const densityColourIndex = (density: number): number =>
  Math.max(0, Math.min(255, Math.round(density * 255)));

/**
 * Paints the whole layer into `out` (RGBA, rows x cols x 4 bytes, reused when it has the right
 * length). About 1 ms per 100k weights: cheap enough for every slider frame.
 * `maxAbs` fixes the weight scale (pass the dense model's, so colours do not jump while pruning).
 */
export function rasterizeTileGrid(
  data: TileGridData,
  mode: GridViewMode,
  palette: Palette,
  maxAbs: number,
  out?: Uint8ClampedArray,
): { width: number; height: number; pixels: Uint8ClampedArray } {
  const { tiling, weights, mask, counts } = data;
  const frame = runtimeFrame(tiling);
  const width = frame.cols;
  const height = frame.rows;
  const pixels =
    out && out.length === width * height * 4 ? out : new Uint8ClampedArray(width * height * 4);
  const lut = paletteTables(palette);
  const a = tiling.orientation === 'A';
  const inputs = tiling.inputs;
  const tileArea = (t: number) => {
    const o = Math.floor(t / tiling.inBlocks);
    const i = t % tiling.inBlocks;
    return (
      Math.min(tiling.blockOut, tiling.outputs - o * tiling.blockOut) *
      Math.min(tiling.blockIn, inputs - i * tiling.blockIn)
    );
  };
  // Per-tile colour index in density mode, computed once per tile rather than per pixel.
  const densityIndex = mode === 'density' ? new Uint8Array(counts.length) : null;
  if (densityIndex)
    for (let t = 0; t < counts.length; t++)
      densityIndex[t] = densityColourIndex(counts[t] / tileArea(t));

  const [zr, zg, zb] = palette.zeroTile;
  const [hr, hg, hb] = palette.zeroTileHatch;
  const [pr, pg, pb] = palette.prunedInLiveTile;
  const [kr, kg, kb] = palette.kept;
  const [ar, ag, ab] = palette.padding;
  const padFrom = data.paddingFrom ?? inputs;
  let p = 0;
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < width; col++, p += 4) {
      const o = a ? row : col;
      const i = a ? col : row;
      const t = ((o / tiling.blockOut) | 0) * tiling.inBlocks + ((i / tiling.blockIn) | 0);
      const k = o * inputs + i;
      let r: number;
      let g: number;
      let b: number;
      if (i >= padFrom) {
        r = ar;
        g = ag;
        b = ab;
      } else if (counts[t] === 0) {
        const hatch = (row + col) % 4 === 0;
        r = hatch ? hr : zr;
        g = hatch ? hg : zg;
        b = hatch ? hb : zb;
      } else if (mode === 'density') {
        const c = densityIndex![t] * 3;
        r = lut.density[c];
        g = lut.density[c + 1];
        b = lut.density[c + 2];
      } else if (!mask[k]) {
        r = pr;
        g = pg;
        b = pb;
      } else if (mode === 'mask') {
        r = kr;
        g = kg;
        b = kb;
      } else {
        const c = weightColourIndex(weights[k], maxAbs) * 3;
        r = lut.weights[c];
        g = lut.weights[c + 1];
        b = lut.weights[c + 2];
      }
      pixels[p] = r;
      pixels[p + 1] = g;
      pixels[p + 2] = b;
      pixels[p + 3] = 255;
    }
  }
  return { width, height, pixels };
}
