import type { Mask } from '../matrix';
import { validateNetwork, type Network } from '../network';
import { checkMasks, checkScope, checkSparsity, smallestIndices, type PruneScope } from './common';

export interface MagnitudePruneOptions {
  /** Fraction of weights to zero, in [0, 1). Biases are never pruned. */
  readonly sparsity: number;
  /** 'local': every layer reaches the sparsity; 'global': one |w| threshold over all layers. */
  readonly scope?: PruneScope;
  /**
   * Weights already pruned (0 in these masks) stay pruned and count towards the sparsity, so
   * pruning at 0.9 after 0.8 removes the next 10%, as tfmot's schedules do.
   */
  readonly masks?: readonly Mask[];
}

/**
 * Magnitude pruning of single weights (HEPEX.md section 3, step 1): zero the weights of smallest
 * |w|. Returns one keep-mask per layer (layer l's weight shape); the network is not touched.
 * Exactly round(sparsity * n) weights are pruned (n: per layer, or all weights when global);
 * ties at the threshold go to the lower index so results are reproducible.
 */
export function magnitudePrune(network: Network, options: MagnitudePruneOptions): Mask[] {
  validateNetwork(network);
  const sparsity = checkSparsity(options.sparsity);
  const scope = checkScope(options.scope ?? 'local');
  if (options.masks) checkMasks(network, options.masks);
  const prior = options.masks;

  // |w|, with already-pruned weights scored -1 so they are pruned first.
  const scoresOf = (l: number): Float32Array => {
    const w = network.layers[l].weights.data;
    const m = prior?.[l].data;
    const s = new Float32Array(w.length);
    for (let k = 0; k < w.length; k++) s[k] = m && !m[k] ? -1 : Math.abs(w[k]);
    return s;
  };
  const masks = network.layers.map(({ weights }) => ({
    rows: weights.rows,
    cols: weights.cols,
    data: new Uint8Array(weights.data.length).fill(1),
  }));

  if (scope === 'local') {
    network.layers.forEach((_, l) => {
      const scores = scoresOf(l);
      const pruned = smallestIndices(scores, Math.round(sparsity * scores.length));
      const data = masks[l].data;
      for (let k = 0; k < pruned.length; k++) data[pruned[k]] = 0;
    });
    return masks;
  }

  // Global: one ranking over the concatenation of every layer's weights.
  const offsets: number[] = [];
  let total = 0;
  for (const layer of network.layers) {
    offsets.push(total);
    total += layer.weights.data.length;
  }
  const all = new Float32Array(total);
  network.layers.forEach((_, l) => all.set(scoresOf(l), offsets[l]));
  const pruned = smallestIndices(all, Math.round(sparsity * total));
  let l = 0;
  for (let k = 0; k < pruned.length; k++) {
    const g = pruned[k];
    // pruned is ascending, so the layer index only moves forward.
    while (l + 1 < offsets.length && g >= offsets[l + 1]) l++;
    masks[l].data[g - offsets[l]] = 0;
  }
  return masks;
}

/** Fraction of zeros over all masks (weights), the sparsity figure the UI shows. */
export function maskSparsity(masks: readonly Mask[]): number {
  let zeros = 0;
  let total = 0;
  for (const m of masks) {
    total += m.data.length;
    for (let k = 0; k < m.data.length; k++) zeros += m.data[k] ? 0 : 1;
  }
  return total ? zeros / total : 0;
}
