import { HepexError } from '../model/errors';
import type { Mask, Matrix } from '../model/matrix';
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
  /**
   * A classifier's output neurons (its classes) each keep at least this multiple of the
   * network's kept fraction of their incoming weights (at least one), their largest, whatever
   * the ranking says: classFanIn(...) weights. Default CLASS_FLOOR; 0: no floor.
   * Reconstruction networks have none (an output pixel on the border has nothing to learn).
   */
  readonly classFloor?: number;
}

/**
 * Why a floor: one ranking over layers of different scale can take a whole class away. The
 * Fashion-MNIST MLP 784-128-10 trained on 60,000 images (40 epochs, 88.15% on 2,000 test
 * images) has first-layer weights twice the MNIST model's (median |w| 0.105 against 0.053), so
 * global pruning at 0.9 kept 70 of its 1,280 output weights and left 5 of the 10 classes with
 * none: a class without weights is a constant logit, the mask holds it so, and no fine-tune
 * brings it back (4 epochs: 55.05%, the loss stuck near 1.0). Kept per class after the same
 * retrain (1 px shifts, as then): 8 weights 81.0%, 32 (2.5x the kept fraction) 85.9%, 39 (3x)
 * 85.55%, all 128 87.35%; local pruning (12 per class) 81.35%. At 3x the floor holds at most
 * 3 x 1.3% of the MLP's kept weights and does not bind on the MNIST MLP from 0.9 to 0.98
 * (global pruning keeps 16 to 46 per class there): HE-PEx at 0.98 on it, 4 gradual rounds,
 * 320 ct at 94.70% with the floor, 323 ct at 94.75% without.
 */
export const CLASS_FLOOR = 3;

/** Weights each class keeps at `sparsity`: ceil(floor x (1 - sparsity) x fanIn), 1..fanIn (0: no floor). */
export function classFanIn(sparsity: number, fanIn: number, floor = CLASS_FLOOR): number {
  if (floor <= 0) return 0;
  return Math.min(fanIn, Math.max(1, Math.ceil(floor * (1 - sparsity) * fanIn - 1e-9)));
}

/**
 * The class floor's weights per output row of a rows x cols class layer, capped so the floor
 * alone never exceeds what pruning keeps: locally the row's own share, floor((1 - s) x cols)
 * (local pruning meets its sparsity in every layer); globally the network's kept copies shared
 * over the rows (`copies`: all weights of the network, a kernel weight once per position).
 */
export function classFanInAt(
  rows: number,
  cols: number,
  sparsity: number,
  scope: PruneScope,
  copies: number,
  floor = CLASS_FLOOR,
): number {
  const k = classFanIn(sparsity, cols, floor);
  const cap =
    scope === 'local'
      ? Math.floor((1 - sparsity) * cols + 1e-9)
      : Math.floor((copies - Math.round(sparsity * copies)) / rows);
  return Math.max(0, Math.min(k, cap));
}

/** Layer l is a classifier's (dense) output layer, the one the class floor applies to. */
export const isClassLayer = (network: Network, l: number): boolean =>
  network.task === 'classification' &&
  l === network.layers.length - 1 &&
  network.layers[l].kind !== 'conv';

/**
 * Each weight's rank within its output row by descending |w| (ties: lower index first): the
 * class floor keeps a row's weights of rank < classFanIn. Weights already pruned (0 in prior)
 * rank after every live one.
 */
export function rowRanks(weights: Matrix, prior?: Mask): Uint32Array {
  const { rows, cols, data } = weights;
  const out = new Uint32Array(rows * cols);
  const order = new Uint32Array(cols);
  for (let r = 0; r < rows; r++) {
    const at = r * cols;
    const score = (c: number) => (prior && !prior.data[at + c] ? -1 : Math.abs(data[at + c]));
    for (let c = 0; c < cols; c++) order[c] = c;
    order.sort((a, b) => score(b) - score(a) || a - b);
    for (let k = 0; k < cols; k++) out[at + order[k]] = k;
  }
  return out;
}

/**
 * Layer l's weights the class floor protects (1), or undefined when it has none: the `perRow`
 * largest live weights of each output row of a classifier's last layer.
 */
export function protectedWeights(
  network: Network,
  l: number,
  perRow: number,
  prior?: Mask,
): Uint8Array | undefined {
  if (!isClassLayer(network, l) || perRow <= 0) return undefined;
  const ranks = rowRanks(network.layers[l].weights, prior);
  return Uint8Array.from(ranks, (r, i) => (r < perRow && (!prior || prior.data[i]) ? 1 : 0));
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
  const floor = checkClassFloor(options.classFloor ?? CLASS_FLOOR);
  const last = network.layers.length - 1;
  const allCopies = views.reduce((n, v) => n + v.weights.data.length * v.copies, 0);
  const perRow = isClassLayer(network, last)
    ? classFanInAt(
        network.layers[last].weights.rows,
        network.layers[last].weights.cols,
        sparsity,
        scope,
        allCopies,
        floor,
      )
    : 0;

  // |w|, with already-pruned weights scored -1 so they are pruned first, and the class floor's
  // weights +Infinity so they are pruned last.
  const scoresOf = (l: number): Float32Array => {
    const w = views[l].weights.data;
    const m = views[l].prior?.data;
    const keep = protectedWeights(network, l, perRow, views[l].prior);
    const s = new Float32Array(w.length);
    for (let k = 0; k < w.length; k++)
      s[k] = m && !m[k] ? -1 : keep?.[k] ? Infinity : Math.abs(w[k]);
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

/** A class floor is a number from 0 to 1000; throws `invalid-argument`. */
export function checkClassFloor(floor: number): number {
  if (!(Number.isFinite(floor) && floor >= 0 && floor <= 1000))
    throw new HepexError(
      'invalid-argument',
      `The class floor (a multiple of the kept fraction) must be between 0 and 1000, got ${floor}.`,
    );
  return floor;
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
