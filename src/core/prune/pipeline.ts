import type { Activation } from '../activation';
import { HepexError, throwIfAborted } from '../errors';
import { planExecution, type HeMode } from '../executionPlan';
import { fullKernelTileFlags, outputSize } from '../conv';
import { nonZeroMask, type Mask } from '../matrix';
import { validateNetwork, type Layer, type Network, type Task } from '../network';
import { identityPermutation, type NetworkPermutation } from '../permutation';
import { countTileNonZeros, nonZeroTileFlags, type LayerTiling, type TilePlan } from '../tilePlan';
import type { TileShape } from '../tileShape';
import type { Metric, Trainer } from '../trainer';
import {
  checkGroupLasso,
  checkMasks,
  checkMaxTiles,
  checkScope,
  checkSparsity,
  checkTheta,
  maskNetwork,
  planFor,
  type PruneScope,
} from './common';
import { pruneAndExpand } from './expand';
import { magnitudePrune } from './magnitudePrune';
import { unfoldClientPermutation, foldClientPermutation } from './clientPermutation';
import { permuteNetwork } from './permuteNetwork';
import { checkTileScore, tilePrune, type TileScore } from './tilePrune';

/**
 * The HE-PEx pipeline (HEPEX.md section 3) as a configurable list of steps over one model
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

export type PruneMethod = 'magnitude' | 'tile' | 'hepex';
export const PRUNE_METHODS: readonly PruneMethod[] = ['magnitude', 'tile', 'hepex'];

export type PipelineStep =
  /**
   * Dense training (all weights free) before pruning; the result becomes the dense reference.
   * groupLasso > 0 adds the group-lasso penalty (core/trainer.ts FineTuneOptions).
   */
  | {
      readonly kind: 'train';
      readonly epochs: number;
      readonly learningRate?: number;
      readonly groupLasso?: number;
    }
  /** Magnitude pruning of single weights to a sparsity (fraction of weights). */
  | { readonly kind: 'prune'; readonly sparsity: number; readonly scope?: PruneScope }
  /** Hunter-style tile pruning to a tile sparsity (fraction of weight tiles). */
  | {
      readonly kind: 'tile-prune';
      readonly tileSparsity: number;
      readonly scope?: PruneScope;
      readonly score?: TileScore;
    }
  /** Fine-tuning with the masks held (groupLasso as in 'train'). */
  | {
      readonly kind: 'retrain';
      readonly epochs: number;
      readonly learningRate?: number;
      readonly groupLasso?: number;
      /** Distil from the network the pipeline started with (classifiers). */
      readonly distill?: boolean;
    }
  /** Neuron permutation (hidden folded in; input/output into the client permutation). */
  | {
      readonly kind: 'permute';
      readonly maxOuterIterations?: number;
      readonly maxKMeansIterations?: number;
      readonly refine?: boolean;
      readonly seed?: number;
      /** Optimise for the expansion step's theta (tiles denser than theta); 0/absent: non-zero tiles. */
      readonly theta?: number;
      /** 'tiles' (the paper's, default) or 'concentration' (see permute.ts). */
      readonly objective?: 'tiles' | 'concentration';
    }
  /** Drop tiles of density <= theta, expand the rest from the dense reference. */
  | {
      readonly kind: 'expand';
      readonly theta: number;
      readonly scope?: PruneScope;
      readonly restore?: 'dense' | 'pruned-only';
      /** Tile budget (expand.ts): at most this many tiles survive, the heaviest by L1. */
      readonly maxTiles?: number;
    };

export type StepKind = PipelineStep['kind'];

