import { HepexError } from '../model/errors';
import {
  checkGroupLasso,
  checkMaxTiles,
  checkScope,
  checkSparsity,
  checkTheta,
  type PruneScope,
} from './common';
import { checkTileScore, type TileScore } from './tilePrune';
import { checkClassFloor } from './magnitudePrune';
import type { PermuteObjective } from './permute';

/**
 * The pipeline's vocabulary: the methods and the steps a recipe is made of, and the checks
 * every step's parameters pass before any work starts.
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
  /**
   * Magnitude pruning of single weights to a sparsity (fraction of weights). classFloor: each
   * class of a classifier keeps this multiple of the kept fraction (magnitudePrune.ts, CLASS_FLOOR).
   */
  | {
      readonly kind: 'prune';
      readonly sparsity: number;
      readonly scope?: PruneScope;
      readonly classFloor?: number;
    }
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
      readonly objective?: PermuteObjective;
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
      if (step.classFloor !== undefined) checkClassFloor(step.classFloor);
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
