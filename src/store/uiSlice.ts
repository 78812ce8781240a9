import type { StateCreator } from 'zustand';
import type { AppState } from './appStore';
import type { TrainProgress } from '../core/model/trainer';
import type { ErrorSource, ThemeChoice, ViewMode } from './types';

export interface BusyState {
  /** What runs, in words: "Permuting neurons". */
  readonly label: string;
  /** 0..1, or null when the job cannot tell. */
  readonly progress: number | null;
  readonly detail?: string;
}

export interface UiSlice {
  theme: ThemeChoice;
  selectedLayer: number;
  viewMode: ViewMode;
  /** The inline error banner; null hides it. */
  error: string | null;
  /** Which control or job raised it (see ErrorSource); null: only Dismiss clears it. */
  errorSource: ErrorSource | null;
  busy: BusyState | null;
  /** What the link that opened the studio could not reproduce, one sentence each; null: nothing. */
  linkNotice: readonly string[] | null;
  /** The last training run's per-epoch figures (the live chart); null before any. */
  training: { readonly epochs: number; readonly history: readonly TrainProgress[] } | null;
  /** The first-visit guide; closing it is remembered (storage) so it opens once. */
  guideOpen: boolean;
  setTheme: (theme: ThemeChoice) => void;
  selectLayer: (layer: number) => void;
  setViewMode: (mode: ViewMode) => void;
  /** Shows a message in the banner; with `source`, fixing that source clears it (clearError). */
  showError: (message: string, source?: ErrorSource) => void;
  /** Hides the banner if it came from `source`. */
  clearError: (source: ErrorSource) => void;
  dismissError: () => void;
}

export const createUiSlice: StateCreator<AppState, [], [], UiSlice> = (set, get) => ({
  theme: 'system',
  selectedLayer: 0,
  viewMode: 'weights',
  error: null,
  errorSource: null,
  busy: null,
  linkNotice: null,
  training: null,
  guideOpen: false,
  setTheme: (theme) => set({ theme }),
  selectLayer: (layer) => {
    const layers = get().shown?.network.layers.length ?? 0;
    if (Number.isInteger(layer) && layer >= 0 && (layers === 0 || layer < layers))
      set({ selectedLayer: layer });
  },
  setViewMode: (viewMode) => set({ viewMode }),
  showError: (error, source) => set({ error, errorSource: source ?? null }),
  clearError: (source) => {
    if (get().errorSource === source) set({ error: null, errorSource: null });
  },
  dismissError: () => set({ error: null, errorSource: null }),
});
