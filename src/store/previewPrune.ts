import type { Mask } from '../core/matrix';
import type { Network } from '../core/network';
import type { PruneScope } from '../core/prune/common';
import { tileArea, type TilePlan } from '../core/tilePlan';

/**
 * Slider-speed pruning for the studio. core/prune/magnitudePrune sorts every weight on each call
 * (~50 ms for 784-256-64-256-784); a slider needs a mask per frame. So the ranking is done once per
 * network: rank[k] is weight k's position in ascending |w| order (ties: lower index first, the
 * same rule as magnitudePrune), and the mask at any sparsity is one comparison per weight:
 * keep iff rank >= round(sparsity * n). test/component/previewPrune.test.ts checks the masks are
 * identical to magnitudePrune's.
 */
export interface MagnitudeRanks {
  /** Per layer: rank within the layer (local scope). */
  readonly local: readonly Uint32Array[];
  /** Per layer: rank within all weights of the network (global scope). */
  readonly global: readonly Uint32Array[];
  readonly total: number;
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

export function buildMagnitudeRanks(network: Network): MagnitudeRanks {
  const values = network.layers.map((l) => l.weights.data);
  const local = values.map((v) => ranksOf([v], [0], v.length)[0]);
  const offsets: number[] = [];
  let total = 0;
  for (const v of values) {
    offsets.push(total);
    total += v.length;
  }
  return { local, global: ranksOf(values, offsets, total), total };
}

/** Keep-masks pruning round(sparsity * n) smallest weights, n per layer (local) or overall (global). */
export function magnitudeMasksFromRanks(
  network: Network,
  ranks: MagnitudeRanks,
  sparsity: number,
  scope: PruneScope,
): Mask[] {
  const globalCut = Math.round(sparsity * ranks.total);
  return network.layers.map((layer, l) => {
    const r = scope === 'global' ? ranks.global[l] : ranks.local[l];
    const cut = scope === 'global' ? globalCut : Math.round(sparsity * r.length);
    const data = new Uint8Array(r.length);
    for (let k = 0; k < r.length; k++) data[k] = r[k] >= cut ? 1 : 0;
    return { rows: layer.weights.rows, cols: layer.weights.cols, data };
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
 */
export function previewFromRanks(
  network: Network,
  ranks: MagnitudeRanks,
  plan: TilePlan,
  sparsity: number,
  scope: PruneScope,
  theta: number | null,
): PreviewResult {
  const globalCut = Math.round(sparsity * ranks.total);
  const masks: Mask[] = [];
  const counts: Uint32Array[] = [];
  const layers = network.layers.map((layer, l) => {
    const tiling = plan.layers[l];
    const r = scope === 'global' ? ranks.global[l] : ranks.local[l];
    const cut = scope === 'global' ? globalCut : Math.round(sparsity * r.length);
    const { rows, cols, data: src } = layer.weights;
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
          if (r[k] >= cut) {
            mask[k] = 1;
            data[k] = src[k];
            kept[base + colBlock[c]]++;
          }
        }
      }
    } else {
      for (let row = 0; row < rows; row++) {
        const base = ((row / tiling.blockOut) | 0) * tiling.inBlocks;
        const off = row * cols;
        for (let c = 0; c < cols; c++) if (r[off + c] >= cut) kept[base + colBlock[c]]++;
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
    }
    masks.push({ rows, cols, data: mask });
    counts.push(kept);
    return { ...layer, weights: { rows, cols, data } };
  });
  return { masks, counts, network: { task: network.task, layers } };
}
