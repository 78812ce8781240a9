import { tiedOrderOf } from '../model/convOrders';
import { HepexError } from '../model/errors';
import type { Mask } from '../model/matrix';
import { convolutionOf, validateNetwork, type Network } from '../model/network';
import { checkPermutation, type NetworkPermutation, type Permutation } from '../model/permutation';
import { countTileNonZeros, planTiles } from '../tiling/tilePlan';
import type { TileShape } from '../tiling/tileShape';
import { checkMasks } from './common';
import { sizesOfMasks } from './permuteProblem';

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
