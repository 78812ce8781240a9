import { tiedOrderOf } from './convOrders';
import type { Mask } from './matrix';
import { convolutionOf, type Network } from './network';
import {
  checkPermutation,
  invertPermutation,
  type NetworkPermutation,
  type Permutation,
} from './permutation';

/**
 * The two orders a permuted network's weights can be written in:
 *   packing order  what the HE server runs: the client permutes each input x_p[k] = x[input[k]]
 *                  before encryption and undoes `output` after decryption (permutation.ts);
 *   data order     the dataset's own order: the network maps raw inputs to raw outputs, as a
 *                  trainer or a plain tfjs reader that knows nothing of permutations expects.
 * Only W_0's columns, W_L's rows and b_L differ between the two; hidden orders stay folded in.
 * Moving values only (no arithmetic), so a round trip gives back the same floats bit for bit.
 * A conv-first network's input order is over its im2col patch columns (positions * patchWidth)
 * and must be tied (convOrders.ts), so the kernel stays one shared filters x patchWidth block.
 */
export interface OrderedNetwork {
  readonly network: Network;
  readonly masks?: Mask[];
}

/** Packing order -> data order (the inverse of toPackingOrder). */
export function toDataOrder(
  network: Network,
  permutation: NetworkPermutation,
  masks?: readonly Mask[],
): OrderedNetwork {
  checkClientOrders(network, permutation);
  return reorder(
    network,
    invertPermutation(permutation.input),
    invertPermutation(permutation.output),
    masks,
  );
}

/** Data order -> packing order. */
export function toPackingOrder(
  network: Network,
  permutation: NetworkPermutation,
  masks?: readonly Mask[],
): OrderedNetwork {
  checkClientOrders(network, permutation);
  return reorder(network, permutation.input, permutation.output, masks);
}

/** Throws invalid-argument when the orders do not fit the network (length, not tied for a conv). */
function checkClientOrders(network: Network, permutation: NetworkPermutation): void {
  const L = network.layers.length;
  checkPermutation(permutation.input, network.layers[0].weights.cols, 'The input permutation');
  checkPermutation(
    permutation.output,
    network.layers[L - 1].weights.rows,
    'The output permutation',
  );
  const conv = convolutionOf(network);
  if (conv) {
    tiedOrderOf(conv, permutation.input, 'inputs');
    if (L === 1) tiedOrderOf(conv, permutation.output, 'outputs');
  }
}

/** W_0 columns by colOrder, W_L rows and b_L by rowOrder: out[kr][kc] = w[rowOrder[kr]][colOrder[kc]]. */
function reorder(
  network: Network,
  colOrder: Permutation,
  rowOrder: Permutation,
  masks: readonly Mask[] | undefined,
): OrderedNetwork {
  const L = network.layers.length;
  const move = <T extends Float32Array | Uint8Array>(
    data: T,
    rows: number,
    cols: number,
    l: number,
  ): T => {
    const out = new (data.constructor as new (n: number) => T)(data.length);
    for (let kr = 0; kr < rows; kr++) {
      const src = (l === L - 1 ? rowOrder[kr] : kr) * cols;
      const dst = kr * cols;
      if (l === 0) for (let kc = 0; kc < cols; kc++) out[dst + kc] = data[src + colOrder[kc]];
      else out.set(data.subarray(src, src + cols), dst);
    }
    return out;
  };
  const layers = network.layers.map((layer, l) => {
    const { rows, cols, data } = layer.weights;
    const bias =
      l === L - 1
        ? Float32Array.from(rowOrder, (r) => layer.bias[r])
        : Float32Array.from(layer.bias);
    return { ...layer, weights: { rows, cols, data: move(data, rows, cols, l) }, bias };
  });
  return {
    network: { task: network.task, layers },
    ...(masks
      ? {
          masks: masks.map((m, l) => ({
            rows: m.rows,
            cols: m.cols,
            data: move(m.data, m.rows, m.cols, l),
          })),
        }
      : {}),
  };
}
