import { HepexError } from '../model/errors';
import type { Mask } from '../model/matrix';
import type { Permutation } from '../model/permutation';
import { tileArea, type TilePlan } from '../tiling/tilePlan';

/**
 * The grouping problem one neuron set poses to the permutation search (permute.ts): masks cut
 * into (neuron, block) counts under the neighbouring sets' current orders, and the tile counts
 * a grouping gives.
 */

/** Layer sizes [in, h1, ..., out] implied by masks, checking that they chain. */
export function sizesOfMasks(masks: readonly Mask[]): number[] {
  if (!Array.isArray(masks) || masks.length === 0) {
    throw new HepexError('invalid-mask', 'Permutation needs one mask per layer; none were given.');
  }
  masks.forEach((m, l) => {
    if (!m || !(m.data instanceof Uint8Array) || m.data.length !== m.rows * m.cols) {
      throw new HepexError(
        'invalid-mask',
        `Layer ${l + 1}: the mask's data does not match its ${m?.rows} x ${m?.cols} shape.`,
      );
    }
    if (l > 0 && m.cols !== masks[l - 1].rows) {
      throw new HepexError(
        'invalid-mask',
        `Layer ${l + 1}'s mask takes ${m.cols} inputs but layer ${l}'s mask gives ${masks[l - 1].rows}.`,
      );
    }
  });
  return [masks[0].cols, ...masks.map((m) => m.rows)];
}

/** Tile side along neuron set s (see the header). */
export function groupSize(plan: TilePlan, s: number): number {
  const L = plan.layers.length;
  if (s === 0) return plan.layers[0].blockIn;
  const g = plan.layers[s - 1].blockOut;
  if (s < L && plan.layers[s].blockIn !== g) {
    // Cannot happen with alternating orientations; guards a future plan that breaks it.
    throw new HepexError(
      'invalid-tile-shape',
      `Layers ${s} and ${s + 1} cut their shared neurons into different tile sides.`,
    );
  }
  return g;
}

/** Positions of an order: pos[order[k]] = k. */
export function positionsOf(order: Permutation): Uint32Array {
  const pos = new Uint32Array(order.length);
  for (let k = 0; k < order.length; k++) pos[order[k]] = k;
  return pos;
}

/** Kept weights per tile of layer l's mask under row order `rowOrder` and column order `colOrder`. */
export function layerTileCounts(
  mask: Mask,
  plan: TilePlan,
  l: number,
  rowOrder: Permutation,
  colOrder: Permutation,
): Uint32Array {
  const t = plan.layers[l];
  const colBlock = new Uint32Array(mask.cols);
  const colPos = positionsOf(colOrder);
  for (let c = 0; c < mask.cols; c++) colBlock[c] = (colPos[c] / t.blockIn) | 0;
  const rowPos = positionsOf(rowOrder);
  const counts = new Uint32Array(t.tileCount);
  for (let r = 0; r < mask.rows; r++) {
    const base = ((rowPos[r] / t.blockOut) | 0) * t.inBlocks;
    const off = r * mask.cols;
    for (let c = 0; c < mask.cols; c++) counts[base + colBlock[c]] += mask.data[off + c];
  }
  return counts;
}

/** Tiles whose count exceeds floor(theta x area): non-zero tiles when theta is 0. */
export function paidTiles(counts: Uint32Array, plan: TilePlan, l: number, theta: number): number {
  const t = plan.layers[l];
  let z = 0;
  for (let k = 0; k < counts.length; k++)
    if (counts[k] > Math.floor(theta * tileArea(t, k) + 1e-9)) z++;
  return z;
}

/**
 * The grouping problem of one neuron set: n neurons, D blocks (column blocks of the matrix
 * before, then row blocks of the matrix after), k groups of g (the last may be shorter).
 */
export interface SetProblem {
  readonly n: number;
  readonly D: number;
  readonly g: number;
  readonly k: number;
  /** n x D kept-weight counts of each neuron in each block. */
  readonly counts: Uint32Array;
  /** CSR support lists: blocks where a neuron has any kept weight. */
  readonly suppStart: Uint32Array;
  readonly supp: Uint32Array;
  /**
   * k x D: a (group, block) tile counts as paid for when its count exceeds tau (0: any kept
   * weight; floor(theta x tile area) when optimising for almost-zero tile pruning at theta).
   */
  readonly tau: Uint32Array;
}

