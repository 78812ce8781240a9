import type { StoreApi } from 'zustand/vanilla';
import { isHepexError } from '../core/model/errors';
import { analyse } from '../core/analysis/studioAnalysis';
import { selectTimings } from './selectors';
import type { AppState } from './appStore';
import type { StoreDeps } from './deps';
import type { ErrorSource, Shown } from './types';
import type { PendingLink } from './hashActions';
import { resolveRing, type RingChoice } from '../core/he/heModel';
import {
  createTileSides,
  placeTile,
  DEFAULT_RING_DEGREE,
  type Orientation,
  type TileShape,
} from '../core/tiling/tileShape';

/**
 * What the action groups share: the store's set/get, the injected services, and the few pieces
 * of bookkeeping that are not state (job tokens, the pending preview). One per store.
 */
export interface StoreRuntime {
  readonly set: StoreApi<AppState>['setState'];
  readonly get: () => AppState;
  readonly deps: StoreDeps;
  /**
   * Shows a user-facing error (a cancelled job is not one). `source` names the control or job
   * it came from, so fixing that control clears the banner (clearError).
   */
  fail(error: unknown, source?: ErrorSource): void;
  /** Hides the banner if it came from `source` (the problem is fixed). */
  clearError(source: ErrorSource): void;
  /** A tile shape with its ring degree resolved for the model shown (see TilingSlice). */
  resolveTile(t1: number, t2: number, first: Orientation, ring: RingChoice): TileShape;
  /** Sets shown + analysis together; an error (e.g. impossible tile) leaves both as they were. */
  show(shown: Shown, counts?: readonly Uint32Array[]): boolean;
  /** One preview per task, reading the parameters when it runs (latest wins). */
  schedulePreview(): void;
  /**
   * Runs a worker job. A new job (or a new model) aborts the previous one; only the current job's
   * result is applied and only it clears the busy bar.
   */
  runJob<T>(
    label: string,
    job: (signal: AbortSignal, isCurrent: () => boolean) => Promise<T>,
    apply: (value: T) => void,
  ): Promise<void>;
  /** Aborts the running job, if any. */
  cancelJob(): void;
  /** Denoisers fine-tune and evaluate on noisy inputs, as they were trained (CLI provenance). */
  noise(): number;
  /** A link opened before its model was there: applied once the model loads (applyLink). */
  pendingLink: PendingLink | null;
  /** Shows what a link asked for (twin, trained model or preview) and says what it could not. */
  applyLink(link: PendingLink): void;
}

export const errorMessage = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

export function createRuntime(
  set: StoreRuntime['set'],
  get: () => AppState,
  deps: StoreDeps,
): StoreRuntime {
  const schedule = deps.schedule ?? ((run: () => void) => queueMicrotask(run));
  let previewPending = false;
  let jobToken = 0;
  let jobAbort: AbortController | null = null;

  const rt: StoreRuntime = {
    set,
    get,
    deps,
    pendingLink: null,
    applyLink(link) {
      rt.pendingLink = null;
      const s = get();
      const notes = [...link.notes];
      if (link.show === 'twin' && s.twin) s.showTwin();
      else if (link.show === 'dense') s.showDense();
      else {
        if (link.show === 'twin')
          notes.push(
            'It showed a shipped HE-PEx model, and this model has none: the preview at the same settings is shown instead.',
          );
        s.applyPreview();
      }
      set({ linkNotice: notes.length ? notes : null });
    },
    fail(error, source) {
      if (isHepexError(error) && error.code === 'cancelled') return;
      set({ error: errorMessage(error), errorSource: source ?? null });
    },
    clearError(source) {
      get().clearError(source);
    },
    resolveTile(t1, t2, first, ring) {
      // Validate the sides first (a plain-words error), then price the ring degree.
      const sides = createTileSides(t1, t2, first);
      const network = get().dense?.network;
      const ringDegree = network
        ? resolveRing(network, sides, ring).ringDegree
        : ring === 'auto'
          ? DEFAULT_RING_DEGREE
          : ring;
      return placeTile(sides, { ringDegree });
    },
    show(shown, counts) {
      try {
        const analysis = analyse(shown, get().tile, counts, selectTimings(get()));
        const layers = shown.network.layers.length;
        set({
          shown,
          analysis,
          shownRunId: null,
          selectedLayer: Math.min(get().selectedLayer, layers - 1),
        });
        return true;
      } catch (error) {
        rt.fail(error);
        return false;
      }
    },
    schedulePreview() {
      if (previewPending) return;
      previewPending = true;
      schedule(() => {
        previewPending = false;
        get().applyPreview();
      });
    },
    async runJob(label, job, apply) {
      jobAbort?.abort();
      const token = ++jobToken;
      const controller = new AbortController();
      jobAbort = controller;
      const isCurrent = () => token === jobToken;
      set({ busy: { label, progress: null } });
      try {
        const value = await job(controller.signal, isCurrent);
        if (isCurrent()) apply(value);
      } catch (error) {
        if (isCurrent()) rt.fail(error);
      } finally {
        if (isCurrent()) {
          set({ busy: null });
          jobAbort = null;
        }
      }
    },
    cancelJob() {
      jobAbort?.abort();
    },
    noise() {
      const n = get().dense?.provenance?.noise;
      return typeof n === 'number' ? n : 0;
    },
  };
  return rt;
}
