import { createStore, type StoreApi } from 'zustand/vanilla';
import { isHepexError } from '../core/errors';
import type { HepexModel } from '../core/model';
import { methodSteps, type PipelineStep, type StepRecord } from '../core/prune/pipeline';
import { tilePrune } from '../core/prune/tilePrune';
import { planTiles } from '../core/tilePlan';
import { createTileShape, tileShapeLabel, type RingDegree } from '../core/tileShape';
import { layerSizes, type Network } from '../core/network';
import type { Mask } from '../core/matrix';
import type { ModelLoader } from '../services/modelLoader';
import type { PipelineJob, PipelineService } from '../services/pipelineClient';
import type { TrainJobOptions, TrainRequest } from '../services/trainClient';
import type { HeInferenceReport, JobOptions as HeJobOptions, SessionInfo, SessionRequest } from '../services/heClient';

/** What the store needs from the HE worker's client (services/heClient.ts). */
export interface HeService {
  createSession(request: SessionRequest, options?: HeJobOptions): Promise<{ sessionId: number; info: SessionInfo }>;
  run(sessionId: number, inputs: Float32Array, samples: number, options?: HeJobOptions): Promise<HeInferenceReport>;
  closeSession(sessionId: number): Promise<void>;
}

/** What the store needs from the training worker's client (services/trainClient.ts). */
export interface TrainService {
  train(request: TrainRequest, options?: TrainJobOptions): Promise<HepexModel>;
}

type PipelineJobInput = Pick<PipelineJob, 'network' | 'masks' | 'permutation' | 'dense'>;
import { analyse, applyMasks, masksOf } from './analysis';
import { createModelSlice, type ModelSlice } from './modelSlice';
import { markCounts, markInput } from './perfMarks';
import { buildMagnitudeRanks, magnitudeMasksFromRanks, previewFromRanks } from './previewPrune';
import { createPruningSlice, type PruningSlice } from './pruningSlice';
import { createRunsSlice, type RunsSlice } from './runsSlice';
import { createTilingSlice, type TilingSlice } from './tilingSlice';
import { createUiSlice, type UiSlice } from './uiSlice';
import { formatHash, parseHash } from './urlHash';
import { METHOD_LABELS, PRESET_LABELS, type HeRunSummary, type LoadedModels, type Method, type Preset, type PruneScope, type Shown, type TileScore } from './types';

/**
 * Cross-slice actions: the orchestration lives here (and in services), never in components.
 * Slider setters update their parameter at once and schedule one preview per task (latest
 * wins: the preview reads the parameters when it runs). Async jobs carry a token; a result whose
 * token is no longer current is dropped, so stale answers never reach the state.
 */
export interface Actions {
  loadPreset: (preset: Preset) => Promise<void>;
  loadFiles: (files: readonly File[]) => Promise<void>;
  setTileShape: (t1: number, t2: number, ringDegree?: RingDegree) => void;
  setMethod: (method: Method) => void;
  setScope: (scope: PruneScope) => void;
  setScore: (score: TileScore) => void;
  setSparsity: (sparsity: number) => void;
  setTheta: (theta: number) => void;
  /** Recomputes the preview from `working` and the parameters now (normally scheduled). */
  applyPreview: () => void;
  showDense: () => void;
  showTwin: () => void;
  /** Worker step: permute hidden neurons for the current masks; later previews use the permuted network. */
  permute: () => Promise<void>;
  /** Back to the unpermuted dense network for previews. */
  resetWorking: () => void;
  /** Worker: the method's whole pipeline from the trained model (prune, retrain, permute, expand, retrain). */
  runWholePipeline: () => Promise<void>;
  /** Worker: fine-tune what is shown with its masks held. */
  retrain: () => Promise<void>;
  /** Train worker: a fresh model of the preset's architecture and layer sizes, with live progress. */
  trainModel: (epochs: number) => Promise<void>;
  /** HE worker: encrypted inference (real SEAL) of `samples` test images on what is shown and on the trained model. */
  runEncrypted: (samples: number) => Promise<void>;
  /** Adds what is shown to the history; without a metric, the worker evaluates it (unless evaluate is false). */
  recordRun: (label?: string, evaluate?: boolean) => void;
  cancelJob: () => void;
  /** The current view as a URL hash, and the inverse. */
  toHash: () => string;
  applyHash: (hash: string) => void;
  /** The shown model as a HepexModel (for export). */
  shownModel: () => HepexModel | null;
  /** TF.js files (model.json + weights.bin, userDefinedMetadata.hepex) of the shown model. */
  exportModel: () => Promise<{ name: string; modelJson: string; weights: Uint8Array } | null>;
}

