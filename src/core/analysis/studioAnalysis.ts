import { kernelEntries, outputSize } from '../model/conv';
import { kernelTiling } from '../tiling/convTiling';
import {
  costOf,
  costOfExecution,
  REFERENCE_TIMINGS,
  unprunedTileFlags,
  type CostReport,
  type OpTimingTable,
} from '../he/costModel';
import { planExecution } from '../tiling/executionPlan';
import type { Mask } from '../model/matrix';
import { maskNetwork, masksOfNonZeros } from '../prune/common';
import { maskSparsity } from '../prune/magnitudePrune';
import {
  convolutionOf,
  layerSizes,
  type ConvGeometry,
  type ConvLayer,
  type Network,
} from '../model/network';
import {
  countTileNonZeros,
  nonZeroTileFlags,
  planTiles,
  type LayerTiling,
  type TilePlan,
} from '../tiling/tilePlan';
import type { TileShape } from '../tiling/tileShape';
import { geometryOf } from '../model/layerKinds';

/** Everything derived from (a network and its masks, tile): recomputed together, replaced together. */
export interface Analysis {
  readonly plan: TilePlan;
  /** Per layer, kept weights per W-frame tile. */
  readonly counts: readonly Uint32Array[];
  /**
   * Per layer, 1 per W-frame tile that is a weight ciphertext: non-zero, its input live and its
   * output needed (executionPlan.ts). Non-zero tiles of dead neurons fold into constants. The
   * headline count is the sum over all layers.
   */
  readonly active: readonly Uint8Array[];
  readonly cost: CostReport;
  readonly denseCost: CostReport;
  /** Fraction of zero weights over all layers (a convolution's kernel entries once per position). */
  readonly sparsity: number;
  /** Per layer: what the grids paint for a convolution (its kernel block), null for dense layers. */
  readonly kernels: readonly (KernelView | null)[];
}

/**
 * A conv layer as the studio shows it: position 0's kernel block (filters x patchWidth, the
 * padding columns kernel*kernel*channels.. last and always 0), tiled with the layer's blockOut x
 * blockIn. Every kernel tile repeats at each of `positions` positions, so the layer's non-zero
 * tiles (the core's count over the expanded matrix) = positions x nonZeroTiles when blockOut
 * divides filters and blockIn divides patchWidth.
 */
export interface KernelView {
  readonly geometry: ConvGeometry;
  readonly positions: number;
  readonly tiling: LayerTiling;
  /** filters x patchWidth, row-major. */
  readonly weights: Float32Array;
  readonly mask: Uint8Array;
  /** Kept weights per kernel tile (tiling's W-frame index). */
  readonly counts: Uint32Array;
  readonly nonZeroTiles: number;
}

/**
 * Counts and predicted cost of what is shown: per-tile kept weights (the grids' colours), the
 * execution plan's ciphertexts, latency and memory, and the dense model's for "before -> after".
 * One pass over the masks plus the cost model's pass over tiles: a few ms for 784-256-64-256-784.
 */
const denseCosts = new Map<string, CostReport>();

function denseCostFor(
  plan: TilePlan,
  network: Network,
  timings: readonly OpTimingTable[],
): CostReport {
  const { t1, t2, batch, ringDegree, first } = plan.tile;
  const acts = network.layers.map((l) => JSON.stringify(l.activation)).join(';');
  const convs = network.layers.map((l) => JSON.stringify(geometryOf(l) ?? '')).join(';');
  const source = timings.find((t) => t.ringDegree === ringDegree)?.source ?? '';
  const key = `${layerSizes(network).join(',')}|${t1}x${t2}x${batch}:${first}|${ringDegree}|${acts}|${convs}|${source}`;
  let cost = denseCosts.get(key);
  if (!cost) {
    cost = costOf(
      plan,
      network.layers.map((l) => l.activation),
      unprunedTileFlags(plan, convolutionOf(network)),
      { timings },
    );
    if (denseCosts.size > 32) denseCosts.clear();
    denseCosts.set(key, cost);
  }
  return cost;
}

/**
 * `knownCounts`: per-tile kept counts the caller already has (the fused preview computes them).
 * `timings`: the tables the cost model prices with (calibrated here, else reference).
 */
export function analyse(
  shown: { readonly network: Network; readonly masks: readonly Mask[] },
  tile: TileShape,
  knownCounts?: readonly Uint32Array[],
  timings: readonly OpTimingTable[] = REFERENCE_TIMINGS,
): Analysis {
  const { network, masks } = shown;
  const plan = planTiles(layerSizes(network), tile);
  const counts = knownCounts ?? masks.map((m, l) => countTileNonZeros(m, plan.layers[l]));
  const exec = planExecution(
    plan,
    counts.map(nonZeroTileFlags),
    network.layers.map((l) => l.activation),
  );
  return {
    plan,
    counts,
    active: exec.layers.map((l) => l.activeTiles),
    cost: costOfExecution(exec, { timings }),
    denseCost: denseCostFor(plan, network, timings),
    sparsity: maskSparsity(network, masks),
    kernels: network.layers.map((l, i) =>
      l.kind === 'conv' ? kernelViewOf(l, masks[i], plan.layers[i]) : null,
    ),
  };
}

/**
 * Position 0's block of a conv layer: weights and mask filters x patchWidth (padding columns
 * included), its tile counts under the layer's own blocks and orientation. What the studio paints
 * instead of the positions*filters x positions*patchWidth layer, whose tiles repeat at each position.
 */
function kernelViewOf(layer: ConvLayer, mask: Mask, tiling: LayerTiling): KernelView {
  const g = layer.geometry;
  const cols = layer.weights.cols;
  const weights = kernelEntries(g, layer.weights.data, cols, g.patchWidth);
  const block = kernelEntries(g, mask.data, cols, g.patchWidth);
  const blockTiling = kernelTiling(g, tiling, g.patchWidth);
  const counts = countTileNonZeros(
    { rows: g.filters, cols: g.patchWidth, data: block },
    blockTiling,
  );
  let nonZeroTiles = 0;
  for (let t = 0; t < counts.length; t++) if (counts[t] > 0) nonZeroTiles++;
  return {
    geometry: g,
    positions: outputSize(g).positions,
    tiling: blockTiling,
    weights,
    mask: block,
    counts,
    nonZeroTiles,
  };
}

/** Keep-masks of a model: its stored masks, else its non-zero weights. */
export function masksOf(network: Network, masks?: readonly Mask[]): Mask[] {
  if (masks && masks.length === network.layers.length) return masks.slice();
  return masksOfNonZeros(network);
}

/** The network with pruned weights set to exactly 0 (new weight arrays). */
export const applyMasks = maskNetwork;
