import { HepexError } from '../model/errors';
import type { Task } from '../model/network';
import type { PruneScope } from './common';
import type { TileScore } from './tilePrune';
import type { PermuteObjective } from './permute';
import { PRUNE_METHODS, type PipelineStep, type PruneMethod } from './pipelineSteps';

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
   * started from (knowledge distillation, core/trainer.ts). Off by default: on the MNIST MLP
   * its gain is within the seed-to-seed noise (docs/results.md, "Defaults").
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
   * i of n prunes to sparsity x (1 - (1 - i/n)^3)); default 1, one shot. At high sparsity a few
   * rounds keep accuracy that one shot loses (docs/results.md, "Defaults").
   */
  readonly pruneSteps?: number;
  /**
   * hepex: what the permutation optimises before almost-zero tile pruning. Default
   * 'concentration': for the same weights kept after theta pruning it leaves fewer surviving
   * tiles than 'tiles', which merges stray weights into tiles that then survive theta
   * (docs/results.md, "Defaults").
   */
  readonly permuteObjective?: PermuteObjective;
  /**
   * Every prune step's class floor (magnitudePrune.ts): each class of a classifier keeps this
   * multiple of the kept fraction of its weights. Absent: CLASS_FLOOR (3); 0: none.
   */
  readonly classFloor?: number;
}

/**
 * What a permutation should optimise for what comes after it: before HE-PEx's almost-zero tile
 * step, concentration (see MethodOptions.permuteObjective); otherwise the fewest non-zero tiles
 * (the paper's objective). The whole pipeline's permute step and the studio's Permute button
 * both take it from here.
 */
export function permuteObjectiveFor(method: PruneMethod): PermuteObjective {
  return method === 'hepex' ? 'concentration' : 'tiles';
}

/** Epochs of group-lasso training when a method asks for it and gives no trainEpochs. */
export const GROUP_LASSO_EPOCHS = 20;

export type StructureLevel = 'off' | 'light' | 'strong';
export const STRUCTURE_LEVELS: readonly StructureLevel[] = ['off', 'light', 'strong'];

/**
 * Group-lasso strengths by task: the loss scales differ ~10x (cross-entropy vs pixel MSE), and
 * structure costs an autoencoder far more than a classifier, hence its small strengths. Chosen
 * with 20 epochs from the shipped MNIST models at sparsity 0.9, 4x8 tiles (bench prune;
 * docs/results.md, "Defaults").
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
      steps.push({
        kind: 'prune',
        sparsity,
        scope: options.scope ?? 'global',
        ...(options.classFloor !== undefined ? { classFloor: options.classFloor } : {}),
      });
    }
    retrainStep(i < rounds ? 'between' : method === 'hepex' ? 'plain' : 'final');
  }
  if (method === 'tile') return steps;
  if (method === 'hepex') {
    steps.push({
      kind: 'permute',
      seed: options.seed,
      objective: options.permuteObjective ?? permuteObjectiveFor('hepex'),
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