export type AppState = ModelSlice & TilingSlice & PruningSlice & RunsSlice & UiSlice & Actions;
export type AppStore = StoreApi<AppState>;

export interface StoreDeps {
  readonly loader: ModelLoader;
  /** Created on first heavy step. */
  readonly pipeline: () => PipelineService;
  /** The HE worker's client; absent: encrypted runs are unavailable. */
  readonly he?: () => HeService;
  /** The training worker (created on first use); absent: training is unavailable. */
  readonly trainer?: () => TrainService;
  /** Runs a preview after the current task; default queueMicrotask (tests may flush by hand). */
  readonly schedule?: (run: () => void) => void;
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export function createAppStore(deps: StoreDeps): AppStore {
  const schedule = deps.schedule ?? ((run: () => void) => queueMicrotask(run));
  let previewPending = false;
  let loadToken = 0;
  let jobToken = 0;
  let jobAbort: AbortController | null = null;
  /** A link asked for a preview before the model was there: show it once the model loads. */
  let hashPreviewPending = false;
  let loads = 0;

  return createStore<AppState>()((set, get, api) => {
    const fail = (error: unknown) => {
      if (isHepexError(error) && error.code === 'cancelled') return;
      set({ error: message(error) });
    };

    /** Sets shown + analysis together; an error (e.g. impossible tile) leaves both as they were. */
    const show = (shown: Shown, counts?: readonly Uint32Array[]): boolean => {
      try {
        const analysis = analyse(shown, get().tile, counts);
        const layers = shown.network.layers.length;
        set({ shown, analysis, selectedLayer: Math.min(get().selectedLayer, layers - 1) });
        return true;
      } catch (error) {
        fail(error);
        return false;
      }
    };

    const schedulePreview = () => {
      if (previewPending) return;
      previewPending = true;
      schedule(() => {
        previewPending = false;
        get().applyPreview();
      });
    };

    /** Masks (and, on the fast path, weights and tile counts) of the preview at the current parameters. */
    const previewOf = (): { masks: Mask[]; network?: Network; counts?: Uint32Array[] } => {
      const s = get();
      const working = s.working!;
      if (s.method === 'tile') {
        return { masks: tilePrune(working, s.tile, { tileSparsity: s.sparsity, score: s.score, scope: s.scope }).masks };
      }
      const ranks = s.ranks ?? buildMagnitudeRanks(working);
      if (!s.ranks) set({ ranks });
      const plan = planTiles(layerSizes(working), s.tile);
      return previewFromRanks(working, ranks, plan, s.sparsity, s.scope, s.method === 'hepex' ? s.theta : null);
    };

    const adopt = (models: LoadedModels, label: string) => {
      const { dense, twin } = models;
      const start = twin ?? dense;
      // A model made for a tile shape opens in it, unless a link chose one.
      const tile = hashPreviewPending ? get().tile : (start.tile ?? get().tile);
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
        ranks: null,
        tile,
      });
      const shownOf = (m: HepexModel, origin: Shown['origin'], what: string): Shown => {
        const masks = masksOf(m.network, m.masks);
        return { network: applyMasks(m.network, masks), masks, origin, label: what, permutation: m.permutation, metrics: m.metrics };
      };
      // A model that already carries masks (e.g. one the studio exported) is shown as it is.
      const pruned = dense.masks !== undefined;
      const denseShown = shownOf(dense, 'dense', `${dense.name || 'model'} (${pruned ? 'as opened' : 'trained'})`);
      if (show(denseShown)) get().recordRun(pruned ? 'opened' : 'trained');
      if (twin) {
        const provenance = twin.provenance ?? {};
        if (!hashPreviewPending && typeof provenance.sparsity === 'number') set({ sparsity: provenance.sparsity });
        if (!hashPreviewPending && typeof provenance.theta === 'number') set({ theta: provenance.theta });
        if (show(shownOf(twin, 'twin', `${twin.name || 'model'} (HE-PEx, shipped)`))) get().recordRun('shipped HE-PEx twin');
      }
      // The first screen tells the story: without a shipped twin (or when a link asks for one),
      // show the preview at the current parameters next to the dense count.
      if (hashPreviewPending || (!twin && !pruned)) {
        hashPreviewPending = false;
        get().applyPreview();
        if (!twin) get().recordRun();
      }
    };

    const load = async (run: (signal: AbortSignal) => Promise<LoadedModels>, label: string, preset?: Preset) => {
      // A step still running belongs to the model being replaced: stop it.
      jobAbort?.abort();
      const token = ++loadToken;
      const abort = new AbortController();
      set({ status: get().shown ? get().status : 'loading', loadError: null, ...(preset ? { preset } : {}) });
      if (!get().shown) set({ status: 'loading' });
      try {
        const models = await run(abort.signal);
        if (token !== loadToken) return;
        adopt(models, label);
      } catch (error) {
        if (token !== loadToken) return;
        const text = message(error);
        // The previous model, if any, stays on screen; the banner says what went wrong.
        set({ status: get().shown ? 'ready' : 'error', loadError: text, error: text });
      }
    };

    const runJob = async <T>(label: string, job: (signal: AbortSignal, token: number) => Promise<T>, apply: (value: T) => void) => {
      jobAbort?.abort();
      const token = ++jobToken;
      const controller = new AbortController();
      jobAbort = controller;
      set({ busy: { label, progress: null } });
      try {
        const value = await job(controller.signal, token);
        if (token !== jobToken) return;
        apply(value);
      } catch (error) {
        if (token === jobToken) fail(error);
      } finally {
        if (token === jobToken) {
          set({ busy: null });
          jobAbort = null;
        }
      }
    };

    /** Denoisers fine-tune and evaluate on noisy inputs, as they were trained (CLI provenance). */
    const noiseOf = (): number => {
      const n = get().dense?.provenance?.noise;
      return typeof n === 'number' ? n : 0;
    };

    /** Evaluates a recorded run in the worker and fills in its metric (the Pareto plot's y). */
    const evaluateRun = (id: number, shown: Shown) => {
      let service: PipelineService;
      try {
        service = deps.pipeline();
      } catch {
        return;
      }
      service.evaluate(shown.network, shown.permutation, noiseOf()).then(
        (metric) => get().setRunMetrics(id, { [metric.name]: metric.value }),
        () => {
          // A cancelled or failed evaluation leaves the run without a metric; the step's own error is shown elsewhere.
        },
      );
    };

    const runSteps = (label: string, input: PipelineJobInput, steps: PipelineStep[], runLabel: string) => {
      const s = get();
      const tile = s.tile;
      return runJob(
        label,
        (signal, token) =>
          deps.pipeline().pipeline(
            { ...input, tile, steps, noise: noiseOf() },
            {
              signal,
              onProgress: (p) => {
                if (token === jobToken) set({ busy: { label, progress: p.fraction, detail: p.detail } });
              },
            },
          ),
        (result) => {
          const last: StepRecord | undefined = result.records.at(-1);
          const metrics = last?.metric ? { [last.metric.name]: last.metric.value } : undefined;
          // Every step's figures land in the history: the path the pipeline took.
          for (const r of result.records.slice(0, -1)) {
            if (r.kind === 'start') continue;
            get().addRun({
              model: s.modelKey,
              label: `${runLabel} · ${r.kind}`,
              method: s.method,
              sparsity: r.sparsity,
              theta: s.method === 'hepex' ? s.theta : 0,
              tile: tileShapeLabel(tile),
              ringDegree: tile.ringDegree,
              ciphertexts: r.weightCiphertexts,
              denseCiphertexts: r.weightTiles,
              predictedMs: Number.NaN,
              peakBytes: Number.NaN,
              metrics: r.metric ? { [r.metric.name]: r.metric.value } : undefined,
            });
          }
          if (show({ network: result.network, masks: result.masks, origin: 'step', label: runLabel, permutation: result.permutation, metrics })) {
            get().recordRun(runLabel, false);
          }
        },
      );
    };

    return {
      ...createModelSlice(set, get, api),
      ...createTilingSlice(set, get, api),
      ...createPruningSlice(set, get, api),
      ...createRunsSlice(set, get, api),
      ...createUiSlice(set, get, api),

      loadPreset: (preset) =>
        load((signal) => deps.loader.loadPreset(preset, signal), `${PRESET_LABELS[preset]} (models/${preset})`, preset),

      loadFiles: (files) =>
        load(() => deps.loader.loadFiles(files), files.map((f) => f.name).join(' + ')),

      setTileShape: (t1, t2, ringDegree) => {
        try {
          const tile = createTileShape(t1, t2, { ringDegree: ringDegree ?? get().tile.ringDegree });
          set({ tile });
        } catch (error) {
          fail(error);
          return;
        }
        const shown = get().shown;
        if (!shown) return;
        // Tile-aware results depend on the tile shape: recompute them; others only recount.
        if (shown.origin === 'preview') schedulePreview();
        else show(shown);
      },

      setMethod: (method) => {
        set({ method });
        schedulePreview();
      },
      setScope: (scope) => {
        set({ scope });
        schedulePreview();
      },
      setScore: (score) => {
        set({ score });
        schedulePreview();
      },
      setSparsity: (sparsity) => {
        if (!(sparsity >= 0 && sparsity < 1)) return fail(new Error('The sparsity must be at least 0 and below 1.'));
        markInput();
        set({ sparsity });
        schedulePreview();
      },
      setTheta: (theta) => {
        if (!(theta >= 0 && theta <= 1)) return fail(new Error('Theta must be between 0 and 1.'));
        markInput();
        set({ theta });
        schedulePreview();
      },

      applyPreview: () => {
        const s = get();
        if (!s.working) return;
        try {
          const { masks, network, counts } = previewOf();
          const label =
            s.method === 'hepex'
              ? `HE-PEx ${Math.round(s.sparsity * 100)}%, θ ${s.theta}${s.workingPermutation ? ', permuted' : ''}`
              : `${METHOD_LABELS[s.method]} ${Math.round(s.sparsity * 100)}%`;
          show(
            {
              network: network ?? applyMasks(s.working, masks),
              masks,
              origin: 'preview',
              label,
              permutation: s.workingPermutation ?? undefined,
            },
            counts,
          );
          markCounts();
        } catch (error) {
          fail(error);
        }
      },

      showDense: () => {
        const dense = get().dense;
        if (!dense) return;
        const masks = masksOf(dense.network, dense.masks);
        show({ network: applyMasks(dense.network, masks), masks, origin: 'dense', label: `${dense.name || 'model'} (trained)`, metrics: dense.metrics });
      },

      showTwin: () => {
        const twin = get().twin;
        if (!twin) return;
        const masks = masksOf(twin.network, twin.masks);
        show({
          network: applyMasks(twin.network, masks),
          masks,
          origin: 'twin',
          label: `${twin.name || 'model'} (HE-PEx, shipped)`,
          permutation: twin.permutation,
          metrics: twin.metrics,
        });
      },

      permute: () => {
        const s = get();
        if (!s.working || !s.shown) return Promise.resolve();
        // Permute for the magnitude masks at the current sparsity (HEPEX.md step 3 comes after
        // pruning, before the theta step), on the dense weights.
        const ranks = s.ranks ?? buildMagnitudeRanks(s.working);
        const masks = magnitudeMasksFromRanks(s.working, ranks, s.sparsity, s.scope);
        const working = s.working;
        const tile = s.tile;
        return runJob(
          'Permuting neurons',
          (signal, token) =>
            deps.pipeline().permute(working, masks, tile, {
              signal,
              onProgress: (p) => {
                if (token === jobToken) set({ busy: { label: 'Permuting neurons', progress: p.fraction, detail: p.detail } });
              },
            }),
          (result) => {
            set({ working: result.network, workingPermutation: result.permutation, ranks: null, method: s.method === 'tile' ? 'hepex' : s.method });
            get().applyPreview();
            get().recordRun('permuted');
          },
        );
      },

      resetWorking: () => {
        const dense = get().dense;
        if (!dense) return;
        set({ working: dense.network, workingPermutation: dense.permutation ?? null, ranks: null });
        schedulePreview();
      },

      runWholePipeline: () => {
        const s = get();
        if (!s.dense) return Promise.resolve();
        let steps: PipelineStep[];
        try {
          steps = methodSteps(s.method, { sparsity: s.sparsity, theta: s.theta, scope: s.scope, score: s.score, retrainEpochs: 1, seed: 1 });
        } catch (error) {
          fail(error);
          return Promise.resolve();
        }
        const what = `${METHOD_LABELS[s.method]} pipeline ${Math.round(s.sparsity * 100)}%${s.method === 'hepex' ? `, θ ${s.theta}` : ''}`;
        return runSteps(`Running the ${METHOD_LABELS[s.method]} pipeline`, { network: s.dense.network, dense: s.dense.network }, steps, what);
      },

      retrain: () => {
        const s = get();
        if (!s.shown) return Promise.resolve();
        return runSteps(
          'Retraining with the masks held',
          { network: s.shown.network, masks: [...s.shown.masks], permutation: s.shown.permutation },
          [{ kind: 'retrain', epochs: 1 }],
          `${s.shown.label}, retrained`,
        );
      },

      trainModel: (epochs) => {
        const s = get();
        if (!deps.trainer) return Promise.resolve();
        if (!Number.isInteger(epochs) || epochs < 1 || epochs > 200) {
          fail(new Error(`Epochs must be a whole number from 1 to 200, got ${epochs}.`));
          return Promise.resolve();
        }
        const arch = s.preset;
        const layers = s.dense ? layerSizes(s.dense.network) : undefined;
        const label = `Training the ${PRESET_LABELS[arch].toLowerCase()}`;
        set({ training: { epochs, history: [] } });
        return runJob(
          label,
          (signal, token) =>
            deps.trainer!().train(
              { arch, layers, epochs, seed: 1 },
              {
                signal,
                onProgress: (p) => {
                  if (token !== jobToken) return;
                  const history = [...(get().training?.history ?? []), p];
                  set({
                    training: { epochs, history },
                    busy: { label, progress: p.epoch / p.epochs, detail: `epoch ${p.epoch} of ${p.epochs}, loss ${p.loss.toPrecision(3)}` },
                  });
                },
              },
            ),
          (model) => adopt({ dense: model, twin: null }, `${PRESET_LABELS[arch]} trained here (${epochs} epochs)`),
        );
      },

      runEncrypted: (samples) => {
        const s = get();
        if (!deps.he || !s.shown || !s.dense) return Promise.resolve();
        const he = deps.he;
        const { t1, t2 } = s.tile;
        const denseMasks = masksOf(s.dense.network, s.dense.masks);
        // The unpruned model runs first: it also pays the worker's one-time warm-up (SEAL's WASM
        // compiled and JIT-warmed), so the comparison does not flatter the pruned model.
        const targets = [
          { label: 'trained, unpruned', network: applyMasks(s.dense.network, denseMasks), permutation: s.dense.permutation },
          { label: s.shown.label, network: s.shown.network, permutation: s.shown.permutation },
        ];
        const label = 'Encrypted inference (SEAL)';
        return runJob(
          label,
          async (signal, token) => {
            const { inputs, samples: n } = await deps.pipeline().testInputs(samples);
            const rows: HeRunSummary[] = [];
            for (const [i, t] of targets.entries()) {
              const onProgress = (fraction: number, detail: string) => {
                if (token === jobToken) set({ busy: { label, progress: (i + fraction) / targets.length, detail: `${t.label}: ${detail}` } });
              };
              const { sessionId, info } = await he().createSession({ network: t.network, tile: { t1, t2 }, mode: 'plain-model', permutation: t.permutation }, { signal, onProgress });
              try {
                const r = await he().run(sessionId, inputs, n, { signal, onProgress });
                rows.push({
                  label: t.label,
                  ringDegree: info.ringDegree,
                  weightCiphertexts: info.weightCiphertexts,
                  setupMs: info.setupMs,
                  latencyMs: r.latencyMs,
                  predictedMs: r.predictedMs,
                  peakBytes: r.peakBytes,
                  maxAbsError: r.maxAbsError,
                  agreement: r.agreement,
                  rotations: r.ops.rotate,
                  multiplications: r.ops.multiplyPlain + r.ops.multiply + r.ops.maskMultiply,
                  opsMatchPlan: r.opsMatchPlan,
                });
              } finally {
                await he().closeSession(sessionId).catch(() => undefined);
              }
            }
            return { samples: n, rows };
          },
          (result) => set({ heResults: result }),
        );
      },

      recordRun: (label, evaluate = true) => {
        const s = get();
        if (!s.shown || !s.analysis) return;
        const { cost, denseCost } = s.analysis;
        const method: Method | 'none' = s.shown.origin === 'dense' ? 'none' : s.shown.origin === 'twin' ? 'hepex' : s.method;
        const provenance = s.shown.origin === 'twin' ? (s.twin?.provenance ?? {}) : {};
        const run = s.addRun({
          model: s.modelKey,
          label: label ? (label === s.shown.label ? label : `${label}: ${s.shown.label}`) : s.shown.label,
          method,
          sparsity: typeof provenance.sparsity === 'number' ? provenance.sparsity : s.shown.origin === 'dense' ? 0 : s.sparsity,
          theta: method === 'hepex' ? (typeof provenance.theta === 'number' ? provenance.theta : s.theta) : 0,
          tile: tileShapeLabel(s.tile),
          ringDegree: s.tile.ringDegree,
          ciphertexts: cost.total.weightCiphertexts,
          denseCiphertexts: denseCost.total.weightCiphertexts,
          predictedMs: cost.total.predictedMs,
          peakBytes: cost.total.peakBytes,
          metrics: s.shown.metrics,
        });
        if (evaluate && !s.shown.metrics) evaluateRun(run.id, s.shown);
      },

      cancelJob: () => {
        jobAbort?.abort();
      },

      toHash: () => {
        const s = get();
        return formatHash({
          preset: s.preset,
          t1: s.tile.t1,
          t2: s.tile.t2,
          ringDegree: s.tile.ringDegree,
          method: s.method,
          scope: s.scope,
          score: s.score,
          sparsity: s.sparsity,
          theta: s.theta,
          layer: s.selectedLayer,
          view: s.viewMode,
        });
      },

      applyHash: (hash) => {
        const h = parseHash(hash);
        const s = get();
        if (h.preset) set({ preset: h.preset });
        if (h.method) set({ method: h.method });
        if (h.scope) set({ scope: h.scope });
        if (h.score) set({ score: h.score });
        if (h.sparsity !== undefined) set({ sparsity: h.sparsity });
        if (h.theta !== undefined) set({ theta: h.theta });
        if (h.view) set({ viewMode: h.view });
        if (h.layer !== undefined) set({ selectedLayer: h.layer });
        if (h.t1 !== undefined && h.t2 !== undefined) {
          try {
            set({ tile: createTileShape(h.t1, h.t2, { ringDegree: h.ringDegree ?? s.tile.ringDegree }) });
          } catch (error) {
            fail(error);
          }
        }
        // A link with pruning parameters shows their preview once the model is there.
        if (h.method || h.sparsity !== undefined || h.theta !== undefined || h.t1 !== undefined) {
          if (get().working) schedulePreview();
          else hashPreviewPending = true;
        }
      },

      exportModel: async () => {
        const model = get().shownModel();
        if (!model) return null;
        try {
          const files = await deps.loader.exportModel(model);
          return { name: model.name, ...files };
        } catch (error) {
          fail(error);
          return null;
        }
      },

      shownModel: () => {
        const s = get();
        if (!s.shown) return null;
        const base = s.dense;
        return {
          name: `${base?.name || 'model'}-${s.shown.origin === 'preview' ? s.method : s.shown.origin}`,
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
    };
  });
}
