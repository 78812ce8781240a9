import type { Mask } from './matrix';
import type { Network } from './network';

/** The figure a model is judged by: accuracy (0..1, higher is better) or MSE (lower is better). */
export interface Metric {
  readonly name: 'accuracy' | 'mse';
  readonly value: number;
}

export interface TrainProgress {
  readonly epoch: number;
  readonly epochs: number;
  readonly loss: number;
  readonly metric: Metric;
}

export interface FineTuneOptions {
  readonly epochs?: number;
  readonly learningRate?: number;
  readonly batchSize?: number;
  /**
   * Group-lasso strength (default 0): the loss gains strength x the sum of the L2 norms of every
   * neuron's fan-in and fan-out and every input's fan-out, which zeroes whole neurons and pixels
   * and leaves the survivors dense, the structure a permutation can gather into full tiles.
   */
  readonly groupLasso?: number;
  /**
   * Knowledge distillation from a teacher with the same layer sizes (the dense network the
   * pruning started from): classifiers learn its softened outputs as well as the labels.
   */
  readonly distill?: {
    readonly teacher: Network;
    readonly temperature?: number;
    readonly weight?: number;
  };
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: TrainProgress) => void;
}

/**
 * What the pruning pipeline needs from a training engine (tfjs lives behind it, in
 * src/engines/tfjs). masks[l] has layer l's weight shape; pruned weights are exactly 0 in the
 * returned network after every step. Implementations never mutate their inputs.
 */
export interface Trainer {
  fineTune(network: Network, masks: readonly Mask[], options?: FineTuneOptions): Promise<Network>;
  evaluate(network: Network, signal?: AbortSignal): Promise<Metric>;
}

/** True when `a` is at least as good as `b` minus `tolerance` (in the metric's own units). */
export function metricWithin(a: Metric, b: Metric, tolerance: number): boolean {
  return a.name === 'accuracy' ? a.value >= b.value - tolerance : a.value <= b.value + tolerance;
}
