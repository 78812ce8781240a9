import { convLayer } from '../model/conv';
import type { Mask, Matrix } from '../model/matrix';
import type { Layer, Network } from '../model/network';
import { pruneTilingOf, pruneViewOf, type PruneScope } from './common';
import { classFanInAt, isClassLayer, rowRanks } from './magnitudePrune';
import { countTileNonZeros, tileArea, type LayerTiling, type TilePlan } from '../tiling/tilePlan';

/**
 * Slider-speed pruning for the studio. core/prune/magnitudePrune sorts every weight on each call
 * (~50 ms for 784-256-64-256-784); a slider needs a mask per frame. So the ranking is done once per
 * network: rank[k] is weight k's position in ascending |w| order (ties: lower index first, the
 * same rule as magnitudePrune), and the mask at any sparsity is one comparison per weight:
 * keep iff rank >= round(sparsity * n). test/component/previewPrune.test.ts checks the masks are
 * identical to magnitudePrune's. A classifier's class floor (magnitudePrune's CLASS_FLOOR)
 * depends on the sparsity, so its rows' own ranks are kept too and the cut steps over the
 * weights it protects (never past them: at sparsities where the floor is all that is left,
 * the preview keeps it whole).
 */
export interface MagnitudeRanks {
  /** Per layer: rank within the layer's pruned weights (a convolution's kernel), local scope. */
  readonly local: readonly Uint32Array[];
  /** Per layer: rank within all pruned weights of the network (global scope). */
  readonly global: readonly Uint32Array[];
  /** Weights ranked: a convolution counts its kernel (filters x kernel*kernel*channels) once. */
  readonly total: number;
  /**
   * Dense-view copies of the weights ranked below r, for r = 0..total (length total + 1): a kernel
   * weight stands for `positions` entries of the tied layer, a dense weight for one. Global pruning
   * targets copies, as core's smallestByCopies does.
   */
  readonly copiesBefore: Float64Array;
  /** A classifier's output layer: each weight's rank within its row (magnitudePrune's rowRanks). */
  readonly classRows?: {
    readonly layer: number;
    readonly cols: number;
    readonly ranks: Uint32Array;
  };
}

// Keys pack (|w| bits, index) into one float64 so a native typed-array sort orders by |w| then
// index: |w| as float32 has monotonic non-negative bit patterns < 2^31, index < 2^22, product < 2^53.
const INDEX_BITS = 2 ** 22;

function ranksOf(values: Float32Array[], offsets: number[], total: number): Uint32Array[] {
  const ranks = values.map((v) => new Uint32Array(v.length));
  const bits = new Uint32Array(1);
  const f32 = new Float32Array(bits.buffer);
  if (total < INDEX_BITS) {
    const keys = new Float64Array(total);
    values.forEach((v, l) => {
      for (let k = 0; k < v.length; k++) {
        f32[0] = Math.abs(v[k]);
        keys[offsets[l] + k] = bits[0] * INDEX_BITS + offsets[l] + k;
      }
    });
    keys.sort();
    for (let r = 0; r < total; r++) {
      const g = keys[r] % INDEX_BITS;
      let layer = 0;
      while (layer + 1 < offsets.length && g >= offsets[layer + 1]) layer++;
      ranks[layer][g - offsets[layer]] = r;
    }
    return ranks;
  }
  // Huge networks: a comparator sort of indices (slower, still once per network).
  const abs = new Float32Array(total);
  values.forEach((v, l) => {
    for (let k = 0; k < v.length; k++) abs[offsets[l] + k] = Math.abs(v[k]);
  });
  const order = new Uint32Array(total);
  for (let k = 0; k < total; k++) order[k] = k;
  order.sort((a, b) => abs[a] - abs[b] || a - b);
  for (let r = 0; r < total; r++) {
    const g = order[r];
    let layer = 0;
    while (layer + 1 < offsets.length && g >= offsets[layer + 1]) layer++;
    ranks[layer][g - offsets[layer]] = r;
  }
  return ranks;
}

/** Ranks of the weights pruning works on (core's pruneViewOf: a convolution's kernel, tied over positions). */
export function buildMagnitudeRanks(network: Network): MagnitudeRanks {
  const views = network.layers.map((_, l) => pruneViewOf(network, l));
  const values = views.map((v) => v.weights.data);
  const local = values.map((v) => ranksOf([v], [0], v.length)[0]);
  const offsets: number[] = [];
  let total = 0;
  for (const v of values) {
    offsets.push(total);
    total += v.length;
  }
  const global = ranksOf(values, offsets, total);
  const copiesAt = new Float64Array(total);
  global.forEach((r, l) => {
    for (let k = 0; k < r.length; k++) copiesAt[r[k]] = views[l].copies;
  });
  const copiesBefore = new Float64Array(total + 1);
  for (let r = 0; r < total; r++) copiesBefore[r + 1] = copiesBefore[r] + copiesAt[r];
  const last = network.layers.length - 1;
  const classRows = isClassLayer(network, last)
    ? { layer: last, cols: views[last].weights.cols, ranks: rowRanks(views[last].weights) }
    : undefined;
  return { local, global, total, copiesBefore, ...(classRows ? { classRows } : {}) };
}

