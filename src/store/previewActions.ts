import type { Mask } from '../core/model/matrix';
import { layerSizes, type Network } from '../core/model/network';
import type { StructureLevel } from '../core/prune/methodSteps';
import { tilePrune } from '../core/prune/tilePrune';
import { planTiles } from '../core/tiling/tilePlan';
import type { RingChoice } from '../core/he/heModel';
import type { Orientation } from '../core/tiling/tileShape';
import { thetaLabel } from '../core/prune/thetaSteps';
import { applyMasks } from '../core/analysis/studioAnalysis';
import { markCounts, markInput } from './perfMarks';
import { buildMagnitudeRanks, previewFromRanks } from '../core/prune/magnitudeRanks';
import { MAX_TILE_BUDGET } from './pruningSlice';
import type { StoreRuntime } from './runtime';
import { METHOD_LABELS, type Method, type PruneScope, type TileScore } from './types';

export interface PreviewActions {
  /**
   * Unset arguments keep the current ring choice / first-layer orientation. 'auto' prices the
   * smallest ring degree secure for the model's depth.
   */
  setTileShape: (t1: number, t2: number, ring?: RingChoice, first?: Orientation) => void;
  setMethod: (method: Method) => void;
  setScope: (scope: PruneScope) => void;
  setScore: (score: TileScore) => void;
  setSparsity: (sparsity: number) => void;
  setTheta: (theta: number) => void;
  /** Only the whole pipeline reads it: no preview to redo. */
  setStructure: (structure: StructureLevel) => void;
  /** Only the whole pipeline reads it, like setStructure. */
  setDistill: (distill: boolean) => void;
  /** Only the whole pipeline reads it; null: no budget. A bad value fails, state untouched. */
  setTileBudget: (budget: number | null) => void;
  /** Recomputes the preview from `working` and the parameters now (normally scheduled). */
  applyPreview: () => void;
  /** Back to the unpermuted dense network for previews. */
  resetWorking: () => void;
}

/**
 * Slider-driven work on the main thread: each setter stores its parameter at once and schedules
 * one preview per task (latest wins). Magnitude and HE-PEx previews use the ranks built once per
 * network (~5 ms per move on 784-256-64-256-784); tile pruning calls core's tilePrune.
 */
export function createPreviewActions(rt: StoreRuntime): PreviewActions {
  const { set, get } = rt;

  /** Masks (and, on the fast path, weights and tile counts) of the preview at the current parameters. */
  const previewOf = (
    working: Network,
  ): { masks: Mask[]; network?: Network; counts?: Uint32Array[] } => {
    const s = get();
    if (s.method === 'tile') {
      return {
        masks: tilePrune(working, s.tile, {
          tileSparsity: s.sparsity,
          score: s.score,
          scope: s.scope,
        }).masks,
      };
    }
    const ranks = s.ranks ?? buildMagnitudeRanks(working);
    if (!s.ranks) set({ ranks });
    const plan = planTiles(layerSizes(working), s.tile);
    return previewFromRanks(
      working,
      ranks,
      plan,
      s.sparsity,
      s.scope,
      s.method === 'hepex' ? s.theta : null,
    );
  };

  const param =
    <K extends 'method' | 'scope' | 'score'>(key: K) =>
    (value: ReturnType<typeof get>[K]) => {
      set({ [key]: value } as Partial<ReturnType<typeof get>>);
      rt.schedulePreview();
    };

  return {
    setTileShape: (t1, t2, ring, first) => {
      try {
        const s = get();
        const ringChoice = ring ?? s.ringChoice;
        set({ tile: rt.resolveTile(t1, t2, first ?? s.tile.first, ringChoice), ringChoice });
      } catch (error) {
        rt.fail(error, 'tile');
        return;
      }
      rt.clearError('tile');
      const shown = get().shown;
      if (!shown) return;
      // A preview depends on the tile shape: recompute it; anything else only recounts.
      if (shown.origin === 'preview') rt.schedulePreview();
      else rt.show(shown);
    },

    setMethod: param('method'),
    setScope: param('scope'),
    setScore: param('score'),
    setStructure: (structure) => set({ structure }),
    setDistill: (distill) => set({ distill }),
    setTileBudget: (budget) => {
      if (
        budget !== null &&
        !(Number.isInteger(budget) && budget >= 1 && budget <= MAX_TILE_BUDGET)
      )
        return rt.fail(
          new Error(
            `The tile budget must be a whole number of tiles from 1 to ${MAX_TILE_BUDGET}, or empty for none.`,
          ),
          'budget',
        );
      rt.clearError('budget');
      set({ tileBudget: budget });
    },

    setSparsity: (sparsity) => {
      if (!(sparsity >= 0 && sparsity < 1))
        return rt.fail(new Error('The sparsity must be at least 0 and below 1.'), 'sparsity');
      rt.clearError('sparsity');
      markInput();
      set({ sparsity });
      rt.schedulePreview();
    },

    setTheta: (theta) => {
      if (!(theta >= 0 && theta <= 1))
        return rt.fail(new Error('Theta must be between 0 and 1.'), 'theta');
      rt.clearError('theta');
      markInput();
      set({ theta });
      rt.schedulePreview();
    },

    applyPreview: () => {
      const s = get();
      if (!s.working) return;
      try {
        const { masks, network, counts } = previewOf(s.working);
        const permuted = s.workingPermutation && s.working !== s.dense?.network ? ', permuted' : '';
        const label =
          s.method === 'hepex'
            ? `HE-PEx ${Math.round(s.sparsity * 100)}%, θ ${thetaLabel(s.theta, s.tile)}${permuted}`
            : `${METHOD_LABELS[s.method]} ${Math.round(s.sparsity * 100)}%${permuted}`;
        const shown = {
          network: network ?? applyMasks(s.working, masks),
          masks,
          origin: 'preview' as const,
          label,
          permutation: s.workingPermutation ?? undefined,
          target: s.sparsity,
          theta: s.method === 'hepex' ? s.theta : 0,
        };
        rt.show(shown, counts);
        markCounts();
      } catch (error) {
        rt.fail(error, 'tile');
      }
    },

    resetWorking: () => {
      const dense = get().dense;
      if (!dense) return;
      set({
        working: dense.network,
        workingPermutation: dense.permutation ?? null,
        ranks: null,
        lastPermutation: null,
      });
      rt.schedulePreview();
    },
  };
}
