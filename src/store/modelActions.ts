import type { HepexModel } from '../core/io/model';
import { inputWidth } from '../core/model/network';
import { applyMasks, masksOf } from '../core/analysis/studioAnalysis';
import type { OnnxForm } from '../services/modelLoader';
import { exportBaseName, exportNamePartsOf, modelFileNames, onnxFileNames } from './exportNames';
import { errorMessage, type StoreRuntime } from './runtime';
import { blockedActivations, isConversionNeeded } from '../services/sourceModel';
import { PRESET_LABELS, type LoadedModels, type Preset, type Shown } from './types';
import type { ModelOrigin } from './modelSlice';
import { MNIST_DATA_LABEL, MNIST_DATA_NAME } from './modelSlice';

export interface ModelActions {
  loadPreset: (preset: Preset) => Promise<void>;
  loadFiles: (files: readonly File[]) => Promise<void>;
  /** Makes freshly loaded (or trained) models the ones shown; `label` says where they came from. */
  adoptModels: (models: LoadedModels, label: string, origin?: ModelOrigin) => void;
  showDense: () => void;
  showTwin: () => void;
  /** The shown model as a HepexModel (for export). */
  shownModel: () => HepexModel | null;
  /**
   * TF.js files (model.json + weights, userDefinedMetadata.hepex) of the shown model, with the
   * file names to save them under (exportNames.ts; model.json's manifest names `weightsFile`).
   */
  exportModel: () => Promise<ExportedModel | null>;
  /**
   * The shown model as ONNX (HElayers' subset): 'function' on raw inputs, or 'server' (packing
   * order) with the client permutations as JSON; each file with the name to save it under.
   */
  exportOnnx: (form: OnnxForm) => Promise<ExportedOnnx | null>;
  /** IDX images + labels for retraining, evaluation and encrypted runs; a bad pair changes nothing. */
  loadData: (files: readonly File[]) => Promise<void>;
  /** Back to the built-in MNIST split. */
  resetData: () => Promise<void>;
}

export interface ExportedModel {
  /** The model's own name (userDefinedMetadata.hepex.name). */
  readonly name: string;
  readonly modelFile: string;
  readonly weightsFile: string;
  readonly modelJson: string;
  readonly weights: Uint8Array;
}

export interface ExportedOnnx {
  readonly files: readonly { readonly name: string; readonly data: Uint8Array | string }[];
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

  /**
   * New data: the trained model's metric on it, so the history and the Pareto plot have a
   * baseline on the same data (runs on other data are never compared with it).
   */
  const recordBaseline = () => {
    const dense = get().dense;
    if (dense) get().recordBaseline(shownOf(dense, 'dense', denseLabel(dense)));
  };