export interface MethodOptions {
  /** prune: weight sparsity; tile: tile sparsity; hepex: weight sparsity of the first prune. */
  readonly sparsity: number;
  /** hepex only: density threshold of almost-zero tiles (demo 0.0625). */
  readonly theta?: number;
  /**
   * Scope of every pruning step; default global (measured on the MNIST MLP: per-layer pruning at
   * 0.9 starves the 10-output layer, global keeps its larger weights).
   */
  readonly scope?: PruneScope;
  readonly score?: TileScore;
  /** Epochs of each retraining; 0 skips the retrain steps. */
  readonly retrainEpochs?: number;
  /**
   * Dense training epochs before pruning; 0 starts from the given weights. Default 0, or
   * GROUP_LASSO_EPOCHS when groupLasso is set.
   */
  readonly trainEpochs?: number;
  /**
   * Structured sparsity first (default 0: off): the dense training carries a group-lasso penalty
   * of this strength, and so do the retrains between gradual pruning rounds (without it they
   * revive the zeroed neurons before the next round prunes: measured on the MNIST MLP at 0.9,
   * 4 rounds whose retrains drop the penalty end at 1,166 weight ciphertexts, one round at 399).
   * Magnitude pruning then removes whole neurons and pixels, and the permutation gathers the
   * dense survivors into full tiles. Strengths: GROUP_LASSO_STRENGTHS (a cross-entropy loss
   * takes ~3e-3, a pixel MSE ~30x smaller one ~5e-5).
   */
  readonly groupLasso?: number;
  /**
   * Epochs of the last retrain (after expansion for hepex); default retrainEpochs. The tiles are
   * final there, so that is where more training buys accuracy back.
   */
  readonly finalRetrainEpochs?: number;
  /**
   * Classifiers: the last retrain also learns the softened outputs of the network the pipeline
   * started from (knowledge distillation, core/trainer.ts). Measured on the MNIST MLP at ~93
   * weight ciphertexts (HE-PEx + group lasso 3e-3, sparsity 0.99, theta 0.1, 12 final epochs,
   * bench bar): 94.70% against 94.67% without, means over 3 trainer seeds (seed 1 alone: 94.85%
   * against 94.50%), i.e. within the noise.
   */
  readonly distill?: boolean;
  /**
   * hepex only: a tile budget for the expansion (ExpandOptions.maxTiles): of the tiles that pass
   * theta, at most this many survive, the heaviest by their fine-tuned weights. Absent: none.
   */
  readonly maxTiles?: number;
  readonly learningRate?: number;
  readonly seed?: number;
  /**
   * Prune gradually in this many prune + retrain rounds (tfmot's PolynomialDecay, power 3: round
   * i of n prunes to sparsity x (1 - (1 - i/n)^3)); default 1, one shot. Measured on the MNIST
   * MLP at 0.97: 4 rounds keep ~2 accuracy points that one shot loses.
   */
  readonly pruneSteps?: number;
  /**
   * hepex: what the permutation optimises before almost-zero tile pruning. Default
   * 'concentration': measured on the MNIST MLP at 0.97, for the same weights kept after theta
   * pruning it leaves ~25% fewer surviving tiles than 'tiles' and about half as many as no
   * permutation ('tiles' merges stray weights into tiles that then survive theta).
   */
  readonly permuteObjective?: 'tiles' | 'concentration';
}

/** Epochs of group-lasso training when a method asks for it and gives no trainEpochs. */
export const GROUP_LASSO_EPOCHS = 20;

export type StructureLevel = 'off' | 'light' | 'strong';
export const STRUCTURE_LEVELS: readonly StructureLevel[] = ['off', 'light', 'strong'];

/**
 * Group-lasso strengths by task (the loss scales differ ~10x: cross-entropy vs pixel MSE),
 * measured with 20 epochs from the shipped MNIST models at sparsity 0.9, 4x8 tiles (bench prune):
 * MLP 784-128-10 4e-3: 1.27x the lower bound after permutation (-77%), 95.45% after 6 epochs
 * of retraining (5e-3: 1.20x, 95.25%); HE-PEx at 0.98 after 3e-3: 180 weight ciphertexts at
 * 95.40% (bench prune). AE 784-256-64-256-784: the whole HE-PEx pipeline at 0.9 after 5e-5 gives
 * 2,762 ct at MSE 0.0214 (unpruned 0.0087), after 1e-4 1,923 ct at 0.059, near the mean
 * image's 0.067; 1.5e-4 at learning rate 2e-3 packs to 1.14x the bound at MSE 0.0233.
 * Structure costs an autoencoder far more than a classifier, hence its small strengths.
 */
export const GROUP_LASSO_STRENGTHS: Record<Task, Record<Exclude<StructureLevel, 'off'>, number>> = {
  classification: { light: 3e-3, strong: 5e-3 },
  reconstruction: { light: 5e-5, strong: 1e-4 },
};

/** The group-lasso strength of a level for a task (0 when off). */
export function groupLassoFor(level: StructureLevel, task: Task): number {
  return level === 'off' ? 0 : GROUP_LASSO_STRENGTHS[task][level];
}

