import { HepexError, throwIfAborted } from '../model/errors';
import type { HeMode } from '../tiling/executionPlan';
import { nonZeroMask, type Mask } from '../model/matrix';
import { validateNetwork, type Network } from '../model/network';
import { identityPermutation, type NetworkPermutation } from '../model/permutation';
import type { TileShape } from '../tiling/tileShape';
import type { Metric, Trainer } from '../model/trainer';
import { checkMasks, checkMaxTiles, maskNetwork, planFor } from './common';
import { pruneAndExpand } from './expand';
import { magnitudePrune } from './magnitudePrune';
import { unfoldClientPermutation, foldClientPermutation } from './clientPermutation';
import { permuteNetwork } from './permuteNetwork';
import { tilePrune } from './tilePrune';
import { type PipelineStep, type StepKind, checkSteps } from './pipelineSteps';
import { type NetworkFigures, networkFigures } from './networkFigures';

/**
 * The HE-PEx pipeline (docs/method.md section 3) as a configurable list of steps over one model
 * state: the server network (hidden permutations folded in, pruned weights exactly 0), its
 * keep-masks, the client-side input/output permutation, and the dense reference weights
 * (permuted alongside) that expansion restores from. After every step the figures the HE side
 * cares about (non-zero weight tiles, weight ciphertexts of the execution plan) and the metric
 * are recorded, so the UI can plot the path and the CLI can print before/after.
 *
 * Training goes through the injected Trainer, which knows nothing of client permutations: it
 * sees the network with its input columns and output rows put back in the dataset's order
 * (the same function), and its results are permuted back.
 */

export interface StepRecord extends NetworkFigures {
  /** -1 for the starting point, then the step's index. */
  readonly index: number;
  readonly kind: StepKind | 'start';
  readonly metric?: Metric;
  readonly elapsedMs: number;
  /** Step-specific figures (permutation search, tiles dropped by expansion...). */
  readonly details?: Readonly<Record<string, number>>;
}

export interface PipelineProgress {
  readonly stepIndex: number;
  readonly steps: number;
  readonly kind: StepKind | 'start';
  readonly status: 'started' | 'progress' | 'finished';
  /** 0..1 within the step, when known. */
  readonly fraction?: number;
  readonly message?: string;
  readonly record?: StepRecord;
}

export interface PipelineInput {
  readonly network: Network;
  readonly masks?: readonly Mask[];
  /** Client permutation the network already carries (from an earlier run). */
  readonly permutation?: NetworkPermutation;
  /** Dense reference for expansion, in the network's frame. Default: the network itself. */
  readonly dense?: Network;
}

export interface PipelineOptions {
  readonly tile: TileShape;
  readonly steps: readonly PipelineStep[];
  readonly mode?: HeMode;
  /** Evaluate the metric at the start and after every step (default true). */
  readonly evaluate?: boolean;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: PipelineProgress) => void;
}

export interface PipelineResult {
  readonly network: Network;
  readonly masks: Mask[];
  readonly permutation: NetworkPermutation;
  /** records[0] is the start, then one per step. */
  readonly records: StepRecord[];
}

/**
 * Runs the steps in order. Inputs are never modified; every argument is checked before the
 * first step, so a bad configuration fails at once. Cancelling (signal) throws HepexError
 * 'cancelled' between steps or inside a long one.
 */
