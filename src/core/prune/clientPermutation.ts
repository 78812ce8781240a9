import type { Mask } from '../model/matrix';
import type { Network } from '../model/network';
import {
  identityPermutation,
  invertPermutation,
  type NetworkPermutation,
  type Permutation,
} from '../model/permutation';
import { applyPermutation } from './applyPermutation';

/**
 * Puts the client permutation back into the network: W_0's columns and W_L's rows (and b_L)
 * return to the dataset's order, so a trainer that knows nothing of permutations sees the same
 * function. Hidden orders stay folded. `masks` follow the weights.
 */
export function unfoldClientPermutation(
  network: Network,
  masks: readonly Mask[],
  permutation: NetworkPermutation,
): { network: Network; masks: Mask[] } {
  const orders: Permutation[] = [
    invertPermutation(permutation.input),
    ...network.layers.slice(0, -1).map((l) => identityPermutation(l.weights.rows)),
    invertPermutation(permutation.output),
  ];
  const res = applyPermutation(network, orders, masks);
  return { network: res.network, masks: res.masks! };
}

/** The inverse of unfoldClientPermutation. */
export function foldClientPermutation(
  network: Network,
  masks: readonly Mask[],
  permutation: NetworkPermutation,
): { network: Network; masks: Mask[] } {
  const orders: Permutation[] = [
    permutation.input,
    ...network.layers.slice(0, -1).map((l) => identityPermutation(l.weights.rows)),
    permutation.output,
  ];
  const res = applyPermutation(network, orders, masks);
  return { network: res.network, masks: res.masks! };
}
