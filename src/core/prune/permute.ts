import { expandFilterOrder, expandPatchOrder } from '../model/convOrders';
import { kernelMask } from '../model/convMasks';
import { outputSize } from '../model/conv';
import { HepexError, throwIfAborted } from '../model/errors';
import type { Mask } from '../model/matrix';
import type { ConvGeometry } from '../model/network';
import { permuteMatrixData } from './applyPermutation';
import {
  identityPermutation,
  type NetworkPermutation,
  type Permutation,
} from '../model/permutation';
import { createRng } from '../model/random';
import { planTiles, type TilePlan } from '../tiling/tilePlan';
import { checkTileShape, type TileShape } from '../tiling/tileShape';
import { checkTheta } from './common';
import {
  sizesOfMasks,
  groupSize,
  positionsOf,
  layerTileCounts,
  paidTiles,
  type SetProblem,
  buildSetProblem,
  buildRawFeatures,
  groupCounts,
  better,
  paidOf,
} from './permuteProblem';
import { balancedKMeans, kMeansPlusPlusSeeds } from './permuteKMeans';
import { refineBySwaps, orderOfGroups } from './permuteSwaps';

/**
 * Neuron permutation (docs/method.md section 3, step 3): reorder the neurons of every layer so the
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

/** What the permutation search minimises or maximises (see PermuteOptions.objective). */
export type PermuteObjective = 'tiles' | 'concentration';
export const PERMUTE_OBJECTIVES: readonly PermuteObjective[] = ['tiles', 'concentration'];

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
  readonly objective?: PermuteObjective;
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
  const checkedTile = checkTileShape(tile);
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
        data.set(
          m.data.subarray(r * m.cols + p * F, r * m.cols + (p + 1) * F),
          (p * m.rows + r) * F,
        );
    return { rows: P * m.rows, cols: F, data };
  };
  const kernel = kernelMask(g, masks[0]);
  const a =
    L > 1
      ? findPermutation([kernel, stacked(masks[1])], tile, { ...sub, permuteOutput: false })
      : findPermutation([kernel], tile, sub);
  const orders: Permutation[] = [
    expandPatchOrder(g, a.orders[0]),
    expandFilterOrder(g, a.orders[1]),
  ];
  let outer = a.outerIterations;
  if (L > 1) {
    const m1: Mask = {
      rows: masks[1].rows,
      cols: masks[1].cols,
      data: permuteMatrixData(
        masks[1].data,
        masks[1].rows,
        masks[1].cols,
        identityPermutation(masks[1].rows),
        orders[1],
      ),
    };
    // The dense layers after the convolution start their chain in the other orientation.
    const rest: TileShape = { ...tile, first: tile.first === 'A' ? 'B' : 'A' };
    const b = findPermutation([m1, ...masks.slice(2)], rest, {
      ...sub,
      permuteInput: false,
      onProgress:
        options.onProgress && ((p) => options.onProgress?.({ ...p, set: p.set + 1, sets: L + 1 })),
    });
    orders.push(...b.orders.slice(1));
    outer += b.outerIterations;
  }
  // Figures on the real masks and plan, as the dense search reports them.
  const plan = planTiles(sizes, tile);
  const nonZero = (l: number, rowOrder: Permutation, colOrder: Permutation) =>
    paidTiles(layerTileCounts(masks[l], plan, l, rowOrder, colOrder), plan, l, 0);
  const before = plan.layers.map((_, l) =>
    nonZero(l, identityPermutation(sizes[l + 1]), identityPermutation(sizes[l])),
  );
  const after = plan.layers.map((_, l) => nonZero(l, orders[l + 1], orders[l]));
  return searchResult(masks, plan, orders, before, after, outer, started);
}
