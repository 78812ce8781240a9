import { errorMessage, type StoreRuntime } from './runtime';
import { PRESET_LABELS } from './types';
import { formatHash, parseHash, type ShowChoice } from './urlHash';

export interface HashActions {
  /** The current view as a URL hash (model, what is shown, tile, method, sliders, layer, view). */
  toHash: () => string;
  /**
   * Applies a link. What it cannot reproduce, and every part it could not read, is said in the
   * link notice; the rest is applied (once the model is there, for what is shown).
   */
  applyHash: (hash: string) => void;
  dismissLinkNotice: () => void;
}

/** What a link asked to show, kept until the model it names has loaded. */
export interface PendingLink {
  readonly show: ShowChoice;
  /** Sentences for the link notice, said once the model is there. */
  readonly notes: readonly string[];
}

export function createHashActions(rt: StoreRuntime): HashActions {
  const { set, get } = rt;
  return {
    toHash: () => {
      const s = get();
      const origin = s.modelOrigin;
      return formatHash({
        preset: s.preset,
        unlinked: origin.kind === 'preset' ? null : origin,
        show: s.shown?.origin ?? 'preview',
        t1: s.tile.t1,
        t2: s.tile.t2,
        ring: s.ringChoice,
        first: s.tile.first,
        method: s.method,
        scope: s.scope,
        score: s.score,
        sparsity: s.sparsity,
        theta: s.theta,
        structure: s.structure,
        distill: s.distill,
        tileBudget: s.tileBudget,
        permuted: s.working !== null && s.working !== s.dense?.network,
        layer: s.selectedLayer,
        view: s.viewMode,
      });
    },

    applyHash: (hash) => {
      if (hash.replace(/^#/, '') === '') return;
      const { state: h, problems } = parseHash(hash);
      // A link naming another preset applies once that model has loaded (the caller loads it).
      const samePreset = !h.preset || h.preset === get().preset;
      const { preset, method, scope, score, sparsity, theta, structure, distill, tileBudget } = h;
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
        ...(h.view && { viewMode: h.view }),
        ...(h.layer !== undefined && { selectedLayer: h.layer }),
        ...(h.ring !== undefined && { ringChoice: h.ring }),
      });
      const notes: string[] = [];
      const current = get().tile;
      try {
        set({
          tile: rt.resolveTile(
            h.t1 ?? current.t1,
            h.t2 ?? current.t2,
            h.first ?? current.first,
            get().ringChoice,
          ),
        });
      } catch (error) {
        notes.push(`Its tile shape could not be used: ${errorMessage(error)}`);
      }
      const modelName = PRESET_LABELS[get().preset].toLowerCase();
      if (h.unlinked?.kind === 'file')
        notes.push(
          `It was made with model files opened by hand (${h.unlinked.name}), and a link cannot carry files: the ${modelName} is shown instead. Open the files again to continue with them.`,
        );
      if (h.unlinked?.kind === 'trained')
        notes.push(
          `It was made with a model trained in the browser (${h.unlinked.name}), which a link cannot carry: the ${modelName} is shown instead. Export the model to share it.`,
        );
      let show: ShowChoice = h.show ?? 'preview';
      if (show === 'step') {
        notes.push(
          'It showed the result of a worker step (whole pipeline or retraining), which a link cannot carry: the preview at the same settings is shown instead. Export the model to share that result.',
        );
        show = 'preview';
      }
      if (h.permuted)
        notes.push(
          'Its previews pruned a network reordered by “Permute neurons”, and the order is not in the link: press Permute neurons to find it again.',
        );
      if (problems.length)
        notes.push(`These parts could not be read and were ignored: ${problems.join('; ')}.`);
      const link: PendingLink = { show, notes };
      if (get().dense && samePreset) rt.applyLink(link);
      else rt.pendingLink = link;
    },

    dismissLinkNotice: () => set({ linkNotice: null }),
  };
}
