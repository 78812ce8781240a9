import { expandFilterOrder, expandPatchOrder, kernelMask, outputSize, tiedOrderOf } from '../conv';
import { HepexError, throwIfAborted } from '../errors';
import type { Mask } from '../matrix';
import { convolutionOf, validateNetwork, type ConvGeometry, type Network } from '../network';
import {
  checkPermutation,
  identityPermutation,
  type NetworkPermutation,
  type Permutation,
} from '../permutation';
import { createRng, type Rng } from '../random';
import { countTileNonZeros, planTiles, tileArea, type TilePlan } from '../tilePlan';
import { createTileShape, type TileShape } from '../tileShape';
import { checkMasks, checkTheta } from './common';

/**
 * Neuron permutation (HEPEX.md section 3, step 3): reorder the neurons of every layer so the
 * kept weights gather into few tiles. The function of the network does not change.
 *
 * Neuron sets: set 0 is the network's inputs (columns of W_0), set s in 1..L-1 the outputs of
 * layer s-1 (rows of W_{s-1}, its bias, and columns of W_s), set L the outputs (rows of
 * W_{L-1}). orders[s][k] is the original neuron at position k of set s. Hidden orders are
 * folded into the weights; orders[0] and orders[L] are the client's NetworkPermutation (applied
 * to each sample before encryption, undone after decryption).
 *
 * A set's positions are cut into groups of g neurons, g being the tile side along that set:
 * blockIn of layer 0 for the inputs, blockOut of layer s-1 for set s >= 1 (which equals blockIn
 * of layer s, since orientations alternate: A's blockOut = t1 = B's blockIn, B's blockOut = t2 =
 * A's blockIn). With the neighbouring sets fixed, the non-zero tiles of the two matrices around
 * set s are exactly the (group, block) pairs where some neuron of the group has a kept weight in
 * the block, the blocks being the column blocks of W_{s-1} and the row blocks of W_s. So each set
 * is a grouping problem with fixed-size groups; sets are optimised in turn (coordinate descent).
 *
 * Per set, in each of up to 5 passes (the paper's outer iterations):
 *  1. balanced k-means (clusters of exactly one tile side, up to 20 iterations) from three
 *     starts: the current grouping, k-means++ seeds on block-presence features, and k-means++
 *     seeds on neuron-level features (which neighbours a neuron connects to: block features blur
 *     neurons whose different neighbours share blocks under the current orders). A result is
 *     kept only if it beats the current grouping;
 *  2. a swap search that directly lowers the count: swap two neurons of different groups when
 *     that drops the number of non-zero tiles (or keeps it and concentrates the weights, the
 *     sum of squared tile counts, which gets it off plateaus), with the per-(group, block)
 *     counts updated incrementally so a swap is judged in O(blocks of the two neurons), and a
 *     per-group bound skipping target groups no member swap can improve.
 * A set's new order is adopted only when it is better, so the count never increases. On
 * shuffled block-structured masks of 784-256-64-256-784 the search recovers the planted order
 * exactly (bench/prune.ts); on magnitude-pruned trained weights there is far less structure to
 * find, and the lower bound ceil(non-zero weights / tile area) is far out of reach.
 */

export interface PermuteOptions {
  /** Passes over all neuron sets (paper: 5). Stops early when a pass changes nothing. */
  readonly maxOuterIterations?: number;
  /** Balanced k-means iterations per set and pass (paper: 20). 0 skips k-means. */
  readonly maxKMeansIterations?: number;
  /** Run the swap search after k-means. Default true. */
  readonly refine?: boolean;
  /** Swap-search passes over a set's neurons per outer iteration. */
  readonly maxRefinePasses?: number;
  /**
   * Optimise for almost-zero tile pruning at this density threshold (global scope): minimise the
   * tiles with density above theta, the ones that survive and are expanded. 0 (default):
   * minimise non-zero tiles, the paper's objective.
   */
  readonly theta?: number;
  /**
   * 'tiles' (default, the paper's): fewest non-zero tiles (or tiles denser than theta), ties
   * broken by concentration. 'concentration': the largest sum of squared tile counts, i.e.
   * weights packed into few full tiles and many almost-empty ones, which is what almost-zero
   * tile pruning wants (measured on the MNIST MLP at 0.97: for the same kept weights after
   * theta pruning, about half the surviving tiles of no permutation; 'tiles' merges stray
   * weights into tiles that then survive theta).
   */
  readonly objective?: 'tiles' | 'concentration';
  /** Permute the network inputs (the client applies it). Default true. */
  readonly permuteInput?: boolean;
  /** Permute the network outputs (the client undoes it). Default true. */
  readonly permuteOutput?: boolean;
  /**
   * The first layer is this convolution (masks[0] is its tied layer mask): the search permutes
   * the kernel's columns and the filters, the same way at every position, so the weights stay
   * tied (convolutionOf(network) gives it). Without it a conv's masks are searched as dense and
   * applyPermutation refuses the untied orders.
   */
  readonly conv?: ConvGeometry;
  /** Seed for the tie-breaking order of the search. */
  readonly seed?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: PermuteProgress) => void;
}

