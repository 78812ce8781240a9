import type { StateCreator } from 'zustand';
import type { AppState } from './appStore';
import type { StructureLevel } from '../core/prune/pipeline';
import type { Method, PruneScope, TileScore } from './types';

/**
 * Pruning parameters. sparsity: fraction of weights zeroed (magnitude, HE-PEx) or of tiles
 * zeroed (tile pruning); theta: the HE-PEx density at or below which a tile is dropped.
 */
export interface PruningSlice {
  method: Method;
  scope: PruneScope;
  score: TileScore;
  sparsity: number;
  theta: number;
  /** Group-lasso training before the whole pipeline's pruning (off: the paper's pipeline). */
  structure: StructureLevel;
  /** Classifiers: the whole pipeline's last retrain learns from the trained model (distillation). */
  distill: boolean;
}

/** The authors' demo: sparsity 0.9, theta 0.0625, global scope. */
export const DEFAULT_PRUNING: PruningSlice = {
  method: 'hepex',
  scope: 'global',
  score: 'l1',
  sparsity: 0.9,
  theta: 0.0625,
  structure: 'off',
  distill: false,
};

export const createPruningSlice: StateCreator<AppState, [], [], PruningSlice> = () => ({
  ...DEFAULT_PRUNING,
});
