import type { Mask } from '../model/matrix';
import { validateNetwork, type Network } from '../model/network';
import {
  checkMasks,
  checkScope,
  checkSparsity,
  pruneViewOf,
  smallestByCopies,
  smallestIndices,
  type PruneScope,
} from './common';
import { ownMask, weightCopies } from '../model/layerKinds';

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
 * Magnitude pruning of single weights (docs/method.md section 3, step 1): zero the weights of smallest
 * |w|. Returns one keep-mask per layer (layer l's weight shape); the network is not touched.
 * Exactly round(sparsity * n) weights are pruned (n: per layer, or all weights when global);
 * ties at the threshold go to the lower index so results are reproducible. A convolution prunes
 * its kernel and returns the tied layer mask: locally n counts each kernel weight once; globally
 * a kernel weight counts once per position (its copies in the dense view), so the total is met
 * to within half a kernel weight's copies.
 */
export function magnitudePrune(network: Network, options: MagnitudePruneOptions): Mask[] {
  validateNetwork(network);
  const sparsity = checkSparsity(options.sparsity);
  const scope = checkScope(options.scope ?? 'local');
  if (options.masks) checkMasks(network, options.masks);
  // A convolution prunes its kernel (each weight once, standing for one copy per position).
  const views = network.layers.map((_, l) => pruneViewOf(network, l, options.masks));

  // |w|, with already-pruned weights scored -1 so they are pruned first.
  const scoresOf = (l: number): Float32Array => {
    const w = views[l].weights.data;
    const m = views[l].prior?.data;
    const s = new Float32Array(w.length);
    for (let k = 0; k < w.length; k++) s[k] = m && !m[k] ? -1 : Math.abs(w[k]);
    return s;
  };
  const masks = views.map(({ weights }) => ({
    rows: weights.rows,
    cols: weights.cols,
    data: new Uint8Array(weights.data.length).fill(1),
  }));
  const expanded = () => masks.map((m, l) => views[l].expand(m));

  if (scope === 'local') {
    views.forEach((_, l) => {
      const scores = scoresOf(l);
      const pruned = smallestIndices(scores, Math.round(sparsity * scores.length));
      const data = masks[l].data;
      for (let k = 0; k < pruned.length; k++) data[pruned[k]] = 0;
    });
    return expanded();
  }

  // Global: one ranking over the concatenation of every layer's weights; a kernel weight
  // counts as many weights as it has copies, which is what it costs in the dense view.
  const offsets: number[] = [];
  let total = 0;
  let copiesTotal = 0;
  for (const v of views) {
    offsets.push(total);
    total += v.weights.data.length;
    copiesTotal += v.weights.data.length * v.copies;
  }
  const all = new Float32Array(total);
  const copies = new Uint32Array(total);
  views.forEach((v, l) => {
    all.set(scoresOf(l), offsets[l]);
    copies.fill(v.copies, offsets[l], offsets[l] + v.weights.data.length);
  });
  const pruned = smallestByCopies(all, copies, Math.round(sparsity * copiesTotal));
  let l = 0;
  for (let k = 0; k < pruned.length; k++) {
    const g = pruned[k];
    // pruned is ascending, so the layer index only moves forward.
    while (l + 1 < offsets.length && g >= offsets[l + 1]) l++;
    masks[l].data[g - offsets[l]] = 0;
  }
  return expanded();
}

/**
 * Fraction of zero weights over all layers. A convolution counts its kernel entries once per
 * position (the weights it really has); the zeros between positions and in the patch padding are
 * structure, not pruning.
 */
export function maskSparsity(network: Network, masks: readonly Mask[]): number {
  let zeros = 0;
  let total = 0;
  masks.forEach((m, l) => {
    const layer = network.layers[l];
    const copies = weightCopies(layer);
    const data = ownMask(layer, m).data;
    let z = 0;
    for (let k = 0; k < data.length; k++) z += 1 - data[k];
    zeros += z * copies;
    total += data.length * copies;
  });
  return total ? zeros / total : 0;
}