export async function runPipeline(
  input: PipelineInput,
  trainer: Trainer,
  options: PipelineOptions,
): Promise<PipelineResult> {
  const { signal, onProgress } = options;
  validateNetwork(input.network);
  const plan = planFor(input.network, options.tile);
  const mode = options.mode ?? 'plain-model';
  checkSteps(options.steps);
  if (input.masks) checkMasks(input.network, input.masks);
  const L = input.network.layers.length;
  // A budget below one tile per layer needs the network to judge: fail before the first step.
  for (const step of options.steps) {
    if (step.kind === 'expand' && step.maxTiles !== undefined)
      checkMaxTiles(step.maxTiles, input.network);
  }
  const sizes = [input.network.layers[0].weights.cols, input.network.layers[L - 1].weights.rows];
  let permutation: NetworkPermutation = input.permutation ?? {
    input: identityPermutation(sizes[0]),
    output: identityPermutation(sizes[1]),
  };
  if (input.permutation) {
    // Checked by applying it once (throws on a malformed order).
    unfoldClientPermutation(
      input.network,
      input.masks ?? input.network.layers.map((l) => nonZeroMask(l.weights)),
      permutation,
    );
  }
  if (input.dense) {
    validateNetwork(input.dense);
    planFor(input.dense, options.tile);
    if (
      input.dense.layers.some(
        (l, i) =>
          l.weights.rows !== input.network.layers[i].weights.rows ||
          l.weights.cols !== input.network.layers[i].weights.cols,
      )
    ) {
      throw new HepexError(
        'invalid-network',
        'The dense reference has a different shape from the network.',
      );
    }
  }
  throwIfAborted(signal);

  const allOnes = (): Mask[] =>
    network.layers.map(({ weights }) => ({
      rows: weights.rows,
      cols: weights.cols,
      data: new Uint8Array(weights.data.length).fill(1),
    }));
  let network = input.network;
  let masks: Mask[] = input.masks
    ? input.masks.map((m) => ({ ...m, data: Uint8Array.from(m.data) }))
    : allOnes();
  let dense = input.dense ?? input.network;
  const evaluate = options.evaluate ?? true;
  const steps = options.steps;
  const records: StepRecord[] = [];

  // The network as given, in the dataset's order: the teacher of distilling retrains.
  const teacherNetwork = (): Network =>
    input.permutation
      ? unfoldClientPermutation(
          input.network,
          input.masks ?? input.network.layers.map((l) => nonZeroMask(l.weights)),
          input.permutation,
        ).network
      : input.network;
  const metricOf = async (): Promise<Metric | undefined> => {
    if (!evaluate) return undefined;
    return trainer.evaluate(unfoldClientPermutation(network, masks, permutation).network, signal);
  };
  const fineTune = async (
    step: Extract<PipelineStep, { kind: 'train' | 'retrain' }>,
    stepIndex: number,
  ): Promise<void> => {
    const { epochs, learningRate, groupLasso, kind } = step;
    const distill = kind === 'retrain' && step.distill;
    if (epochs === 0) return;
    const trainMasks = kind === 'train' ? allOnes() : masks;
    const unfolded = unfoldClientPermutation(network, trainMasks, permutation);
    const tuned = await trainer.fineTune(unfolded.network, unfolded.masks, {
      epochs,
      learningRate,
      ...(groupLasso ? { groupLasso } : {}),
      ...(distill ? { distill: { teacher: teacherNetwork() } } : {}),
      signal,
      onProgress: (p) =>
        onProgress?.({
          stepIndex,
          steps: steps.length,
          kind,
          status: 'progress',
          fraction: p.epochs ? p.epoch / p.epochs : undefined,
          message: `epoch ${p.epoch}/${p.epochs}: loss ${p.loss.toPrecision(4)}, ${p.metric.name} ${p.metric.value.toPrecision(4)}`,
        }),
    });
    throwIfAborted(signal);
    network = foldClientPermutation(tuned, unfolded.masks, permutation).network;
  };
  const record = async (
    index: number,
    kind: StepKind | 'start',
    started: number,
    details?: Record<string, number>,
  ): Promise<StepRecord> => {
    const metric = await metricOf();
    const rec: StepRecord = {
      index,
      kind,
      ...networkFigures(network, plan, mode),
      metric,
      elapsedMs: performance.now() - started,
      details,
    };
    records.push(rec);
    return rec;
  };

  onProgress?.({ stepIndex: -1, steps: steps.length, kind: 'start', status: 'started' });
  const start = await record(-1, 'start', performance.now());
  onProgress?.({
    stepIndex: -1,
    steps: steps.length,
    kind: 'start',
    status: 'finished',
    record: start,
  });

  for (let i = 0; i < steps.length; i++) {
    throwIfAborted(signal);
    const step = steps[i];
    const started = performance.now();
    onProgress?.({ stepIndex: i, steps: steps.length, kind: step.kind, status: 'started' });
    let details: Record<string, number> | undefined;
    switch (step.kind) {
      case 'train':
        await fineTune(step, i);
        masks = allOnes();
        dense = network;
        break;
      case 'retrain':
        await fineTune(step, i);
        break;
      case 'prune': {
        masks = magnitudePrune(network, {
          sparsity: step.sparsity,
          scope: step.scope,
          masks,
          classFloor: step.classFloor,
        });
        network = maskNetwork(network, masks);
        break;
      }
      case 'tile-prune': {
        const res = tilePrune(network, options.tile, {
          tileSparsity: step.tileSparsity,
          scope: step.scope,
          score: step.score,
          masks,
        });
        masks = res.masks;
        network = maskNetwork(network, masks);
        break;
      }
      case 'permute': {
        const permuted = permuteNetwork({ network, masks, permutation, dense }, options.tile, {
          maxOuterIterations: step.maxOuterIterations,
          maxKMeansIterations: step.maxKMeansIterations,
          refine: step.refine,
          seed: step.seed,
          theta: step.theta,
          objective: step.objective,
          signal,
          onProgress: (p) =>
            onProgress?.({
              stepIndex: i,
              steps: steps.length,
              kind: step.kind,
              status: 'progress',
              message: `pass ${p.outerIteration + 1}, neuron set ${p.set}: ${p.nonZeroTiles} tiles`,
            }),
        });
        ({ network, masks, permutation } = permuted);
        dense = permuted.dense!;
        const { search } = permuted;
        details = {
          nonZeroTilesBefore: search.nonZeroTilesBefore,
          nonZeroTilesAfter: search.nonZeroTilesAfter,
          lowerBound: search.lowerBound,
          outerIterations: search.outerIterations,
          searchMs: search.elapsedMs,
        };
        break;
      }
      case 'expand': {
        const res = pruneAndExpand(network, dense, masks, options.tile, {
          theta: step.theta,
          scope: step.scope,
          restore: step.restore,
          maxTiles: step.maxTiles,
        });
        network = res.network;
        masks = res.masks;
        details = {
          keptTiles: res.keptTiles.reduce((a, b) => a + b, 0),
          droppedTiles: res.droppedTiles.reduce((a, b) => a + b, 0),
        };
        break;
      }
    }
    const rec = await record(i, step.kind, started, details);
    onProgress?.({
      stepIndex: i,
      steps: steps.length,
      kind: step.kind,
      status: 'finished',
      record: rec,
    });
  }
  return { network, masks, permutation, records };
}
