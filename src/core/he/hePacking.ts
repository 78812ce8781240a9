import { HepexError } from '../model/errors';
import type { LayerTiling } from '../tiling/tilePlan';
import type { TileShape } from '../tiling/tileShape';

/**
 * Slot layouts of the tile tensors the HE runtime computes on (docs/method.md section 2).
 * A ciphertext holds one [t1, t2, b] tile, row-major: slot (r, c, s) is (r * t2 + c) * b + s,
 * r < t1, c < t2, s < b (s is the sample within a batch chunk).
 *
 * Orientation A, W (out x in) tile (o, i) covers W rows o*t1.., columns i*t2..:
 *   weight slot (r, c, s) = W[o t1 + r, i t2 + c]      (duplicated over s)
 *   input  slot (r, c, s) = x_s[i t2 + c]               (duplicated over r: [* /t1, in/t2, n/b])
 *   output slot (r, 0, s) = y_s[o t1 + r] after rotate-and-add by b 2^k (c > 0: garbage);
 *          after mask + duplication (c any)             ([out/t1, * /t2, n/b])
 * Orientation B, tile (o, i) covers W rows o*t2.., columns i*t1.. (a tile of W^T):
 *   weight slot (r, c, s) = W[o t2 + c, i t1 + r]
 *   input  slot (r, c, s) = x_s[i t1 + r]               (duplicated over c: A's duplicated output)
 *   output slot (r, c, s) = y_s[o t2 + c] for every r after rotate-and-add by t2 b 2^k
 *                                                       ([* /t1, out/t2, n/b]: A's input layout)
 * Rows and columns past the matrix edge are zero in weights and inputs.
 */

/** Samples per chunk in a slot vector: tile.batch. */
export const slotIndex = (tile: TileShape, r: number, c: number, s: number): number =>
  (r * tile.t2 + c) * tile.batch + s;

/** Rows of a float matrix in any precision: row-major data, rows x cols. */
export interface FloatMatrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array | Float64Array;
}

const slotsOf = (tile: TileShape) => tile.t1 * tile.t2 * tile.batch;

/** The slot vector of weight tile `tileIndex` (W frame, o * inBlocks + i) of a layer. */
export function packWeightTile(
  tiling: LayerTiling,
  tile: TileShape,
  weights: FloatMatrix,
  tileIndex: number,
): Float64Array {
  checkWeights(tiling, weights);
  const { t1, t2, batch: b } = tile;
  const out = new Float64Array(slotsOf(tile));
  const o = Math.floor(tileIndex / tiling.inBlocks);
  const i = tileIndex % tiling.inBlocks;
  const row0 = o * tiling.blockOut;
  const col0 = i * tiling.blockIn;
  const { cols, data } = weights;
  for (let r = 0; r < t1; r++) {
    for (let c = 0; c < t2; c++) {
      // A: W row = block row + r, column = block column + c. B: transposed.
      const wr = tiling.orientation === 'A' ? row0 + r : row0 + c;
      const wc = tiling.orientation === 'A' ? col0 + c : col0 + r;
      if (wr >= tiling.outputs || wc >= tiling.inputs) continue;
      const v = data[wr * cols + wc];
      if (v === 0) continue;
      out.fill(v, (r * t2 + c) * b, (r * t2 + c + 1) * b);
    }
  }
  return out;
}

/**
 * The input ciphertext `block` of a layer for samples [start, start + count) of x
 * (samples x inputs, row-major, already in the network's input order).
 */
export function packInputBlock(
  tiling: LayerTiling,
  tile: TileShape,
  x: Float32Array | Float64Array,
  start: number,
  count: number,
  block: number,
): Float64Array {
  const { t1, t2, batch: b } = tile;
  const width = tiling.inputs;
  if (count > b)
    throw new HepexError('invalid-argument', `A chunk holds at most ${b} samples, got ${count}.`);
  const out = new Float64Array(slotsOf(tile));
  const base = block * tiling.blockIn;
  for (let r = 0; r < t1; r++) {
    for (let c = 0; c < t2; c++) {
      const unit = base + (tiling.orientation === 'A' ? c : r);
      if (unit >= width) continue;
      const slot0 = (r * t2 + c) * b;
      for (let s = 0; s < count; s++) out[slot0 + s] = x[(start + s) * width + unit];
    }
  }
  return out;
}

/** The bias of output block `block`, laid out like the layer's output (A: per row r, B: per column c). */
export function packBias(
  tiling: LayerTiling,
  tile: TileShape,
  bias: Float32Array | Float64Array,
  block: number,
): Float64Array {
  const { t1, t2, batch: b } = tile;
  const out = new Float64Array(slotsOf(tile));
  const base = block * tiling.blockOut;
  for (let r = 0; r < t1; r++) {
    for (let c = 0; c < t2; c++) {
      const unit = base + (tiling.orientation === 'A' ? r : c);
      if (unit >= tiling.outputs) continue;
      out.fill(bias[unit], (r * t2 + c) * b, (r * t2 + c + 1) * b);
    }
  }
  return out;
}

/** Every slot = value. (SEAL's encoder zero-pads: a single value is not broadcast.) */
export function packConstant(tile: TileShape, value: number): Float64Array {
  return new Float64Array(slotsOf(tile)).fill(value);
}

/** 1 on tile column 0 (c = 0) for every row and sample, else 0: step 6's mask. */
export function packColumnMask(tile: TileShape): Float64Array {
  const { t1, t2, batch: b } = tile;
  const out = new Float64Array(slotsOf(tile));
  for (let r = 0; r < t1; r++) out.fill(1, r * t2 * b, r * t2 * b + b);
  return out;
}

/**
 * Writes output block `block` of a layer's result (decoded slots) into y (samples x outputs)
 * for samples [start, start + count): A reads column c = 0, B reads row r = 0.
 */
export function unpackOutputBlock(
  tiling: LayerTiling,
  tile: TileShape,
  slots: ArrayLike<number>,
  block: number,
  y: Float32Array | Float64Array,
  start: number,
  count: number,
): void {
  const { t2, batch: b } = tile;
  const width = tiling.outputs;
  const base = block * tiling.blockOut;
  for (let k = 0; k < tiling.blockOut; k++) {
    const unit = base + k;
    if (unit >= width) break;
    const slot0 = tiling.orientation === 'A' ? k * t2 * b : k * b;
    for (let s = 0; s < count; s++) y[(start + s) * width + unit] = slots[slot0 + s];
  }
}

function checkWeights(tiling: LayerTiling, weights: FloatMatrix): void {
  if (weights.rows !== tiling.outputs || weights.cols !== tiling.inputs) {
    throw new HepexError(
      'invalid-argument',
      `Layer ${tiling.layerIndex + 1}: weights are ${weights.rows} x ${weights.cols}, the tiling expects ${tiling.outputs} x ${tiling.inputs}.`,
    );
  }
}