/** The class floor's weights at `sparsity` (1) in layer l, or undefined (magnitudePrune.ts). */
function protectedAt(
  ranks: MagnitudeRanks,
  l: number,
  sparsity: number,
  scope: PruneScope,
): Uint8Array | undefined {
  const c = ranks.classRows;
  if (!c || c.layer !== l) return undefined;
  const rows = c.ranks.length / c.cols;
  const k = classFanInAt(rows, c.cols, sparsity, scope, ranks.copiesBefore[ranks.total]);
  return k > 0 ? Uint8Array.from(c.ranks, (r) => (r < k ? 1 : 0)) : undefined;
}

/** Sorted ranks (in `r`'s order) of the protected weights. */
function protectedRanks(r: Uint32Array, protect: Uint8Array): Uint32Array {
  const out: number[] = [];
  for (let k = 0; k < r.length; k++) if (protect[k]) out.push(r[k]);
  return Uint32Array.from(out).sort();
}

/** How many of the sorted `ranks` are below r. */
function countBelow(ranks: Uint32Array, r: number): number {
  let lo = 0;
  let hi = ranks.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ranks[mid] < r) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Rank cuts per layer at `sparsity`: a weight is pruned iff its rank (global or local) is below
 * its layer's cut and the class floor does not protect it. The protected weights are stepped
 * over as magnitudePrune ranks them last: the cut moves up until as many unprotected weights
 * (global: copies) are pruned as without the floor.
 */
function cutsOf(
  network: Network,
  ranks: MagnitudeRanks,
  sparsity: number,
  scope: PruneScope,
): { cuts: number[]; protect: (Uint8Array | undefined)[] } {
  const protect = network.layers.map((_, l) => protectedAt(ranks, l, sparsity, scope));
  if (scope === 'local') {
    const cuts = ranks.local.map((r, l) => {
      const cut = Math.round(sparsity * r.length);
      const p = protect[l];
      if (!p) return cut;
      // Smallest rank bound leaving `cut` unprotected weights below it.
      const pr = protectedRanks(r, p);
      let lo = cut;
      let hi = r.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (mid - countBelow(pr, mid) >= cut) hi = mid;
        else lo = mid + 1;
      }
      return lo;
    });
    return { cuts, protect };
  }
  const pr = protect.some(Boolean)
    ? Uint32Array.from(
        protect.flatMap((p, l) => (p ? [...protectedRanks(ranks.global[l], p)] : [])),
      ).sort()
    : undefined;
  if (!pr) {
    const cut = globalCutOf(ranks, sparsity);
    return { cuts: network.layers.map(() => cut), protect };
  }
  // As globalCutOf, over the unprotected weights (the protected ones are dense weights, 1 copy).
  const before = ranks.copiesBefore;
  const target = Math.round(sparsity * before[ranks.total]);
  const isProtected = (r: number) => countBelow(pr, r + 1) > countBelow(pr, r);
  const g = (r: number) => {
    const f = before[r] - countBelow(pr, r);
    return isProtected(r) ? f : f + (before[r + 1] - before[r]) / 2;
  };
  let lo = 0;
  let hi = ranks.total;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (g(mid) <= target) lo = mid + 1;
    else hi = mid;
  }
  return { cuts: network.layers.map(() => lo), protect };
}

/**
 * How many of the smallest weights (by global rank) global pruning at `sparsity` drops: the
 * rule of core's smallestByCopies (take the next weight while at least half its copies fit
 * round(sparsity * all copies)); round(sparsity * total) when every weight is one copy.
 */
