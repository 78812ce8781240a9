import type { HepexModel } from '../core/model';
import { inputWidth } from '../core/network';
import { applyMasks, masksOf } from './analysis';
import { errorMessage, type StoreRuntime } from './runtime';
import { PRESET_LABELS, type LoadedModels, type Preset, type Shown } from './types';
import { MNIST_DATA_LABEL } from './modelSlice';

export interface ModelActions {
  loadPreset: (preset: Preset) => Promise<void>;
  loadFiles: (files: readonly File[]) => Promise<void>;
  /** Makes freshly loaded (or trained) models the ones shown; `label` says where they came from. */
  adoptModels: (models: LoadedModels, label: string) => void;
  showDense: () => void;
  showTwin: () => void;
  /** The shown model as a HepexModel (for export). */
  shownModel: () => HepexModel | null;
  /** TF.js files (model.json + weights.bin, userDefinedMetadata.hepex) of the shown model. */
  exportModel: () => Promise<{ name: string; modelJson: string; weights: Uint8Array } | null>;
  /** IDX images + labels for retraining, evaluation and encrypted runs; a bad pair changes nothing. */
  loadData: (files: readonly File[]) => Promise<void>;
  /** Back to the built-in MNIST split. */
  resetData: () => Promise<void>;
}

/** Which of two IDX files holds the labels: by name (labels, idx1), else the smaller one. */
function splitIdxPair(files: readonly File[]): { images: File; labels: File } | null {
  if (files.length !== 2) return null;
  const isLabels = (f: File) => /label|idx1/i.test(f.name);
  const [a, b] = files;
  if (isLabels(a) !== isLabels(b))
    return isLabels(a) ? { images: b, labels: a } : { images: a, labels: b };
  return a.size >= b.size ? { images: a, labels: b } : { images: b, labels: a };
}

function shownOf(m: HepexModel, origin: Shown['origin'], label: string): Shown {
  const masks = masksOf(m.network, m.masks);
  return {
    network: applyMasks(m.network, masks),
    masks,
    origin,
    label,
    permutation: m.permutation,
    metrics: m.metrics,
  };
}

const denseLabel = (m: HepexModel) => `${m.name || 'model'} (${m.masks ? 'as opened' : 'trained'})`;
const twinLabel = (m: HepexModel) => `${m.name || 'model'} (HE-PEx, shipped)`;

/** Loading (latest load wins; a failed one keeps the previous model), showing and exporting models. */
export function createModelActions(rt: StoreRuntime): ModelActions {
  const { set, get, deps } = rt;
  let loadToken = 0;
  let loads = 0;

  const load = async (
    run: (signal: AbortSignal) => Promise<LoadedModels>,
    label: string,
    preset?: Preset,
  ) => {
    // A step still running belongs to the model being replaced: stop it.
    rt.cancelJob();
    const token = ++loadToken;
    const abort = new AbortController();
    set({
      status: get().shown ? get().status : 'loading',
      loadError: null,
      ...(preset ? { preset } : {}),
    });
    try {
      const models = await run(abort.signal);
      if (token === loadToken) get().adoptModels(models, label);
    } catch (error) {
      if (token !== loadToken) return;
      const text = errorMessage(error);
      // The previous model, if any, stays on screen; the banner says what went wrong.
      set({ status: get().shown ? 'ready' : 'error', loadError: text, error: text });
    }
  };

  return {
    loadPreset: (preset) =>
      load(
        (signal) => deps.loader.loadPreset(preset, signal),
        `${PRESET_LABELS[preset]} (models/${preset})`,
        preset,
      ),

    loadFiles: (files) =>
      load(() => deps.loader.loadFiles(files), files.map((f) => f.name).join(' + ')),

    adoptModels: ({ dense, twin }, label) => {
      const fromLink = rt.hashPreviewPending;
      // A model made for a tile shape opens in it, unless a link chose one.
      const tile = fromLink ? get().tile : ((twin ?? dense).tile ?? get().tile);
      set({
        status: 'ready',
        loadError: null,
        error: null,
        sourceLabel: label,
        modelKey: `${dense.name || 'model'} #${++loads}`,
        dense,
        twin,
        working: dense.network,
        workingPermutation: dense.permutation ?? null,
        lastPermutation: null,
        ranks: null,
        tile,
      });
      // A model that already carries masks (e.g. one the studio exported) is shown as it is.
      const pruned = dense.masks !== undefined;
      if (rt.show(shownOf(dense, 'dense', denseLabel(dense))))
        get().recordRun(pruned ? 'opened' : 'trained');
      if (twin) {
        const provenance = twin.provenance ?? {};
        if (!fromLink && typeof provenance.sparsity === 'number')
          set({ sparsity: provenance.sparsity });
        if (!fromLink && typeof provenance.theta === 'number') set({ theta: provenance.theta });
        if (rt.show(shownOf(twin, 'twin', twinLabel(twin)))) get().recordRun('shipped HE-PEx twin');
      }
      // The first screen tells the story: without a shipped twin (or when a link asks for one),
      // show the preview at the current parameters next to the dense count.
      if (fromLink || (!twin && !pruned)) {
        rt.hashPreviewPending = false;
        get().applyPreview();
        if (!twin) get().recordRun();
      }
    },

    showDense: () => {
      const dense = get().dense;
      if (dense) rt.show(shownOf(dense, 'dense', denseLabel(dense)));
    },

    showTwin: () => {
      const twin = get().twin;
      if (twin) rt.show(shownOf(twin, 'twin', twinLabel(twin)));
    },

    shownModel: () => {
      const s = get();
      if (!s.shown) return null;
      return {
        name: `${s.dense?.name || 'model'}-${s.shown.origin === 'preview' ? s.method : s.shown.origin}`,
        network: s.shown.network,
        masks: s.shown.masks,
        permutation: s.shown.permutation,
        tile: s.tile,
        metrics: s.shown.metrics,
        provenance: {
          method: s.shown.origin === 'dense' ? 'none' : s.method,
          sparsity: s.sparsity,
          theta: s.theta,
          scope: s.scope,
          score: s.score,
          madeBy: 'HE-PEx Studio',
        },
      };
    },

    loadData: async (files) => {
      const pair = splitIdxPair(files);
      if (!pair) {
        rt.fail(
          new Error('Open two IDX files together: the images and the labels (gzipped or not).'),
        );
        return;
      }
      try {
        const [images, labels] = await Promise.all(
          [pair.images, pair.labels].map(async (f) => new Uint8Array(await f.arrayBuffer())),
        );
        const dense = get().dense;
        const inputs = dense ? inputWidth(dense.network) : 784;
        const name =
          pair.images.name.replace(/(\.gz)?$/, '').replace(/[-_.]?(images?|idx3-ubyte)$/i, '') ||
          'IDX data';
        const result = await deps.pipeline().setData({ images, labels, name, inputs });
        if (result) set({ dataLabel: result.label, error: null });
      } catch (error) {
        rt.fail(error);
      }
    },

    resetData: async () => {
      try {
        await deps.pipeline().setData(null);
        set({ dataLabel: MNIST_DATA_LABEL });
      } catch (error) {
        rt.fail(error);
      }
    },

    exportModel: async () => {
      const model = get().shownModel();
      if (!model) return null;
      try {
        return { name: model.name, ...(await deps.loader.exportModel(model)) };
      } catch (error) {
        rt.fail(error);
        return null;
      }
    },
  };
}