export function buildSetProblem(
  masks: readonly Mask[],
  plan: TilePlan,
  orders: readonly Permutation[],
  s: number,
  theta: number,
): SetProblem {
  const L = plan.layers.length;
  const n = s === 0 ? plan.layers[0].inputs : plan.layers[s - 1].outputs;
  const g = groupSize(plan, s);
  const D1 = s >= 1 ? plan.layers[s - 1].inBlocks : 0;
  const D2 = s < L ? plan.layers[s].outBlocks : 0;
  const D = D1 + D2;
  const counts = new Uint32Array(n * D);
  if (s >= 1) {
    // W_{s-1}: rows are this set; its columns (set s-1) fall in blocks by their current position.
    const m = masks[s - 1];
    const t = plan.layers[s - 1];
    const colPos = positionsOf(orders[s - 1]);
    const colBlock = new Uint32Array(m.cols);
    for (let c = 0; c < m.cols; c++) colBlock[c] = (colPos[c] / t.blockIn) | 0;
    for (let j = 0; j < n; j++) {
      const off = j * m.cols;
      for (let c = 0; c < m.cols; c++) counts[j * D + colBlock[c]] += m.data[off + c];
    }
  }
  if (s < L) {
    // W_s: columns are this set; its rows (set s+1) fall in blocks by their current position.
    const m = masks[s];
    const t = plan.layers[s];
    const rowPos = positionsOf(orders[s + 1]);
    for (let r = 0; r < m.rows; r++) {
      const b = D1 + ((rowPos[r] / t.blockOut) | 0);
      const off = r * m.cols;
      for (let j = 0; j < n; j++) counts[j * D + b] += m.data[off + j];
    }
  }
  const suppStart = new Uint32Array(n + 1);
  for (let j = 0; j < n; j++) {
    let c = 0;
    for (let b = 0; b < D; b++) if (counts[j * D + b]) c++;
    suppStart[j + 1] = suppStart[j] + c;
  }
  const supp = new Uint32Array(suppStart[n]);
  for (let j = 0, w = 0; j < n; j++)
    for (let b = 0; b < D; b++) if (counts[j * D + b]) supp[w++] = b;
  const k = Math.ceil(n / g);
  // Tile areas: the group's rows (the last group may be short) x the block's extent (the last
  // block of a ragged matrix is short). Counts are whole, so count > theta x area <=> count > tau.
  const tau = new Uint32Array(k * D);
  if (theta > 0) {
    const extent = new Uint32Array(D);
    if (s >= 1) {
      const t = plan.layers[s - 1];
      for (let b = 0; b < D1; b++) extent[b] = Math.min(t.blockIn, t.inputs - b * t.blockIn);
    }
    if (s < L) {
      const t = plan.layers[s];
      for (let b = 0; b < D2; b++)
        extent[D1 + b] = Math.min(t.blockOut, t.outputs - b * t.blockOut);
    }
    for (let G = 0; G < k; G++) {
      const rows = Math.min(g, n - G * g);
      for (let b = 0; b < D; b++) tau[G * D + b] = Math.floor(theta * rows * extent[b] + 1e-9);
    }
  }
  return { n, D, g, k, counts, suppStart, supp, tau };
}

/**
 * The same set with neuron-level features: which neurons of the two neighbouring sets each
 * neuron connects to (D = n_{s-1} + n_{s+1}), for k-means only. Block-level features blur
 * neurons whose different neighbours happen to share blocks under the current orders; neuron-
 * level similarity stays true whatever the neighbours' orders become.
 */
export function buildRawFeatures(
  masks: readonly Mask[],
  plan: TilePlan,
  s: number,
  base: SetProblem,
): SetProblem {
  const L = plan.layers.length;
  const n = base.n;
  const before = s >= 1 ? masks[s - 1] : undefined;
  const after = s < L ? masks[s] : undefined;
  const D1 = before ? before.cols : 0;
  const D = D1 + (after ? after.rows : 0);
  const suppStart = new Uint32Array(n + 1);
  const lists: number[][] = [];
  for (let j = 0; j < n; j++) {
    const list: number[] = [];
    if (before)
      for (let c = 0; c < before.cols; c++) if (before.data[j * before.cols + c]) list.push(c);
    if (after)
      for (let r = 0; r < after.rows; r++) if (after.data[r * after.cols + j]) list.push(D1 + r);
    lists.push(list);
    suppStart[j + 1] = suppStart[j] + list.length;
  }
  const supp = new Uint32Array(suppStart[n]);
  lists.forEach((list, j) => supp.set(list, suppStart[j]));
  // counts are never read for feature problems (k-means uses presence only).
  return { n, D, g: base.g, k: base.k, counts: new Uint32Array(0), suppStart, supp, tau: base.tau };
}

/** Per-(group, block) kept-weight counts of a grouping. */
export function groupCounts(p: SetProblem, groupOf: Uint32Array): Uint32Array {
  const C = new Uint32Array(p.k * p.D);
  for (let j = 0; j < p.n; j++) {
    const base = groupOf[j] * p.D;
    for (let q = p.suppStart[j]; q < p.suppStart[j + 1]; q++)
      C[base + p.supp[q]] += p.counts[j * p.D + p.supp[q]];
  }
  return C;
}

/** Sum of squared counts: higher means the same weights sit in fewer, fuller tiles. */
export function sumOfSquares(C: Uint32Array): number {
  let q = 0;
  for (let i = 0; i < C.length; i++) q += C[i] * C[i];
  return q;
}

/**
 * True when grouping counts A beat B: fewer paid tiles, then more concentrated; with
 * `concentration`, more concentrated only.
 */
export function better(
  A: Uint32Array,
  B: Uint32Array,
  tau: Uint32Array,
  concentration = false,
): boolean {
  if (concentration) return sumOfSquares(A) > sumOfSquares(B);
  const a = paidOf(A, tau);
  const b = paidOf(B, tau);
  return a < b || (a === b && sumOfSquares(A) > sumOfSquares(B));
}

/** Tiles with a count above their tau (with tau = 0: the non-zero tiles). */
export function paidOf(C: Uint32Array, tau: Uint32Array): number {
  let z = 0;
  for (let i = 0; i < C.length; i++) if (C[i] > tau[i]) z++;
  return z;
}

export const capacity = (p: SetProblem, G: number): number =>
  G < p.k - 1 ? p.g : p.n - (p.k - 1) * p.g;
