/// <reference lib="webworker" />
import { expose, transfer } from 'comlink';
import type { Mask } from '../src/core/matrix';
import type { Network } from '../src/core/network';
import type { NetworkPermutation } from '../src/core/permutation';
import { applyPermutation, findPermutation } from '../src/core/prune/permute';
import type { TileShape } from '../src/core/tileShape';
import { installHepexErrorTransfer } from './errorTransfer';

/**
 * The pipeline worker: a thin comlink facade over src/core/prune, so heavy steps (permutation
 * search: seconds on 784-256-64-256-784) never block the page. Inputs arrive transferred (the
 * client sends copies); results are transferred back.
 */
installHepexErrorTransfer();

export interface StepProgress {
  /** 0..1 where the step can tell. */
  readonly fraction: number | null;
  readonly detail: string;
}

export interface PermuteStepResult {
  /** The network with hidden permutations folded in (input/output orders applied too). */
  readonly network: Network;
  readonly masks: Mask[];
  readonly permutation: NetworkPermutation;
  readonly nonZeroTilesBefore: number;
  readonly nonZeroTilesAfter: number;
  readonly lowerBound: number;
  readonly elapsedMs: number;
}

function buffersOf(network: Network, masks: readonly Mask[], permutation: NetworkPermutation): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const l of network.layers) buffers.add(l.weights.data.buffer as ArrayBuffer).add(l.bias.buffer as ArrayBuffer);
  for (const m of masks) buffers.add(m.data.buffer as ArrayBuffer);
  buffers.add(permutation.input.buffer as ArrayBuffer).add(permutation.output.buffer as ArrayBuffer);
  return [...buffers];
}

const api = {
  permute(
    job: { network: Network; masks: Mask[]; tile: TileShape },
    onProgress?: (p: StepProgress) => void,
  ): PermuteStepResult {
    const search = findPermutation(job.masks, job.tile, {
      onProgress: (p) =>
        onProgress?.({
          fraction: null,
          detail: `pass ${p.outerIteration + 1}, neuron set ${p.set + 1} of ${p.sets}: ${p.nonZeroTiles} non-zero tiles`,
        }),
    });
    const permuted = applyPermutation(job.network, search.orders, job.masks);
    const masks = permuted.masks ?? job.masks;
    const result: PermuteStepResult = {
      network: permuted.network,
      masks,
      permutation: permuted.permutation,
      nonZeroTilesBefore: search.nonZeroTilesBefore,
      nonZeroTilesAfter: search.nonZeroTilesAfter,
      lowerBound: search.lowerBound,
      elapsedMs: search.elapsedMs,
    };
    return transfer(result, buffersOf(result.network, masks, result.permutation));
  },
};

export type PipelineApi = typeof api;

expose(api);
