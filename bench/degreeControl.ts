import type { Mask } from '../src/core/model/matrix';
import type { Rng } from '../src/core/model/random';

/**
 * A random mask with exactly the row and column degrees of `mask` (non-zeros per output neuron
 * and per input), by degree-preserving double-edge swaps: pick two non-zeros (r1, c1), (r2, c2)
 * with (r1, c2) and (r2, c1) both zero and move them there. After `swapsPerNonZero` attempts per
 * non-zero the co-occurrence structure of the original is gone while every degree is kept.
 *
 * Why: it is the control for the permutation figures. If the search gains as much on this mask as
 * on the trained one, all it can exploit in the trained mask is its degree distribution, and a
 * target that needs more (block co-occurrence) is out of reach for that mask, not for the search.
 * The input is not modified.
 */
export function degreePreservingShuffle(mask: Mask, rng: Rng, swapsPerNonZero = 10): Mask {
  const { rows, cols } = mask;
  const data = mask.data.slice();
  // Positions of the non-zeros; a swap rewrites two entries in place.
  const nonZeros: number[] = [];
  for (let k = 0; k < data.length; k++) if (data[k]) nonZeros.push(k);
  const attempts = swapsPerNonZero * nonZeros.length;
  for (let t = 0; t < attempts; t++) {
    const i = rng.int(nonZeros.length);
    const j = rng.int(nonZeros.length);
    const a = nonZeros[i];
    const b = nonZeros[j];
    const r1 = Math.floor(a / cols);
    const c1 = a % cols;
    const r2 = Math.floor(b / cols);
    const c2 = b % cols;
    if (r1 === r2 || c1 === c2) continue;
    const x = r1 * cols + c2;
    const y = r2 * cols + c1;
    if (data[x] || data[y]) continue;
    data[a] = 0;
    data[b] = 0;
    data[x] = 1;
    data[y] = 1;
    nonZeros[i] = x;
    nonZeros[j] = y;
  }
  return { rows, cols, data };
}

/** Non-zeros per row and per column of a mask: the degrees the shuffle keeps. */
export function maskDegrees(mask: Mask): { rows: Uint32Array; cols: Uint32Array } {
  const rows = new Uint32Array(mask.rows);
  const cols = new Uint32Array(mask.cols);
  for (let r = 0; r < mask.rows; r++) {
    for (let c = 0; c < mask.cols; c++) {
      if (mask.data[r * mask.cols + c]) {
        rows[r]++;
        cols[c]++;
      }
    }
  }
  return { rows, cols };
}