export interface PermuteProgress {
  readonly outerIteration: number;
  readonly set: number;
  readonly sets: number;
  /**
   * What the search minimises, over the whole network, after this set: non-zero tiles (with
   * theta > 0: tiles denser than theta).
   */
  readonly nonZeroTiles: number;
}

export interface LayerPermutationFigures {
  readonly layer: number;
  readonly tiles: number;
  readonly nonZeroWeights: number;
  /** Weights one tile holds (blockOut x blockIn). */
  readonly weightsPerTile: number;
  /** ceil(nonZeroWeights / weightsPerTile): no permutation can do better. */
  readonly lowerBound: number;
  readonly nonZeroTilesBefore: number;
  readonly nonZeroTilesAfter: number;
}

export interface PermutationSearchResult {
  /** orders[s] per neuron set s = 0..L (inputs, hidden sets, outputs). */
  readonly orders: Permutation[];
  /** The client-side part: orders[0] and orders[L]. */
  readonly permutation: NetworkPermutation;
  readonly layers: readonly LayerPermutationFigures[];
  readonly nonZeroTilesBefore: number;
  readonly nonZeroTilesAfter: number;
  readonly lowerBound: number;
  readonly outerIterations: number;
  readonly elapsedMs: number;
}

/** Layer sizes [in, h1, ..., out] implied by masks, checking that they chain. */
function sizesOfMasks(masks: readonly Mask[]): number[] {
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
function groupSize(plan: TilePlan, s: number): number {
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
function positionsOf(order: Permutation): Uint32Array {
  const pos = new Uint32Array(order.length);
  for (let k = 0; k < order.length; k++) pos[order[k]] = k;
  return pos;
}

/** Kept weights per tile of layer l's mask under row order `rowOrder` and column order `colOrder`. */
function layerTileCounts(
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
function paidTiles(counts: Uint32Array, plan: TilePlan, l: number, theta: number): number {
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
interface SetProblem {
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

function buildSetProblem(
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
function buildRawFeatures(
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
function groupCounts(p: SetProblem, groupOf: Uint32Array): Uint32Array {
  const C = new Uint32Array(p.k * p.D);
  for (let j = 0; j < p.n; j++) {
    const base = groupOf[j] * p.D;
    for (let q = p.suppStart[j]; q < p.suppStart[j + 1]; q++)
      C[base + p.supp[q]] += p.counts[j * p.D + p.supp[q]];
  }
  return C;
}

/** Sum of squared counts: higher means the same weights sit in fewer, fuller tiles. */
function sumOfSquares(C: Uint32Array): number {
  let q = 0;
  for (let i = 0; i < C.length; i++) q += C[i] * C[i];
  return q;
}

/**
 * True when grouping counts A beat B: fewer paid tiles, then more concentrated; with
 * `concentration`, more concentrated only.
 */
function better(A: Uint32Array, B: Uint32Array, tau: Uint32Array, concentration = false): boolean {
  if (concentration) return sumOfSquares(A) > sumOfSquares(B);
  const a = paidOf(A, tau);
  const b = paidOf(B, tau);
  return a < b || (a === b && sumOfSquares(A) > sumOfSquares(B));
}

/** Tiles with a count above their tau (with tau = 0: the non-zero tiles). */
function paidOf(C: Uint32Array, tau: Uint32Array): number {
  let z = 0;
  for (let i = 0; i < C.length; i++) if (C[i] > tau[i]) z++;
  return z;
}

const capacity = (p: SetProblem, G: number): number => (G < p.k - 1 ? p.g : p.n - (p.k - 1) * p.g);

/**
 * Balanced k-means on binary block-presence features. Centroids are the members' mean
 * presence; each iteration assigns neurons greedily by ascending squared distance to a centroid
 * with every group filled to exactly its capacity (a tile side). Starts from `start` (a
 * grouping) or, when `seedNeurons` is given, from centroids at those neurons' features (k-means++
 * style). `p` gives the features, `judge` the blocks: returns the grouping with the fewest
 * non-zero (group, block) pairs of `judge` seen, `start` included.
 */
function balancedKMeans(
  p: SetProblem,
  judge: SetProblem,
  start: Uint32Array,
  iterations: number,
  seedNeurons?: Uint32Array,
): Uint32Array {
  const { n, D, k } = p;
  let groupOf = Uint32Array.from(start);
  let best = groupOf;
  let bestC = groupCounts(judge, groupOf);
  const centroids = new Float64Array(k * D);
  const sizes = new Uint32Array(k);
  const norms = new Float64Array(k);
  const dist = new Float64Array(n * k);
  const nearest = new Float64Array(n);
  const order = new Uint32Array(n);
  for (let it = 0; it < iterations; it++) {
    centroids.fill(0);
    if (it === 0 && seedNeurons) {
      for (let G = 0; G < k; G++) {
        const j = seedNeurons[G];
        for (let q = p.suppStart[j]; q < p.suppStart[j + 1]; q++) centroids[G * D + p.supp[q]] = 1;
      }
    } else {
      sizes.fill(0);
      for (let j = 0; j < n; j++) {
        const G = groupOf[j];
        sizes[G]++;
        for (let q = p.suppStart[j]; q < p.suppStart[j + 1]; q++) centroids[G * D + p.supp[q]] += 1;
      }
      for (let G = 0; G < k; G++) {
        const inv = sizes[G] ? 1 / sizes[G] : 0;
        for (let b = 0; b < D; b++) centroids[G * D + b] *= inv;
      }
    }
    for (let G = 0; G < k; G++) {
      let norm = 0;
      for (let b = 0; b < D; b++) norm += centroids[G * D + b] ** 2;
      norms[G] = norm;
    }
    // ||x - c||^2 = |x| - 2 x.c + |c|^2, x binary: only the support enters x.c.
    for (let j = 0; j < n; j++) {
      const s0 = p.suppStart[j];
      const s1 = p.suppStart[j + 1];
      for (let G = 0; G < k; G++) {
        let dot = 0;
        const base = G * D;
        for (let q = s0; q < s1; q++) dot += centroids[base + p.supp[q]];
        dist[j * k + G] = s1 - s0 - 2 * dot + norms[G];
      }
    }
    // Balanced assignment: neurons in order of their nearest-centroid distance, each to its
    // nearest group that still has room (O(n k), no sort of all n x k pairs).
    for (let j = 0; j < n; j++) {
      let m = Infinity;
      for (let G = 0; G < k; G++) if (dist[j * k + G] < m) m = dist[j * k + G];
      nearest[j] = m;
      order[j] = j;
    }
    order.sort((a, b) => nearest[a] - nearest[b] || a - b);
    const next = new Uint32Array(n);
    const fill = new Uint32Array(k);
    for (let x = 0; x < n; x++) {
      const j = order[x];
      let bestG = 0;
      let bestD = Infinity;
      for (let G = 0; G < k; G++) {
        const d = dist[j * k + G];
        if (d < bestD && fill[G] < capacity(p, G)) {
          bestD = d;
          bestG = G;
        }
      }
      next[j] = bestG;
      fill[bestG]++;
    }
    let changed = false;
    for (let j = 0; j < n; j++) if (next[j] !== groupOf[j]) changed = true;
    groupOf = next;
    const C = groupCounts(judge, groupOf);
    if (better(C, bestC, judge.tau)) {
      bestC = C;
      best = groupOf;
    }
    if (!changed) break;
  }
  return best;
}

/**
 * k-means++ seeds: the first neuron at random, each next one drawn with probability
 * proportional to its squared distance (Hamming, on block presence) to the nearest seed so far.
 */
function kMeansPlusPlusSeeds(p: SetProblem, rng: Rng): Uint32Array {
  const { n, D, k } = p;
  const seeds = new Uint32Array(k);
  const nearest = new Float64Array(n).fill(Infinity);
  const row = new Uint8Array(D);
  let pick = rng.int(n);
  for (let G = 0; G < k; G++) {
    seeds[G] = pick;
    row.fill(0);
    const sizeSeed = p.suppStart[pick + 1] - p.suppStart[pick];
    for (let q = p.suppStart[pick]; q < p.suppStart[pick + 1]; q++) row[p.supp[q]] = 1;
    let total = 0;
    for (let j = 0; j < n; j++) {
      let common = 0;
      for (let q = p.suppStart[j]; q < p.suppStart[j + 1]; q++) common += row[p.supp[q]];
      const d = p.suppStart[j + 1] - p.suppStart[j] + sizeSeed - 2 * common;
      if (d < nearest[j]) nearest[j] = d;
      total += nearest[j];
    }
    if (total === 0) {
      pick = rng.int(n);
      continue;
    }
    let r = rng.next() * total;
    pick = n - 1;
    for (let j = 0; j < n; j++) {
      r -= nearest[j];
      if (r < 0) {
        pick = j;
        break;
      }
    }
  }
  return seeds;
}

/**
 * Swap search: for neurons u, v in different groups, swap them when the non-zero (group, block)
 * count drops, or stays and the sum of squared counts rises (weights concentrate in fewer
 * tiles, which opens later drops; without it the search stalls on plateaus). C is updated in
 * place; the (count, -sum of squares) pair strictly improves with every swap, so it ends. Only a
 * neuron that is the sole contributor of some block of its group can start a swap, which prunes
 * most pairs.
 */
function refineBySwaps(
  p: SetProblem,
  groupOf: Uint32Array,
  C: Uint32Array,
  passes: number,
  rng: Rng,
  signal: AbortSignal | undefined,
  concentration: boolean,
): void {
  const { n, D, k, g, counts, suppStart, supp, tau } = p;
  let tauZero = true;
  for (let i = 0; i < tau.length; i++) if (tau[i]) tauZero = false;
  // members[G * g + slot]: the neurons of each group; size[G] of them.
  const members = new Uint32Array(k * g);
  const size = new Uint32Array(k);
  for (let j = 0; j < n; j++) members[groupOf[j] * g + size[groupOf[j]]++] = j;
  // gain[j]: tiles of j's group that stop being paid for when j leaves (before anything arrives).
  const gain = new Int32Array(n);
  const maxGain = new Int32Array(k);
  const gainOf = (j: number): number => {
    const base = groupOf[j] * D;
    let z = 0;
    for (let q = suppStart[j]; q < suppStart[j + 1]; q++) {
      const i = base + supp[q];
      if (C[i] > tau[i] && C[i] - counts[j * D + supp[q]] <= tau[i]) z++;
    }
    return z;
  };
  const refreshGroup = (G: number): void => {
    let m = 0;
    for (let x = 0; x < size[G]; x++) {
      const j = members[G * g + x];
      gain[j] = gainOf(j);
      if (gain[j] > m) m = gain[j];
    }
    maxGain[G] = m;
  };
  for (let G = 0; G < k; G++) refreshGroup(G);

  const visit = new Uint32Array(n);
  for (let j = 0; j < n; j++) visit[j] = j;
  for (let pass = 0; pass < passes; pass++) {
    throwIfAborted(signal);
    // A fresh random order per pass so no neuron is systematically favoured.
    for (let i = n - 1; i > 0; i--) {
      const r = rng.int(i + 1);
      const tmp = visit[i];
      visit[i] = visit[r];
      visit[r] = tmp;
    }
    let improved = false;
    for (let iu = 0; iu < n; iu++) {
      const u = visit[iu];
      const gainU = gain[u];
      // Only the tile count needs u to free a tile; concentration can gain from any swap.
      if (gainU === 0 && !concentration) continue;
      const G1 = groupOf[u];
      const b1 = G1 * D;
      const u0 = suppStart[u];
      const u1 = suppStart[u + 1];
      const startGroup = rng.int(k);
      let swapped = false;
      for (let gi = 0; gi < k && !swapped; gi++) {
        const G2 = (startGroup + gi) % k;
        if (G2 === G1) continue;
        const b2 = G2 * D;
        if (tauZero && !concentration) {
          // Bound (tau = 0): u adds every block G2 lacks (no v of G2 has it), G1 can lose at
          // most gain[u] tiles and G2 at most its best member's gain. Skip hopeless groups.
          let add = 0;
          for (let q = u0; q < u1; q++) if (C[b2 + supp[q]] === 0) add++;
          if (add - gainU - maxGain[G2] > 0) continue;
        }
        for (let x = 0; x < size[G2]; x++) {
          const v = members[G2 * g + x];
          let delta = 0;
          let squares = 0;
          for (let q = u0; q < u1; q++) {
            const b = supp[q];
            const ub = counts[u * D + b];
            const vb = counts[v * D + b];
            const c1 = C[b1 + b];
            const c2 = C[b2 + b];
            const n1 = c1 - ub + vb;
            const n2 = c2 - vb + ub;
            const t1 = tau[b1 + b];
            const t2 = tau[b2 + b];
            delta += (n1 > t1 ? 1 : 0) - (c1 > t1 ? 1 : 0) + (n2 > t2 ? 1 : 0) - (c2 > t2 ? 1 : 0);
            squares += n1 * n1 - c1 * c1 + n2 * n2 - c2 * c2;
          }
          // v's own blocks can lower delta by at most one each.
          if (!concentration && delta > suppStart[v + 1] - suppStart[v]) continue;
          for (let q = suppStart[v]; q < suppStart[v + 1]; q++) {
            const b = supp[q];
            if (counts[u * D + b]) continue;
            const vb = counts[v * D + b];
            const c1 = C[b1 + b];
            const c2 = C[b2 + b];
            const t1 = tau[b1 + b];
            const t2 = tau[b2 + b];
            delta +=
              (c1 + vb > t1 ? 1 : 0) -
              (c1 > t1 ? 1 : 0) +
              (c2 - vb > t2 ? 1 : 0) -
              (c2 > t2 ? 1 : 0);
            squares += (c1 + vb) * (c1 + vb) - c1 * c1 + (c2 - vb) * (c2 - vb) - c2 * c2;
          }
          if (concentration ? squares > 0 : delta < 0 || (delta === 0 && squares > 0)) {
            for (let q = u0; q < u1; q++) {
              const b = supp[q];
              C[b1 + b] -= counts[u * D + b];
              C[b2 + b] += counts[u * D + b];
            }
            for (let q = suppStart[v]; q < suppStart[v + 1]; q++) {
              const b = supp[q];
              C[b2 + b] -= counts[v * D + b];
              C[b1 + b] += counts[v * D + b];
            }
            groupOf[u] = G2;
            groupOf[v] = G1;
            members[G2 * g + x] = u;
            for (let y = 0; y < size[G1]; y++)
              if (members[G1 * g + y] === u) members[G1 * g + y] = v;
            refreshGroup(G1);
            refreshGroup(G2);
            improved = true;
            swapped = true;
            break;
          }
        }
      }
    }
    if (!improved) break;
  }
}

/** An order listing group 0's neurons first (ascending index within a group), then group 1, ... */
function orderOfGroups(groupOf: Uint32Array, k: number): Permutation {
  const n = groupOf.length;
  const start = new Uint32Array(k + 1);
  for (let j = 0; j < n; j++) start[groupOf[j] + 1]++;
  for (let G = 0; G < k; G++) start[G + 1] += start[G];
  const order = new Uint32Array(n);
  for (let j = 0; j < n; j++) order[start[groupOf[j]]++] = j;
  return order;
}

/**
 * Finds neuron orders that minimise the network's non-zero weight tiles for the given masks.
 * masks[l] has layer l's weight shape; the tile shape gives the tiling in the HE runtime's
 * orientations. Inputs are never modified.
 */
export function findPermutation(
  masks: readonly Mask[],
  tile: TileShape,
  options: PermuteOptions = {},
): PermutationSearchResult {
  const started = performance.now();
  const sizes = sizesOfMasks(masks);
  const checkedTile = createTileShape(tile?.t1, tile?.t2, {
    batch: tile?.batch,
    ringDegree: tile?.ringDegree,
    first: tile?.first,
  });
  if (options.conv) return findConvPermutation(masks, checkedTile, options.conv, options, started);
  const plan = planTiles(sizes, checkedTile);
  const L = plan.layers.length;
  const objective = options.objective ?? 'tiles';
  if (objective !== 'tiles' && objective !== 'concentration') {
    throw new HepexError(
      'invalid-argument',
      `The permutation objective is "${String(objective)}"; use "tiles" or "concentration".`,
    );
  }
  const concentration = objective === 'concentration';
  // Concentration swaps cannot be pruned by the tile-count bounds, so they get fewer passes
  // (measured on the MLP: 1 pass x 2 outer iterations keeps most of the gain at 1/8 the time).
  const maxOuter = options.maxOuterIterations ?? (concentration ? 2 : 5);
  const kmIterations = options.maxKMeansIterations ?? 20;
  const refine = options.refine ?? true;
  const passes = options.maxRefinePasses ?? (concentration ? 1 : 4);
  const theta = checkTheta(options.theta ?? 0);
  for (const [name, v] of [
    ['maxOuterIterations', maxOuter],
    ['maxKMeansIterations', kmIterations],
    ['maxRefinePasses', passes],
  ] as const) {
    if (!Number.isInteger(v) || v < 0) {
      throw new HepexError(
        'invalid-argument',
        `${name} is ${v}; it must be a whole number of at least 0.`,
      );
    }
  }
  const rng = createRng(options.seed ?? 1);

  const orders = sizes.map((n) => identityPermutation(n));
  const countsOf = (l: number) => layerTileCounts(masks[l], plan, l, orders[l + 1], orders[l]);
  const tilesOf = (l: number) => paidTiles(countsOf(l), plan, l, 0);
  const before = plan.layers.map((_, l) => tilesOf(l));
  let paid = plan.layers.reduce((sum, _, l) => sum + paidTiles(countsOf(l), plan, l, theta), 0);

  const sets: number[] = [];
  for (let s = 0; s <= L; s++) {
    if (s === 0 && options.permuteInput === false) continue;
    if (s === L && options.permuteOutput === false) continue;
    const g = groupSize(plan, s);
    // One group (g >= n) or one neuron per group (g = 1): every order gives the same tiles.
    if (g > 1 && g < sizes[s]) sets.push(s);
  }

  let outer = 0;
  for (; outer < maxOuter && sets.length > 0; outer++) {
    let passImproved = false;
    for (const s of sets) {
      throwIfAborted(options.signal);
      const p = buildSetProblem(masks, plan, orders, s, theta);
      const pos = positionsOf(orders[s]);
      let groupOf: Uint32Array = new Uint32Array(p.n);
      for (let j = 0; j < p.n; j++) groupOf[j] = (pos[j] / p.g) | 0;
      const C0 = groupCounts(p, groupOf);
      let C: Uint32Array = C0;
      const current = paidOf(C, p.tau);
      if (kmIterations > 0) {
        // Three starts: the current grouping; k-means++ seeds (the current grouping can be a
        // symmetric fixed point where every centroid is the same mixture); and k-means++ on
        // neuron-level features.
        const starts: [SetProblem, Uint32Array | undefined][] = [
          [p, undefined],
          [p, kMeansPlusPlusSeeds(p, rng)],
        ];
        // Neuron-level features do not depend on the neighbours' orders: one run, first pass.
        if (outer === 0) {
          const raw = buildRawFeatures(masks, plan, s, p);
          starts.push([raw, kMeansPlusPlusSeeds(raw, rng)]);
        }
        for (const [features, seeds] of starts) {
          const km = balancedKMeans(features, p, groupOf, kmIterations, seeds);
          const kmC = groupCounts(p, km);
          if (better(kmC, C, p.tau, concentration)) {
            groupOf = km;
            C = kmC;
          }
        }
      }
      if (refine) {
        if (C === C0) {
          // The swap search works in place; keep C0 as the reference.
          C = Uint32Array.from(C0);
          groupOf = Uint32Array.from(groupOf);
        }
        refineBySwaps(p, groupOf, C, passes, rng, options.signal, concentration);
      }
      const after = paidOf(C, p.tau);
      // Ties are adopted when more concentrated: that opens drops in the neighbouring sets.
      if (better(C, C0, p.tau, concentration)) {
        orders[s] = orderOfGroups(groupOf, p.k);
        paid += after - current;
        passImproved = true;
      }
      options.onProgress?.({ outerIteration: outer, set: s, sets: L + 1, nonZeroTiles: paid });
    }
    if (!passImproved) {
      outer++;
      break;
    }
  }

  const after = plan.layers.map((_, l) => tilesOf(l));
  return searchResult(masks, plan, orders, before, after, outer, started);
}

/** The search's figures per layer and in total, from non-zero tiles before and after. */
function searchResult(
  masks: readonly Mask[],
  plan: TilePlan,
  orders: Permutation[],
  before: readonly number[],
  after: readonly number[],
  outerIterations: number,
  started: number,
): PermutationSearchResult {
  const L = plan.layers.length;
  const layers = plan.layers.map((t, l) => {
    let nnz = 0;
    for (let k = 0; k < masks[l].data.length; k++) nnz += masks[l].data[k] ? 1 : 0;
    const weightsPerTile = t.blockOut * t.blockIn;
    return {
      layer: l,
      tiles: t.tileCount,
      nonZeroWeights: nnz,
      weightsPerTile,
      lowerBound: Math.ceil(nnz / weightsPerTile),
      nonZeroTilesBefore: before[l],
      nonZeroTilesAfter: after[l],
    };
  });
  return {
    orders,
    permutation: { input: orders[0], output: orders[L] },
    layers,
    nonZeroTilesBefore: before.reduce((a, b) => a + b, 0),
    nonZeroTilesAfter: after.reduce((a, b) => a + b, 0),
    lowerBound: layers.reduce((a, l) => a + l.lowerBound, 0),
    outerIterations,
    elapsedMs: performance.now() - started,
  };
}

/**
 * The search for a conv-first network, in two exact phases (docs/convolution.md):
 *  A. the kernel (filters x k*k*C, columns = patch values) and layer 1's mask stacked by
 *     position ((positions * rows) x filters): a filter order moves the same columns in every
 *     position's slab, so with layer 1's rows fixed this two-layer problem has exactly the
 *     tiles of layers 0 and 1 (when layer 1's blockOut divides its rows; otherwise close);
 *  B. layers 1.. with the filter order applied and layer 1's inputs fixed (the usual search,
 *     layer 1's orientation first).
 * Each phase only adopts orders that lower its own count, so the total never increases.
 */
function findConvPermutation(
  masks: readonly Mask[],
  tile: TileShape,
  g: ConvGeometry,
  options: PermuteOptions,
  started: number,
): PermutationSearchResult {
  const sizes = sizesOfMasks(masks);
  const { positions: P } = outputSize(g);
  const F = g.filters;
  if (sizes[0] !== P * g.patchWidth || sizes[1] !== P * F) {
    throw new HepexError(
      'invalid-mask',
      `Layer 1's mask is ${sizes[1]} x ${sizes[0]}; the convolution needs ${P * F} x ${P * g.patchWidth}.`,
    );
  }
  const L = masks.length;
  const sub = { ...options, conv: undefined };
  const stacked = (m: Mask): Mask => {
    // stacked[(p * rows + r), f] = m[r, p * F + f]
    const data = new Uint8Array(P * m.rows * F);
    for (let p = 0; p < P; p++)
      for (let r = 0; r < m.rows; r++)
        data.set(m.data.subarray(r * m.cols + p * F, r * m.cols + (p + 1) * F), (p * m.rows + r) * F);
    return { rows: P * m.rows, cols: F, data };
  };
  const kernel = kernelMask(g, masks[0]);
  const a =
    L > 1
      ? findPermutation([kernel, stacked(masks[1])], tile, { ...sub, permuteOutput: false })
      : findPermutation([kernel], tile, sub);
  const orders: Permutation[] = [expandPatchOrder(g, a.orders[0]), expandFilterOrder(g, a.orders[1])];
  let outer = a.outerIterations;
  if (L > 1) {
    const m1: Mask = {
      rows: masks[1].rows,
      cols: masks[1].cols,
      data: permuteMatrixData(masks[1].data, masks[1].rows, masks[1].cols, identityPermutation(masks[1].rows), orders[1]),
    };
    const rest = createTileShape(tile.t1, tile.t2, {
      batch: tile.batch,
      ringDegree: tile.ringDegree,
      first: tile.first === 'A' ? 'B' : 'A',
    });
    const b = findPermutation([m1, ...masks.slice(2)], rest, {
      ...sub,
      permuteInput: false,
      onProgress: options.onProgress && ((p) => options.onProgress?.({ ...p, set: p.set + 1, sets: L + 1 })),
    });
    orders.push(...b.orders.slice(1));
    outer += b.outerIterations;
  }
  // Figures on the real masks and plan, as the dense search reports them.
  const plan = planTiles(sizes, tile);
  const nonZero = (l: number, rowOrder: Permutation, colOrder: Permutation) =>
    paidTiles(layerTileCounts(masks[l], plan, l, rowOrder, colOrder), plan, l, 0);
  const before = plan.layers.map((_, l) => nonZero(l, identityPermutation(sizes[l + 1]), identityPermutation(sizes[l])));
  const after = plan.layers.map((_, l) => nonZero(l, orders[l + 1], orders[l]));
  return searchResult(masks, plan, orders, before, after, outer, started);
}

/** out[kr][kc] = m[rowOrder[kr]][colOrder[kc]] for a row-major rows x cols array. */
export function permuteMatrixData<T extends Float32Array | Uint8Array>(
  data: T,
  rows: number,
  cols: number,
  rowOrder: Permutation,
  colOrder: Permutation,
): T {
  const out = new (data.constructor as { new (n: number): T })(data.length);
  for (let kr = 0; kr < rows; kr++) {
    const src = rowOrder[kr] * cols;
    const dst = kr * cols;
    for (let kc = 0; kc < cols; kc++) out[dst + kc] = data[src + colOrder[kc]];
  }
  return out;
}

export interface PermutedNetwork {
  readonly network: Network;
  readonly masks?: Mask[];
  /** What the client applies to inputs and undoes on outputs. */
  readonly permutation: NetworkPermutation;
}

/**
 * Applies neuron orders (one per set, as findPermutation returns) to a network and, when
 * given, its masks: W_l rows by orders[l+1], columns by orders[l]; b_l by orders[l+1]. The
 * result computes forward(original, x) = unpermuteRows(forward(result, permuteRows(x, input)),
 * output); for a conv-first network x is the im2col patches and the passes are forwardDenseView
 * (orders[0] and orders[1] must then be the same at every position: tiedOrderOf). New arrays
 * throughout; inputs untouched.
 */
export function applyPermutation(
  network: Network,
  orders: readonly Permutation[],
  masks?: readonly Mask[],
): PermutedNetwork {
  validateNetwork(network);
  if (masks) checkMasks(network, masks);
  const L = network.layers.length;
  if (!Array.isArray(orders) || orders.length !== L + 1) {
    throw new HepexError(
      'invalid-argument',
      `Expected ${L + 1} neuron orders (inputs, hidden layers, outputs), got ${orders?.length}.`,
    );
  }
  const sizes = [network.layers[0].weights.cols, ...network.layers.map((l) => l.weights.rows)];
  const checked = orders.map((o, s) => checkPermutation(o, sizes[s], `Neuron order ${s}`));
  const conv = convolutionOf(network);
  if (conv) {
    // A convolution's patch values and filters move the same way at every position (tied).
    tiedOrderOf(conv, checked[0], 'inputs');
    tiedOrderOf(conv, checked[1], 'outputs');
  }
  const layers = network.layers.map((layer, l) => {
    const { rows, cols, data } = layer.weights;
    const bias = new Float32Array(rows);
    for (let k = 0; k < rows; k++) bias[k] = layer.bias[checked[l + 1][k]];
    return {
      ...layer,
      weights: {
        rows,
        cols,
        data: permuteMatrixData(data, rows, cols, checked[l + 1], checked[l]),
      },
      bias,
    };
  });
  return {
    network: { task: network.task, layers },
    masks: masks?.map((m, l) => ({
      rows: m.rows,
      cols: m.cols,
      data: permuteMatrixData(m.data, m.rows, m.cols, checked[l + 1], checked[l]),
    })),
    permutation: { input: checked[0], output: checked[L] },
  };
}

/**
 * The order of applying `first` then `second` (both y[k] = x[order[k]]): composed[k] =
 * first[second[k]]. Used when a model that already has a client permutation is permuted again.
 */
export function composePermutations(first: Permutation, second: Permutation): Permutation {
  if (first.length !== second.length) {
    throw new HepexError(
      'invalid-argument',
      `Cannot compose permutations of ${first.length} and ${second.length} elements.`,
    );
  }
  const out = new Uint32Array(first.length);
  for (let k = 0; k < out.length; k++) out[k] = first[second[k]];
  return out;
}

/** Non-zero tiles per layer of masks under a tile shape (no permutation). */
export function nonZeroTilesPerLayer(masks: readonly Mask[], tile: TileShape): number[] {
  const plan = planTiles(sizesOfMasks(masks), tile);
  return plan.layers.map((t, l) => {
    const c = countTileNonZeros(masks[l], t);
    let z = 0;
    for (let i = 0; i < c.length; i++) if (c[i]) z++;
    return z;
  });
}
