import type { StoreApi } from 'zustand/vanilla';
import { isHepexError } from '../core/errors';
import { analyse } from './analysis';
import type { AppState } from './appStore';
import type { StoreDeps } from './deps';
import type { Shown } from './types';

/**
 * What the action groups share: the store's set/get, the injected services, and the few pieces
 * of bookkeeping that are not state (job tokens, the pending preview). One per store.
 */
export interface StoreRuntime {
  readonly set: StoreApi<AppState>['setState'];
  readonly get: () => AppState;
  readonly deps: StoreDeps;
  /** Shows a user-facing error (a cancelled job is not one). */
  fail(error: unknown): void;
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
  /** A link asked for a preview before the model was there: show it once the model loads. */
  hashPreviewPending: boolean;
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
    hashPreviewPending: false,
    fail(error) {
      if (isHepexError(error) && error.code === 'cancelled') return;
      set({ error: errorMessage(error) });
    },
    show(shown, counts) {
      try {
        const analysis = analyse(shown, get().tile, counts);
        const layers = shown.network.layers.length;
        set({ shown, analysis, selectedLayer: Math.min(get().selectedLayer, layers - 1) });
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
