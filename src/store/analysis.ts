import { kernelEntries, kernelMask, outputSize } from '../core/model/conv';
import { kernelTiling } from '../core/tiling/convTiling';
import {
  costOf,
  costOfExecution,
  REFERENCE_TIMINGS,
  unprunedTileFlags,
  type CostReport,
  type OpTimingTable,
} from '../core/he/costModel';
import { planExecution } from '../core/tiling/executionPlan';
import type { Mask } from '../core/model/matrix';
import { maskNetwork, masksOfNonZeros } from '../core/prune/common';
import { convolutionOf, layerSizes, type ConvLayer, type Network } from '../core/model/network';
import {
  countTileNonZeros,
  nonZeroTileFlags,
  planTiles,
  type LayerTiling,
  type TilePlan,
} from '../core/tiling/tilePlan';
import type { TileShape } from '../core/tiling/tileShape';
import type { Analysis, KernelView, Shown } from './types';

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
  const convs = network.layers
    .map((l) => (l.kind === 'conv' ? JSON.stringify(l.geometry) : ''))
    .join(';');
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
  shown: Shown,
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
    sparsity: maskSparsityOf(network, masks),
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

/**
 * Fraction of zero weights over all layers. A convolution counts its kernel entries once per
 * position (the weights it really has); the zeros between positions and in the patch padding are
 * structure, not pruning.
 */
export function maskSparsityOf(network: Network, masks: readonly Mask[]): number {
  let zeros = 0;
  let total = 0;
  masks.forEach((m, l) => {
    const layer = network.layers[l];
    const copies = layer.kind === 'conv' ? outputSize(layer.geometry).positions : 1;
    const data = layer.kind === 'conv' ? kernelMask(layer.geometry, m).data : m.data;
    let z = 0;
    for (let k = 0; k < data.length; k++) z += 1 - data[k];
    zeros += z * copies;
    total += data.length * copies;
  });
  return total ? zeros / total : 0;
}

/** Keep-masks of a model: its stored masks, else its non-zero weights. */
export function masksOf(network: Network, masks?: readonly Mask[]): Mask[] {
  if (masks && masks.length === network.layers.length) return masks.slice();
  return masksOfNonZeros(network);
}

/** The network with pruned weights set to exactly 0 (new weight arrays). */
export const applyMasks = maskNetwork;
