import { HepexError } from '../model/errors';
import type { Mask } from '../model/matrix';
import { checkLayerSizes } from '../model/network';
import type { Orientation, TileShape } from './tileShape';

export type { Orientation };

/**
 * How one weight matrix W (outputs x inputs) is cut into tiles. Blocks are counted in W's own
 * frame: tile (o, i) covers W rows [o*blockOut, (o+1)*blockOut) and columns
 * [i*blockIn, (i+1)*blockIn); its index is o * inBlocks + i. In orientation A a tile is
 * t1 x t2 of W; in B it is t2 x t1 of W (a t1 x t2 tile of W^T).
 */
export interface LayerTiling {
  readonly layerIndex: number;
  readonly orientation: Orientation;
  readonly outputs: number;
  readonly inputs: number;
  /** Rows of W in one tile (A: t1, B: t2). */
  readonly blockOut: number;
  /** Columns of W in one tile (A: t2, B: t1). */
  readonly blockIn: number;
  /** ceil(outputs / blockOut): output ciphertexts (per batch chunk) when dense. */
  readonly outBlocks: number;
  /** ceil(inputs / blockIn): input ciphertexts (per batch chunk) when dense. */
  readonly inBlocks: number;
  readonly tileCount: number;
}

export interface TilePlan {
  readonly tile: TileShape;
  readonly layers: readonly LayerTiling[];
  /** Total weight tiles of the dense network: the unpruned ciphertext count of the model. */
  readonly weightTiles: number;
}

/** Layers alternate A, B, A, ... or B, A, B, ... from the tile's first orientation. */
export const orientationOf = (layerIndex: number, first: Orientation): Orientation =>
  (layerIndex % 2 === 0) === (first === 'A') ? 'A' : 'B';

export function tileLayer(
  layerIndex: number,
  inputs: number,
  outputs: number,
  tile: TileShape,
): LayerTiling {
  const orientation = orientationOf(layerIndex, tile.first);
  const blockOut = orientation === 'A' ? tile.t1 : tile.t2;
  const blockIn = orientation === 'A' ? tile.t2 : tile.t1;
  const outBlocks = Math.ceil(outputs / blockOut);
  const inBlocks = Math.ceil(inputs / blockIn);
  return {
    layerIndex,
    orientation,
    outputs,
    inputs,
    blockOut,
    blockIn,
    outBlocks,
    inBlocks,
    tileCount: outBlocks * inBlocks,
  };
}

/** The tile plan of a network given by its layer sizes [in, h1, ..., out]. */
export function planTiles(sizes: readonly number[], tile: TileShape): TilePlan {
  checkLayerSizes(sizes);
  const layers = sizes.slice(1).map((outputs, l) => tileLayer(l, sizes[l], outputs, tile));
  return { tile, layers, weightTiles: layers.reduce((s, l) => s + l.tileCount, 0) };
}

/**
 * Non-zero entries of every tile of a mask (or of any 0/1 matrix), indexed o * inBlocks + i.
 * One pass over the mask with a precomputed column->block table: ~0.4M entries for
 * 784-256-64-256-784, fast enough for every animation frame. `out` is reused when given.
 */
export function countTileNonZeros(mask: Mask, tiling: LayerTiling, out?: Uint32Array): Uint32Array {
  if (mask.rows !== tiling.outputs || mask.cols !== tiling.inputs) {
    throw new HepexError(
      'invalid-mask',
      `Layer ${tiling.layerIndex + 1}: the mask is ${mask.rows} x ${mask.cols} but the weights are ${tiling.outputs} x ${tiling.inputs}.`,
    );
  }
  const counts =
    out && out.length === tiling.tileCount ? out.fill(0) : new Uint32Array(tiling.tileCount);
  const { cols, data } = mask;
  const colBlock = columnBlocks(cols, tiling.blockIn);
  for (let r = 0; r < mask.rows; r++) {
    const base = ((r / tiling.blockOut) | 0) * tiling.inBlocks;
    const rowStart = r * cols;
    for (let c = 0; c < cols; c++) counts[base + colBlock[c]] += data[rowStart + c];
  }
  return counts;
}

const columnBlockCache = new Map<number, Uint32Array>();
function columnBlocks(cols: number, blockIn: number): Uint32Array {
  const key = cols * 65536 + blockIn;
  let table = columnBlockCache.get(key);
  if (!table) {
    table = new Uint32Array(cols);
    for (let c = 0; c < cols; c++) table[c] = (c / blockIn) | 0;
    columnBlockCache.set(key, table);
  }
  return table;
}

/** 1 where a tile holds any non-zero entry. */
export function nonZeroTileFlags(counts: Uint32Array): Uint8Array {
  const flags = new Uint8Array(counts.length);
  for (let t = 0; t < counts.length; t++) flags[t] = counts[t] > 0 ? 1 : 0;
  return flags;
}

export function countNonZeroTiles(mask: Mask, tiling: LayerTiling): number {
  const counts = countTileNonZeros(mask, tiling);
  let n = 0;
  for (let t = 0; t < counts.length; t++) if (counts[t] > 0) n++;
  return n;
}

/** Entries of W a tile really covers (edge tiles of a ragged matrix cover fewer). */
export function tileArea(tiling: LayerTiling, tileIndex: number): number {
  const o = Math.floor(tileIndex / tiling.inBlocks);
  const i = tileIndex % tiling.inBlocks;
  const h = Math.min(tiling.blockOut, tiling.outputs - o * tiling.blockOut);
  const w = Math.min(tiling.blockIn, tiling.inputs - i * tiling.blockIn);
  return h * w;
}

/**
 * The grid as the HE runtime lays it out: A shows W (out blocks down, in blocks across),
 * B shows W^T (in blocks down, out blocks across). Returns the W-frame tile index at a cell.
 */
export function runtimeGrid(tiling: LayerTiling): {
  rows: number;
  cols: number;
  tileIndexAt: (gridRow: number, gridCol: number) => number;
} {
  return tiling.orientation === 'A'
    ? {
        rows: tiling.outBlocks,
        cols: tiling.inBlocks,
        tileIndexAt: (r, c) => r * tiling.inBlocks + c,
      }
    : {
        rows: tiling.inBlocks,
        cols: tiling.outBlocks,
        tileIndexAt: (r, c) => c * tiling.inBlocks + r,
      };
}
