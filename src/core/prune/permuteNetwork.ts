import type { Mask } from '../model/matrix';
import { convolutionOf, forward, type Network } from '../model/network';
import { identityPermutation, type NetworkPermutation } from '../model/permutation';
import type { TileShape } from '../tiling/tileShape';
import { findPermutation, type PermutationSearchResult, type PermuteOptions } from './permute';
import { applyPermutation, composePermutations } from './applyPermutation';
import { unfoldClientPermutation } from './clientPermutation';

/**
 * One permutation step on a network that may already carry a client permutation: find neuron
 * orders for `masks`, fold the hidden ones into the weights and compose the input/output ones
 * with the permutation the network already has. Composing is what keeps the function: the
 * network was already reordered once, so a second search's orders are relative to that order,
 * and the client must apply both (first, then second) to raw samples.
 */
export interface PermuteNetworkInput {
  /** The server network: hidden orders folded in, inputs/outputs in `permutation`'s order. */
  readonly network: Network;
  /** Keep-masks the search groups (same shapes as the weights). */
  readonly masks: readonly Mask[];
  /** The client permutation the network already carries; absent: identity. */
  readonly permutation?: NetworkPermutation;
  /** A network of the same shape permuted alongside (expansion's dense reference). */
  readonly dense?: Network;
}

export interface PermutedNetwork {
  readonly network: Network;
  readonly masks: Mask[];
  readonly dense?: Network;
  /** The composed client permutation: raw samples -> this network's input order. */
  readonly permutation: NetworkPermutation;
  readonly search: PermutationSearchResult;
}

export function permuteNetwork(
  input: PermuteNetworkInput,
  tile: TileShape,
  options: Omit<PermuteOptions, 'conv'> = {},
): PermutedNetwork {
  const { network, masks } = input;
  const search = findPermutation(masks, tile, { ...options, conv: convolutionOf(network) });
  const applied = applyPermutation(network, search.orders, masks);
  const L = network.layers.length;
  const previous = input.permutation ?? {
    input: identityPermutation(network.layers[0].weights.cols),
    output: identityPermutation(network.layers[L - 1].weights.rows),
  };
  return {
    network: applied.network,
    masks: applied.masks!,
    ...(input.dense ? { dense: applyPermutation(input.dense, search.orders).network } : {}),
    permutation: {
      input: composePermutations(previous.input, search.permutation.input),
      output: composePermutations(previous.output, search.permutation.output),
    },
    search,
  };
}

/**
 * Plaintext outputs on raw samples (the dataset's order) of a server network with its client
 * permutation: what a client would get after decrypting and undoing the output order.
 * inputs: batch x raw input width; returns batch x outputs.
 */
export function forwardOnRawInputs(
  network: Network,
  permutation: NetworkPermutation | undefined,
  inputs: Float32Array,
  batch: number,
): Float32Array {
  const raw = permutation
    ? unfoldClientPermutation(
        network,
        network.layers.map((l) => allKept(l.weights.rows, l.weights.cols)),
        permutation,
      ).network
    : network;
  return forward(raw, inputs, batch);
}

const allKept = (rows: number, cols: number): Mask => ({
  rows,
  cols,
  data: new Uint8Array(rows * cols).fill(1),
});

/** max |a - b| over two equally long output arrays (the function check of a permutation). */
export function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let k = 0; k < a.length; k++) worst = Math.max(worst, Math.abs(a[k] - b[k]));
  return a.length === b.length ? worst : Number.POSITIVE_INFINITY;
}

/** A permutation step's result with its figures and the check that the function did not change. */
export interface PermuteStepResult {
  /** The network with hidden permutations folded in (input/output orders applied too). */
  readonly network: Network;
  readonly masks: Mask[];
  /** Composed with the permutation the network carried before. */
  readonly permutation: NetworkPermutation;
  readonly nonZeroTilesBefore: number;
  readonly nonZeroTilesAfter: number;
  readonly lowerBound: number;
  readonly elapsedMs: number;
  /**
   * max |outputs after - outputs before| on the check samples, raw inputs in, client
   * permutations applied (float32 rounding: ~1e-6 for a correct permutation).
   */
  readonly maxOutputChange: number;
  readonly checkSamples: number;
}

/**
 * permuteNetwork, then the function check on `checkInputs` (samples x raw input width): the
 * permuted network with its composed client permutation must give the outputs the network gave
 * before. What the studio's Permute button runs in its worker.
 */
export function permuteAndCheck(
  input: PermuteNetworkInput,
  tile: TileShape,
  checkInputs: Float32Array,
  checkSamples: number,
  options: Omit<PermuteOptions, 'conv'> = {},
): PermuteStepResult {
  const permuted = permuteNetwork(input, tile, options);
  const before = forwardOnRawInputs(input.network, input.permutation, checkInputs, checkSamples);
  const after = forwardOnRawInputs(
    permuted.network,
    permuted.permutation,
    checkInputs,
    checkSamples,
  );
  const { search } = permuted;
  return {
    network: permuted.network,
    masks: permuted.masks,
    permutation: permuted.permutation,
    nonZeroTilesBefore: search.nonZeroTilesBefore,
    nonZeroTilesAfter: search.nonZeroTilesAfter,
    lowerBound: search.lowerBound,
    elapsedMs: search.elapsedMs,
    maxOutputChange: maxAbsDifference(before, after),
    checkSamples,
  };
}
