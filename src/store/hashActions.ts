import { createTileShape } from '../core/tileShape';
import type { StoreRuntime } from './runtime';
import { formatHash, parseHash } from './urlHash';

export interface HashActions {
  /** The current view as a URL hash (preset, tile, method, sliders, layer, view). */
  toHash: () => string;
  /** Applies a hash; invalid parts are ignored. Pruning parameters preview once a model is there. */
  applyHash: (hash: string) => void;
}

export function createHashActions(rt: StoreRuntime): HashActions {
  const { set, get } = rt;
  return {
    toHash: () => {
      const s = get();
      return formatHash({
        preset: s.preset,
        t1: s.tile.t1,
        t2: s.tile.t2,
        ringDegree: s.tile.ringDegree,
        first: s.tile.first,
        method: s.method,
        scope: s.scope,
        score: s.score,
        sparsity: s.sparsity,
        theta: s.theta,
        structure: s.structure,
        distill: s.distill,
        tileBudget: s.tileBudget,
        layer: s.selectedLayer,
        view: s.viewMode,
      });
    },

    applyHash: (hash) => {
      const h = parseHash(hash);
      const { preset, method, scope, score, sparsity, theta, structure, distill, tileBudget } = h;
      const { view, layer } = h;
      set({
        ...(preset && { preset }),
        ...(method && { method }),
        ...(scope && { scope }),
        ...(score && { score }),
        ...(sparsity !== undefined && { sparsity }),
        ...(theta !== undefined && { theta }),
        ...(structure && { structure }),
        ...(distill !== undefined && { distill }),
        ...(tileBudget !== undefined && { tileBudget }),
        ...(view && { viewMode: view }),
        ...(layer !== undefined && { selectedLayer: layer }),
      });
      if (h.t1 !== undefined && h.t2 !== undefined) {
        try {
          set({
            tile: createTileShape(h.t1, h.t2, {
              ringDegree: h.ringDegree ?? get().tile.ringDegree,
              first: h.first ?? get().tile.first,
            }),
          });
        } catch (error) {
          rt.fail(error);
        }
      }
      if (method || sparsity !== undefined || theta !== undefined || h.t1 !== undefined) {
        if (get().working) rt.schedulePreview();
        else rt.hashPreviewPending = true;
      }
    },
  };
}
