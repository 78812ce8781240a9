import { HepexError } from '../core/model/errors';
import type { HeMode } from '../core/tiling/executionPlan';
import {
  PRUNE_SCOPES,
  checkGroupLasso,
  checkMaxTiles,
  type PruneScope,
} from '../core/prune/common';
import { TILE_SCORES, type TileScore } from '../core/prune/tilePrune';
import { type TileShape } from '../core/tiling/tileShape';
import { optionalChoice, optionalNumber, type FlagSpec, type ParsedFlags } from './args';
import { tileFromFlags } from './networkOptions';
import { PERMUTE_OBJECTIVES, type PermuteObjective } from '../core/prune/permute';
import { permuteObjectiveFor } from '../core/prune/methodSteps';
import { CLASS_FLOOR, checkClassFloor } from '../core/prune/magnitudePrune';

/** The flags `prune` and `sweep` share, read into settings once, before any work. */

/** Flags shared by prune and sweep. */
export const pruneFlags: FlagSpec = {
  model: 'string',
  method: 'string',
  tile: 'string',
  batch: 'string',
  'ring-degree': 'string',
  theta: 'string',
  scope: 'string',
  score: 'string',
  'retrain-epochs': 'string',
  'prune-steps': 'string',
  'group-lasso': 'string',
  'train-epochs': 'string',
  'final-epochs': 'string',
  distill: 'boolean',
  'max-tiles': 'string',
  objective: 'string',
  lr: 'string',
  seed: 'string',
  mode: 'string',
  data: 'string',
  'test-data': 'string',
  'class-floor': 'string',
};

export interface PruneSettings {
  readonly tile: TileShape;
  readonly theta: number;
  readonly scope?: PruneScope;
  readonly score: TileScore;
  readonly retrainEpochs: number;
  readonly pruneSteps: number;
  /** Group-lasso strength of a structured-sparsity training before pruning; 0: none. */
  readonly groupLasso: number;
  /** Dense (group-lasso) training epochs before pruning; undefined: the method's default. */
  readonly trainEpochs?: number;
  /** Epochs of the last retrain; undefined: retrainEpochs. */
  readonly finalEpochs?: number;
  /** Distil the last retrain from the model as loaded (classifiers). */
  readonly distill: boolean;
  /** hepex: tile budget of the expansion (at most this many weight tiles); undefined: none. */
  readonly maxTiles?: number;
  readonly objective: PermuteObjective;
  readonly learningRate?: number;
  /** Each class keeps this multiple of the kept fraction of its weights; undefined: the default (3). */
  readonly classFloor?: number;
  readonly seed: number;
  readonly mode: HeMode;
}

export function settingsFromFlags(flags: ParsedFlags): PruneSettings {
  const scope =
    flags.scope === undefined
      ? undefined
      : optionalChoice<PruneScope>(flags, 'scope', PRUNE_SCOPES, 'local');
  const retrainEpochs = optionalNumber(flags, 'retrain-epochs', 4);
  if (!Number.isInteger(retrainEpochs) || retrainEpochs < 0 || retrainEpochs > 1000) {
    throw new HepexError(
      'invalid-argument',
      `--retrain-epochs must be a whole number from 0 to 1000, got ${retrainEpochs}.`,
    );
  }
  const trainEpochs = optionalEpochs(flags, 'train-epochs');
  const finalEpochs = optionalEpochs(flags, 'final-epochs');
  const maxTiles = optionalNumber(flags, 'max-tiles');
  if (maxTiles !== undefined) checkMaxTiles(maxTiles);
  return {
    tile: tileFromFlags(flags),
    theta: optionalNumber(flags, 'theta', 0.0625),
    scope,
    score: optionalChoice<TileScore>(flags, 'score', TILE_SCORES, 'l1'),
    retrainEpochs,
    pruneSteps: optionalNumber(flags, 'prune-steps', 1),
    groupLasso: checkGroupLasso(optionalNumber(flags, 'group-lasso', 0), '--group-lasso'),
    ...(trainEpochs === undefined ? {} : { trainEpochs }),
    ...(finalEpochs === undefined ? {} : { finalEpochs }),
    distill: flags.distill === true,
    ...(maxTiles === undefined ? {} : { maxTiles }),
    objective: optionalChoice<PermuteObjective>(
      flags,
      'objective',
      PERMUTE_OBJECTIVES,
      permuteObjectiveFor('hepex'),
    ),
    learningRate: optionalNumber(flags, 'lr'),
    ...(flags['class-floor'] === undefined
      ? {}
      : { classFloor: checkClassFloor(optionalNumber(flags, 'class-floor', CLASS_FLOOR)) }),
    seed: optionalNumber(flags, 'seed', 1),
    mode: optionalChoice<HeMode>(flags, 'mode', ['plain-model', 'encrypted-model'], 'plain-model'),
  };
}

/** An optional whole number of epochs (0..1000) from --name; undefined when not given. */
function optionalEpochs(flags: ParsedFlags, name: string): number | undefined {
  if (flags[name] === undefined) return undefined;
  const epochs = optionalNumber(flags, name, 0);
  if (!Number.isInteger(epochs) || epochs < 0 || epochs > 1000) {
    throw new HepexError(
      'invalid-argument',
      `--${name} must be a whole number from 0 to 1000, got ${epochs}.`,
    );
  }
  return epochs;
}
