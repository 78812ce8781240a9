import type { StateCreator } from 'zustand';
import type { AppState } from './appStore';
import type { TrainProgress } from '../core/trainer';
import type { HeRunFailure, HeRunSummary, ThemeChoice, ViewMode } from './types';

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
  busy: BusyState | null;
  /** The last training run's per-epoch figures (the live chart); null before any. */
  training: { readonly epochs: number; readonly history: readonly TrainProgress[] } | null;
  /** The last encrypted comparison (shown model vs trained model). */
  heResults: {
    readonly samples: number;
    readonly rows: readonly (HeRunSummary | HeRunFailure)[];
  } | null;
  setTheme: (theme: ThemeChoice) => void;
  selectLayer: (layer: number) => void;
  setViewMode: (mode: ViewMode) => void;
  showError: (message: string) => void;
  dismissError: () => void;
}

export const createUiSlice: StateCreator<AppState, [], [], UiSlice> = (set, get) => ({
  theme: 'system',
  selectedLayer: 0,
  viewMode: 'weights',
  error: null,
  busy: null,
  training: null,
  heResults: null,
  setTheme: (theme) => set({ theme }),
  selectLayer: (layer) => {
    const layers = get().shown?.network.layers.length ?? 0;
    if (Number.isInteger(layer) && layer >= 0 && (layers === 0 || layer < layers))
      set({ selectedLayer: layer });
  },
  setViewMode: (viewMode) => set({ viewMode }),
  showError: (error) => set({ error }),
  dismissError: () => set({ error: null }),
});