/** Sparsity after round i (1..n) of a cubic ramp to `target` (tfmot PolynomialDecay, power 3). */
export function rampSparsity(target: number, i: number, n: number): number {
  return i >= n ? target : Math.round(target * (1 - (1 - i / n) ** 3) * 1e6) / 1e6;
}

/**
 * The step list of a method. hepex: train? -> prune -> retrain -> permute -> expand -> retrain
 * (the authors' demo order); magnitude: train? -> prune -> retrain; tile: train? -> tile-prune ->
 * retrain. With pruneSteps n > 1 the prune -> retrain pair repeats n times on a cubic ramp.
 */
export function methodSteps(method: PruneMethod, options: MethodOptions): PipelineStep[] {
  if (!PRUNE_METHODS.includes(method)) {
    throw new HepexError(
      'invalid-argument',
      `Unknown method "${String(method)}"; use one of ${PRUNE_METHODS.join(', ')}.`,
    );
  }
  const retrain = options.retrainEpochs ?? 4;
  const rounds = options.pruneSteps ?? 1;
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100) {
    throw new HepexError(
      'invalid-argument',
      `The number of pruning rounds must be a whole number from 1 to 100, got ${rounds}.`,
    );
  }
  const groupLasso = options.groupLasso ?? 0;
  const train = options.trainEpochs ?? (groupLasso > 0 ? GROUP_LASSO_EPOCHS : 0);
  const lr = options.learningRate;
  const steps: PipelineStep[] = [];
  const finalRetrain = options.finalRetrainEpochs ?? retrain;
  const penalty = groupLasso > 0 ? { groupLasso } : {};
  if (train > 0) steps.push({ kind: 'train', epochs: train, learningRate: lr, ...penalty });
  // 'between': between gradual rounds (keeps the penalty); 'final': the method's last step.
  const retrainStep = (role: 'between' | 'plain' | 'final'): void => {
    const epochs = role === 'final' ? finalRetrain : retrain;
    if (epochs > 0) {
      steps.push({
        kind: 'retrain',
        epochs,
        learningRate: lr,
        ...(role === 'between' ? penalty : {}),
        ...(role === 'final' && options.distill ? { distill: true } : {}),
      });
    }
  };
  for (let i = 1; i <= rounds; i++) {
    const sparsity = rampSparsity(options.sparsity, i, rounds);
    if (method === 'tile') {
      steps.push({
        kind: 'tile-prune',
        tileSparsity: sparsity,
        scope: options.scope ?? 'global',
        score: options.score,
      });
    } else {
      steps.push({ kind: 'prune', sparsity, scope: options.scope ?? 'global' });
    }
    retrainStep(i < rounds ? 'between' : method === 'hepex' ? 'plain' : 'final');
  }
  if (method === 'tile') return steps;
  if (method === 'hepex') {
    steps.push({
      kind: 'permute',
      seed: options.seed,
      objective: options.permuteObjective ?? 'concentration',
    });
    steps.push({
      kind: 'expand',
      theta: options.theta ?? 0.0625,
      scope: options.scope ?? 'global',
      ...(options.maxTiles !== undefined ? { maxTiles: options.maxTiles } : {}),
    });
    retrainStep('final');
  }
  return steps;
}

export interface LayerFigures {
  readonly layer: number;
  /**
   * Tiles the layer can cost: all of its plan's, or for a convolution only those its kernel
   * copies touch (the rest are structural zeros, never paid for).
   */
  readonly tiles: number;
  readonly nonZeroTiles: number;
  readonly nonZeroWeights: number;
  /** Weights: rows x cols, or for a convolution its kernel copies (positions x filters x k*k*C). */
  readonly weights: number;
  /** ceil(non-zero weights / weights per tile): the fewest tiles those weights could occupy. */
  readonly lowerBound: number;
}

export interface NetworkFigures {
  readonly weightTiles: number;
  readonly nonZeroTiles: number;
  /** Weight ciphertexts (plaintexts in plain-model mode) the execution plan stores and multiplies. */
  readonly weightCiphertexts: number;
  readonly lowerBound: number;
  /** Fraction of zero weights. */
  readonly sparsity: number;
  /** Fraction of all-zero weight tiles. */
  readonly tileSparsity: number;
  readonly layers: readonly LayerFigures[];
}

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

