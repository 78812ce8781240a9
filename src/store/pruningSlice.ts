import type { StateCreator } from 'zustand';
import type { AppState } from './appStore';
import type { StructureLevel } from '../core/prune/methodSteps';
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
  /**
   * HE-PEx whole pipeline: at most this many weight tiles survive the expansion, the heaviest
   * (core/prune/expand.ts maxTiles); null: no budget, theta alone decides.
   */
  tileBudget: number | null;
}

/** Far above any preset's tile count at any tile shape: a typo guard for the tile budget. */
export const MAX_TILE_BUDGET = 1_000_000;

/** The authors' demo: sparsity 0.9, theta 0.0625, global scope. */
export const DEFAULT_PRUNING: PruningSlice = {
  method: 'hepex',
  scope: 'global',
  score: 'l1',
  sparsity: 0.9,
  theta: 0.0625,
  structure: 'off',
  distill: false,
  tileBudget: null,
};

export const createPruningSlice: StateCreator<AppState, [], [], PruningSlice> = () => ({
  ...DEFAULT_PRUNING,
});
