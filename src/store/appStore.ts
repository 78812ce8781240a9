import { createStore, type StoreApi } from 'zustand/vanilla';
import type { StoreDeps } from './deps';
import {
  createConversionActions,
  createConversionSlice,
  type ConversionActions,
  type ConversionSlice,
} from './conversionActions';
import {
  createDataSetActions,
  createDataSetSlice,
  type DataSetActions,
  type DataSetSlice,
} from './dataSetActions';
import { createHashActions, type HashActions } from './hashActions';
import { createHeActions, type HeActions } from './heActions';
import { createHeSlice, type HeSlice } from './heSlice';
import { createJobActions, type JobActions } from './jobActions';
import { createModelActions, type ModelActions } from './modelActions';
import { createModelSlice, type ModelSlice } from './modelSlice';
import { createPreviewActions, type PreviewActions } from './previewActions';
import { createPruningSlice, type PruningSlice } from './pruningSlice';
import { createRunActions, type RunActions } from './runActions';
import { createRunsSlice, type RunsSlice } from './runsSlice';
import { createSettingsActions, type SettingsActions } from './settingsActions';
import { createSweepSlice, type SweepSlice } from './sweepSlice';
import { createRuntime } from './runtime';
import { createTilingSlice, type TilingSlice } from './tilingSlice';
import { createUiSlice, type UiSlice } from './uiSlice';

export type { HeService, StoreDeps, TrainService } from './deps';

/**
 * Cross-slice actions, in seven groups: models (load, show, export), previews (slider-driven,
 * main thread, latest wins), jobs (worker steps), the history they feed, the HE engine
 * (encrypted runs, calibration), the URL hash and what the browser keeps between visits. Orchestration lives here and in services,
 * never in components.
 */
export type Actions = ModelActions &
  ConversionActions &
  PreviewActions &
  JobActions &
  RunActions &
  HeActions &
  HashActions &
  SettingsActions &
  DataSetActions;

export type AppState = ModelSlice &
  ConversionSlice &
  TilingSlice &
  PruningSlice &
  RunsSlice &
  HeSlice &
  UiSlice &
  DataSetSlice &
  SweepSlice &
  Actions;
export type AppStore = StoreApi<AppState>;

/** One store built from slices (zustand's slices pattern); each call is independent, so every test gets a fresh one. */
export function createAppStore(deps: StoreDeps): AppStore {
  return createStore<AppState>()((set, get, api) => {
    const rt = createRuntime(set, get, deps);
    return {
      ...createModelSlice(set, get, api),
      ...createConversionSlice(set, get, api),
      ...createTilingSlice(set, get, api),
      ...createPruningSlice(set, get, api),
      ...createRunsSlice(set, get, api),
      ...createHeSlice(set, get, api),
      ...createUiSlice(set, get, api),
      ...createDataSetSlice(set, get, api),
      ...createModelActions(rt),
      ...createConversionActions(rt),
      ...createPreviewActions(rt),
      ...createJobActions(rt),
      ...createRunActions(rt),
      ...createHeActions(rt),
      ...createHashActions(rt),
      ...createSettingsActions(rt),
      ...createDataSetActions(rt),
      ...createSweepSlice(rt),
    };
  });
}