export function globalCutOf(ranks: MagnitudeRanks, sparsity: number): number {
  const before = ranks.copiesBefore;
  const target = Math.round(sparsity * before[ranks.total]);
  // Taken while before[r] + copies(r) / 2 <= target; that sum grows with r: binary search.
  let lo = 0;
  let hi = ranks.total;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((before[mid] + before[mid + 1]) / 2 <= target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Keep-masks pruning the smallest weights, round(sparsity * n) per layer (local) or by copies
 * over the network (global). A convolution's kernel mask is expanded to its tied layer mask.
 */
export function magnitudeMasksFromRanks(
  network: Network,
  ranks: MagnitudeRanks,
  sparsity: number,
  scope: PruneScope,
): Mask[] {
  const { cuts, protect } = cutsOf(network, ranks, sparsity, scope);
  return network.layers.map((_, l) => {
    const view = pruneViewOf(network, l);
    const r = scope === 'global' ? ranks.global[l] : ranks.local[l];
    const cut = cuts[l];
    const p = protect[l];
    const data = new Uint8Array(r.length);
    for (let k = 0; k < r.length; k++) data[k] = r[k] >= cut || p?.[k] ? 1 : 0;
    return view.expand({ rows: view.weights.rows, cols: view.weights.cols, data });
  });
}

export interface PreviewResult {
  readonly masks: Mask[];
  /** Working weights with pruned entries exactly 0 (new arrays). */
  readonly network: Network;
  /** Kept weights per W-frame tile, per layer (what countTileNonZeros of `masks` gives). */
  readonly counts: Uint32Array[];
}

/**
 * Magnitude pruning at `sparsity`, and for HE-PEx (theta given) the almost-zero tile step with
 * expansion, fused into two passes over the weights: pass 1 counts the weights magnitude pruning
 * keeps in every tile (from the ranks, no mask materialised); pass 2 writes mask, weights and the
 * final counts together. Same results as magnitudePrune + selectTilesByDensity + tileMask
 * (test/component/previewPrune.test.ts), ~4x faster: ~5 ms on 784-256-64-256-784.
 * A convolution runs the same passes on its kernel (filters x kernel*kernel*channels, with
 * core's kernel tiling), then expands the kernel mask and weights to the tied layer, so a
 * kernel weight is kept or pruned at every position; its counts are core's countTileNonZeros
 * over the expanded mask (~6 ms for 1152 x 4608).
 */
export function previewFromRanks(
  network: Network,
  ranks: MagnitudeRanks,
  plan: TilePlan,
  sparsity: number,
  scope: PruneScope,
  theta: number | null,
): PreviewResult {
  const { cuts, protect } = cutsOf(network, ranks, sparsity, scope);
  const masks: Mask[] = [];
  const counts: Uint32Array[] = [];
  const layers = network.layers.map((layer, l): Layer => {
    const r = scope === 'global' ? ranks.global[l] : ranks.local[l];
    const cut = cuts[l];
    if (layer.kind === 'conv') {
      const view = pruneViewOf(network, l);
      const tiling = pruneTilingOf(network, l, plan);
      const k = fusedPrune(view.weights, r, cut, tiling, scope, theta);
      const mask = view.expand({ rows: view.weights.rows, cols: view.weights.cols, data: k.mask });
      masks.push(mask);
      counts.push(countTileNonZeros(mask, plan.layers[l]));
      return convLayer(
        layer.geometry,
        k.data,
        layer.bias.slice(0, layer.geometry.filters),
        layer.activation,
      );
    }
    const { rows, cols } = layer.weights;
    const d = fusedPrune(layer.weights, r, cut, plan.layers[l], scope, theta, protect[l]);
    masks.push({ rows, cols, data: d.mask });
    counts.push(d.kept);
    return { ...layer, weights: { rows, cols, data: d.data } };
  });
  return { masks, counts, network: { task: network.task, layers } };
}

/**
 * One matrix's fused pass: keep-mask, masked weights (new arrays) and kept weights per tile of
 * `tiling`, for rank-cut magnitude pruning and (theta given) HE-PEx's density step.
 */
function fusedPrune(
  weights: Matrix,
  r: Uint32Array,
  cut: number,
  tiling: LayerTiling,
  scope: PruneScope,
  theta: number | null,
  /** Weights kept whatever their rank (the class floor). */
  protect?: Uint8Array,
): { mask: Uint8Array; data: Float32Array; kept: Uint32Array } {
  const { rows, cols, data: src } = weights;
  const colBlock = new Uint32Array(cols);
  for (let c = 0; c < cols; c++) colBlock[c] = (c / tiling.blockIn) | 0;
  const mask = new Uint8Array(src.length);
  const data = new Float32Array(src.length);
  const kept = new Uint32Array(tiling.tileCount);
  if (theta === null) {
    for (let row = 0; row < rows; row++) {
      const base = ((row / tiling.blockOut) | 0) * tiling.inBlocks;
      const off = row * cols;
      for (let c = 0; c < cols; c++) {
        const k = off + c;
        if (r[k] >= cut || protect?.[k]) {
          mask[k] = 1;
          data[k] = src[k];
          kept[base + colBlock[c]]++;
        }
      }
    }
    return { mask, data, kept };
  }
  for (let row = 0; row < rows; row++) {
    const base = ((row / tiling.blockOut) | 0) * tiling.inBlocks;
    const off = row * cols;
    for (let c = 0; c < cols; c++)
      if (r[off + c] >= cut || protect?.[off + c]) kept[base + colBlock[c]]++;
  }
  // Density bar: theta itself (global), or theta times the layer's densest tile (local),
  // as core/prune/expand.ts's selectTilesByDensity.
  const density = new Float64Array(tiling.tileCount);
  let max = 0;
  for (let t = 0; t < density.length; t++) {
    density[t] = kept[t] / tileArea(tiling, t);
    if (density[t] > max) max = density[t];
  }
  const bar = scope === 'local' ? theta * max : theta;
  const keep = new Uint8Array(tiling.tileCount);
  for (let t = 0; t < keep.length; t++) {
    keep[t] = density[t] > bar && density[t] > 0 ? 1 : 0;
    kept[t] = keep[t] ? tileArea(tiling, t) : 0;
  }
  for (let row = 0; row < rows; row++) {
    const base = ((row / tiling.blockOut) | 0) * tiling.inBlocks;
    const off = row * cols;
    for (let c = 0; c < cols; c++) {
      if (keep[base + colBlock[c]]) {
        mask[off + c] = 1;
        data[off + c] = src[off + c];
      }
    }
  }
  return { mask, data, kept };
}
