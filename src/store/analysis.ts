import { costOf, type CostReport } from '../core/costModel';
import type { Mask } from '../core/matrix';
import { maskNetwork, masksOfNonZeros } from '../core/prune/common';
import { layerSizes, type Network } from '../core/network';
import { countTileNonZeros, planTiles, type TilePlan } from '../core/tilePlan';
import type { TileShape } from '../core/tileShape';
import type { Analysis, Shown } from './types';

/**
 * Counts and predicted cost of what is shown: per-tile kept weights (the grids' colours), the
 * execution plan's ciphertexts, latency and memory, and the dense model's for "before -> after".
 * One pass over the masks plus the cost model's pass over tiles: a few ms for 784-256-64-256-784.
 */
const denseCosts = new Map<string, CostReport>();

function denseCostFor(plan: TilePlan, network: Network): CostReport {
  const { t1, t2, batch, ringDegree } = plan.tile;
  const acts = network.layers.map((l) => JSON.stringify(l.activation)).join(';');
  const key = `${layerSizes(network).join(',')}|${t1}x${t2}x${batch}|${ringDegree}|${acts}`;
  let cost = denseCosts.get(key);
  if (!cost) {
    cost = costOf(
      plan,
      network.layers.map((l) => l.activation),
    );
    if (denseCosts.size > 32) denseCosts.clear();
    denseCosts.set(key, cost);
  }
  return cost;
}

/** `knownCounts`: per-tile kept counts the caller already has (the fused preview computes them). */
export function analyse(
  shown: Shown,
  tile: TileShape,
  knownCounts?: readonly Uint32Array[],
): Analysis {
  const { network, masks } = shown;
  const plan = planTiles(layerSizes(network), tile);
  const counts = knownCounts ?? masks.map((m, l) => countTileNonZeros(m, plan.layers[l]));
  const flags = counts.map((c) => {
    const f = new Uint8Array(c.length);
    for (let t = 0; t < c.length; t++) f[t] = c[t] > 0 ? 1 : 0;
    return f;
  });
  const cost = costOf(
    plan,
    network.layers.map((l) => l.activation),
    flags,
  );
  return {
    plan,
    counts,
    cost,
    denseCost: denseCostFor(plan, network),
    sparsity: maskSparsityOf(masks),
  };
}

export function maskSparsityOf(masks: readonly Mask[]): number {
  let zeros = 0;
  let total = 0;
  for (const m of masks) {
    total += m.data.length;
    for (let k = 0; k < m.data.length; k++) zeros += 1 - m.data[k];
  }
  return total ? zeros / total : 0;
}

/** Keep-masks of a model: its stored masks, else its non-zero weights. */
export function masksOf(network: Network, masks?: readonly Mask[]): Mask[] {
  if (masks && masks.length === network.layers.length) return masks.slice();
  return masksOfNonZeros(network);
}

/** The network with pruned weights set to exactly 0 (new weight arrays). */
export const applyMasks = maskNetwork;