/** Figures of a network's weights under a tile plan (tiles with any non-zero weight). */
export function networkFigures(
  network: Network,
  plan: TilePlan,
  mode: HeMode = 'plain-model',
): NetworkFigures {
  let weights = 0;
  let nonZero = 0;
  const flags: Uint8Array[] = [];
  const layers = network.layers.map((layer, l) => {
    const t = plan.layers[l];
    const counts = countTileNonZeros(nonZeroMask(layer.weights), t);
    const f = nonZeroTileFlags(counts);
    flags.push(f);
    let nnz = 0;
    for (let k = 0; k < counts.length; k++) nnz += counts[k];
    const size = layerSize(layer, t);
    weights += size.weights;
    nonZero += nnz;
    return {
      layer: l,
      tiles: size.tiles,
      nonZeroTiles: f.reduce((s, v) => s + v, 0),
      nonZeroWeights: nnz,
      weights: size.weights,
      lowerBound: Math.ceil(nnz / (t.blockOut * t.blockIn)),
    };
  });
  const activations: Activation[] = network.layers.map((l) => l.activation);
  const exec = planExecution(plan, flags, activations, mode);
  const nonZeroTiles = layers.reduce((s, l) => s + l.nonZeroTiles, 0);
  const weightTiles = layers.reduce((s, l) => s + l.tiles, 0);
  return {
    weightTiles,
    nonZeroTiles,
    weightCiphertexts: exec.weightCiphertexts,
    lowerBound: layers.reduce((s, l) => s + l.lowerBound, 0),
    sparsity: weights ? 1 - nonZero / weights : 0,
    tileSparsity: weightTiles ? 1 - nonZeroTiles / weightTiles : 0,
    layers,
  };
}

/** Weights and payable tiles of a layer (see LayerFigures): a convolution's kernel copies only. */
function layerSize(layer: Layer, t: LayerTiling): { weights: number; tiles: number } {
  if (layer.kind !== 'conv') return { weights: layer.weights.data.length, tiles: t.tileCount };
  const g = layer.geometry;
  const flags = fullKernelTileFlags(g, t);
  let tiles = 0;
  for (let k = 0; k < flags.length; k++) tiles += flags[k];
  return { weights: outputSize(g).positions * g.filters * g.kernel * g.kernel * g.channels, tiles };
}

/** Checks every step's parameters (sparsity, theta, epochs, scope, score); throws HepexError. */
export function checkSteps(steps: readonly PipelineStep[]): void {
  if (!Array.isArray(steps))
    throw new HepexError('invalid-argument', 'The pipeline needs a list of steps.');
  steps.forEach(checkStep);
}

function checkStep(step: PipelineStep, index: number): void {
  const where = `Step ${index + 1} (${String(step?.kind)})`;
  const epochs = (e: number): void => {
    if (!Number.isInteger(e) || e < 0)
      throw new HepexError(
        'invalid-argument',
        `${where}: epochs must be a whole number of at least 0, got ${e}.`,
      );
  };
  switch (step?.kind) {
    case 'train':
    case 'retrain':
      epochs(step.epochs);
      checkGroupLasso(step.groupLasso ?? 0, where);
      return;
    case 'prune':
      checkSparsity(step.sparsity);
      checkScope(step.scope ?? 'local');
      return;
    case 'tile-prune':
      checkSparsity(step.tileSparsity, 'The tile sparsity');
      checkScope(step.scope ?? 'local');
      checkTileScore(step.score ?? 'l1');
      return;
    case 'permute':
      if (step.theta !== undefined) checkTheta(step.theta);
      if (
        step.objective !== undefined &&
        step.objective !== 'tiles' &&
        step.objective !== 'concentration'
      ) {
        throw new HepexError(
          'invalid-argument',
          `${where}: the objective must be "tiles" or "concentration".`,
        );
      }
      return;
    case 'expand':
      checkTheta(step.theta);
      checkScope(step.scope ?? 'global');
      if (step.maxTiles !== undefined) checkMaxTiles(step.maxTiles);
      return;
    default:
      throw new HepexError(
        'invalid-argument',
        `${where}: unknown step; use train, prune, tile-prune, retrain, permute or expand.`,
      );
  }
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
        masks = magnitudePrune(network, { sparsity: step.sparsity, scope: step.scope, masks });
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