  const load = async (
    run: (signal: AbortSignal) => Promise<LoadedModels>,
    label: string,
    origin: ModelOrigin,
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
      if (token === loadToken) {
        get().adoptModels(models, label, origin);
        set({ conversion: null });
      }
    } catch (error) {
      if (token !== loadToken) return;
      const text = errorMessage(error);
      if (isConversionNeeded(error)) {
        // Not only an error: the notice offers the conversion; the model shown stays.
        set({
          status: get().shown ? 'ready' : 'error',
          loadError: text,
          conversion: {
            source: error.source,
            label,
            activations: blockedActivations(error.source),
            status: 'offered',
          },
        });
        return;
      }
      // The previous model, if any, stays on screen; the banner says what went wrong.
      set({
        status: get().shown ? 'ready' : 'error',
        loadError: text,
        error: text,
        errorSource: 'load',
      });
    }
  };

  return {
    loadPreset: (preset) =>
      load(
        (signal) => deps.loader.loadPreset(preset, signal),
        `${PRESET_LABELS[preset]} (models/${preset})`,
        { kind: 'preset' },
        preset,
      ),

    loadFiles: (files) => {
      const names = files.map((f) => f.name).join(' + ');
      return load(() => deps.loader.loadFiles(files), names, { kind: 'file', name: names });
    },

    adoptModels: ({ dense, twin }, label, origin = { kind: 'preset' }) => {
      const link = rt.pendingLink;
      // A model made for a tile shape opens in it, unless a link chose one; the ring degree
      // follows the ring choice (auto: the smallest secure for this model's depth).
      const sides = link ? get().tile : ((twin ?? dense).tile ?? get().tile);
      set({
        status: 'ready',
        loadError: null,
        error: null,
        errorSource: null,
        sourceLabel: label,
        modelOrigin: origin,
        modelKey: `${dense.name || 'model'} #${++loads}`,
        dense,
        twin,
        working: dense.network,
        workingPermutation: dense.permutation ?? null,
        lastPermutation: null,
        ranks: null,
      });
      try {
        set({ tile: rt.resolveTile(sides.t1, sides.t2, sides.first, get().ringChoice) });
      } catch (error) {
        rt.fail(error, 'tile');
      }
      // A model that already carries masks (e.g. one the studio exported) is shown as it is.
      const pruned = dense.masks !== undefined;
      if (rt.show(shownOf(dense, 'dense', denseLabel(dense))))
        get().recordRun(pruned ? 'opened' : 'trained');
      if (twin) {
        const provenance = twin.provenance ?? {};
        if (!link && typeof provenance.sparsity === 'number')
          set({ sparsity: provenance.sparsity });
        if (!link && typeof provenance.theta === 'number') set({ theta: provenance.theta });
        if (rt.show(shownOf(twin, 'twin', twinLabel(twin)))) get().recordRun('shipped HE-PEx twin');
      }
      // A link shows what it asks for; else the first screen tells the story: without a shipped
      // twin, the preview at the current parameters next to the dense count.
      if (link) {
        rt.applyLink(link);
        if (get().shown?.origin === 'preview') get().recordRun();
      } else if (!twin && !pruned) {
        get().applyPreview();
        get().recordRun();
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
          'data',
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
          pair.images.name.replace(/(\.gz)?$/, '').replace(/([-_.]?(images?|idx3|ubyte))+$/i, '') ||
          'IDX data';
        const result = await deps.pipeline().setData({ images, labels, name, inputs });
        if (result) {
          // What is shown was recorded on the old data: it may be recorded again on this.
          set({ dataLabel: result.label, dataName: name, shownRunId: null });
          rt.clearError('data');
          recordBaseline();
        }
      } catch (error) {
        rt.fail(error, 'data');
      }
    },

    resetData: async () => {
      try {
        await deps.pipeline().setData(null);
        set({ dataLabel: MNIST_DATA_LABEL, dataName: MNIST_DATA_NAME, shownRunId: null });
        rt.clearError('data');
        recordBaseline();
      } catch (error) {
        rt.fail(error, 'data');
      }
    },

    exportModel: async () => {
      const model = get().shownModel();
      const parts = exportNamePartsOf(get());
      if (!model || !parts) return null;
      const { modelFile, weightsFile } = modelFileNames(exportBaseName(parts));
      try {
        const files = await deps.loader.exportModel(model, weightsFile);
        rt.clearError('export');
        return { name: model.name, modelFile, weightsFile, ...files };
      } catch (error) {
        rt.fail(error, 'export');
        return null;
      }
    },

    exportOnnx: async (form) => {
      const model = get().shownModel();
      const parts = exportNamePartsOf(get());
      if (!model || !parts) return null;
      const names = onnxFileNames(exportBaseName(parts));
      try {
        const out = await deps.loader.exportOnnx(model, form);
        rt.clearError('export');
        if (form === 'function') return { files: [{ name: names.functionFile, data: out.onnx }] };
        return {
          files: [
            { name: names.serverFile, data: out.onnx },
            { name: names.permutationFile, data: out.permutationJson ?? '' },
          ],
        };
      } catch (error) {
        rt.fail(error, 'export');
        return null;
      }
    },
  };
}
