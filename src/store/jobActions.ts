import { inputWidth, layerSizes } from '../core/network';
import { selectTrainArch } from './selectors';
import { groupLassoFor, methodSteps, type PipelineStep } from '../core/prune/pipeline';
import { tileShapeLabel } from '../core/tileShape';
import type { PipelineJob } from '../services/pipelineClient';
import { applyMasks, masksOf } from './analysis';
import { buildMagnitudeRanks, magnitudeMasksFromRanks } from './previewPrune';
import type { StoreRuntime } from './runtime';
import {
  METHOD_LABELS,
  PRESET_LABELS,
  type HeRunFailure,
  type HeRunSummary,
  type Method,
  type Shown,
} from './types';
import { isHepexError } from '../core/errors';
import { errorMessage } from './runtime';

/** Group-lasso epochs of the studio's whole pipeline (MLP ~1 s an epoch in the browser). */
const STUDIO_GROUP_LASSO_EPOCHS = 10;

export interface JobActions {
  /** Worker step: permute hidden neurons for the current masks; later previews use the permuted network. */
  permute: () => Promise<void>;
  /** Worker: the method's whole pipeline from the trained model (prune, retrain, permute, expand, retrain). */
  runWholePipeline: () => Promise<void>;
  /** Worker: fine-tune what is shown with its masks held. */
  retrain: () => Promise<void>;
  /** Train worker: a fresh model of the preset's architecture and layer sizes, with live progress. */
  trainModel: (epochs: number) => Promise<void>;
  /** HE worker: encrypted inference (real SEAL) of `samples` test images on the trained model and on what is shown. */
  runEncrypted: (samples: number) => Promise<void>;
  /** Adds what is shown to the history; without a metric, the worker evaluates it (unless evaluate is false). */
  recordRun: (label?: string, evaluate?: boolean) => void;
  cancelJob: () => void;
}

/**
 * Accuracy (argmax against the labels) of a classifier's decrypted outputs, or the reconstruction
 * MSE against the inputs for an autoencoder. outputs: samples x out, inputs: samples x in.
 */
export function decryptedMetric(
  outputs: Float32Array,
  inputs: Float32Array,
  labels: Uint8Array,
  samples: number,
  task: 'classification' | 'reconstruction',
): { name: 'accuracy' | 'mse'; value: number } {
  if (task === 'reconstruction') {
    let sq = 0;
    for (let k = 0; k < outputs.length; k++) sq += (outputs[k] - inputs[k]) ** 2;
    return { name: 'mse', value: sq / outputs.length };
  }
  const width = outputs.length / samples;
  let right = 0;
  for (let s = 0; s < samples; s++) {
    let best = 0;
    for (let k = 1; k < width; k++)
      if (outputs[s * width + k] > outputs[s * width + best]) best = k;
    if (best === labels[s]) right++;
  }
  return { name: 'accuracy', value: right / samples };
}

type PipelineInput = Pick<PipelineJob, 'network' | 'masks' | 'permutation' | 'dense'>;

/** Heavy steps in workers (through the injected services) and the run history they feed. */
export function createJobActions(rt: StoreRuntime): JobActions {
  const { set, get, deps } = rt;

  /** Evaluates a recorded run in the worker and fills in its metric (the Pareto plot's y). */
  const evaluateRun = (id: number, shown: Shown) => {
    let evaluation: Promise<{ name: string; value: number }>;
    try {
      evaluation = deps.pipeline().evaluate(shown.network, shown.permutation, rt.noise());
    } catch {
      return; // no worker in this environment: the run keeps no metric
    }
    evaluation.then(
      (metric) => get().setRunMetrics(id, { [metric.name]: metric.value }),
      () => undefined, // a cancelled or failed evaluation leaves the run without a metric
    );
  };

  const runSteps = (
    label: string,
    input: PipelineInput,
    steps: PipelineStep[],
    runLabel: string,
  ) => {
    const s = get();
    const { tile, method, theta, modelKey } = s;
    return rt.runJob(
      label,
      (signal, isCurrent) =>
        deps.pipeline().pipeline(
          { ...input, tile, steps, noise: rt.noise() },
          {
            signal,
            onProgress: (p) =>
              isCurrent() && set({ busy: { label, progress: p.fraction, detail: p.detail } }),
          },
        ),
      (result) => {
        // Every step's figures land in the history: the path the pipeline took.
        for (const r of result.records.slice(1, -1)) {
          get().addRun({
            model: modelKey,
            label: `${runLabel} · ${r.kind}`,
            method,
            sparsity: r.sparsity,
            theta: method === 'hepex' ? theta : 0,
            tile: tileShapeLabel(tile),
            ringDegree: tile.ringDegree,
            ciphertexts: r.weightCiphertexts,
            denseCiphertexts: r.weightTiles,
            predictedMs: Number.NaN,
            peakBytes: Number.NaN,
            metrics: r.metric ? { [r.metric.name]: r.metric.value } : undefined,
          });
        }
        const last = result.records.at(-1);
        const metrics = last?.metric ? { [last.metric.name]: last.metric.value } : undefined;
        const shown: Shown = {
          network: result.network,
          masks: result.masks,
          origin: 'step',
          label: runLabel,
          permutation: result.permutation,
          metrics,
        };
        if (rt.show(shown)) get().recordRun(runLabel, false);
      },
    );
  };

  return {
    permute: () => {
      const s = get();
      if (!s.working || !s.shown) return Promise.resolve();
      // Permute for the magnitude masks at the current sparsity (HEPEX.md step 3 comes after
      // pruning, before the theta step), on the dense weights.
      const working = s.working;
      const masks = magnitudeMasksFromRanks(
        working,
        s.ranks ?? buildMagnitudeRanks(working),
        s.sparsity,
        s.scope,
      );
      const label = 'Permuting neurons';
      // The view before the permutation goes into the history, so the two can be compared.
      if (s.shown.origin === 'preview') get().recordRun('before permutation');
      const before = s.shown.origin === 'preview' ? get().runs.at(-1)?.id : undefined;
      return rt.runJob(
        label,
        (signal, isCurrent) =>
          deps.pipeline().permute(
            {
              network: working,
              masks,
              tile: s.tile,
              ...(s.workingPermutation ? { permutation: s.workingPermutation } : {}),
            },
            {
              signal,
              onProgress: (p) =>
                isCurrent() && set({ busy: { label, progress: p.fraction, detail: p.detail } }),
            },
          ),
        (result) => {
          const method: Method = s.method === 'tile' ? 'hepex' : s.method;
          set({
            working: result.network,
            workingPermutation: result.permutation,
            ranks: null,
            method,
            lastPermutation: {
              nonZeroTilesBefore: result.nonZeroTilesBefore,
              nonZeroTilesAfter: result.nonZeroTilesAfter,
              lowerBound: result.lowerBound,
              maxOutputChange: result.maxOutputChange,
              checkSamples: result.checkSamples,
              elapsedMs: result.elapsedMs,
            },
          });
          get().applyPreview();
          get().recordRun('permuted');
          // Show the regrouping: before and after side by side.
          const after = get().runs.at(-1)?.id;
          if (before !== undefined && after !== undefined && before in get().snapshots)
            set({ compare: [before, after] });
        },
      );
    },

    runWholePipeline: () => {
      const s = get();
      if (!s.dense) return Promise.resolve();
      // An autoencoder has no soft labels: distillation only applies to classifiers; the tile
      // budget only to HE-PEx's expansion.
      const distill = s.distill && s.dense.network.task === 'classification';
      const tileBudget = s.method === 'hepex' ? s.tileBudget : null;
      let steps: PipelineStep[];
      try {
        steps = methodSteps(s.method, {
          sparsity: s.sparsity,
          theta: s.theta,
          scope: s.scope,
          score: s.score,
          retrainEpochs: 1,
          seed: 1,
          // Fewer epochs than the CLI's 20: the studio's pipeline is meant to take a minute.
          ...(s.structure === 'off'
            ? {}
            : {
                groupLasso: groupLassoFor(s.structure, s.dense.network.task),
                trainEpochs: STUDIO_GROUP_LASSO_EPOCHS,
              }),
          distill,
          ...(tileBudget !== null ? { maxTiles: tileBudget } : {}),
        });
      } catch (error) {
        rt.fail(error);
        return Promise.resolve();
      }
      const what = `${METHOD_LABELS[s.method]} pipeline ${Math.round(s.sparsity * 100)}%${s.method === 'hepex' ? `, θ ${s.theta}` : ''}${s.structure === 'off' ? '' : `, group lasso ${s.structure}`}${distill ? ', distilled' : ''}${tileBudget !== null ? `, ≤ ${tileBudget} tiles` : ''}`;
      return runSteps(
        `Running the ${METHOD_LABELS[s.method]} pipeline`,
        { network: s.dense.network, dense: s.dense.network },
        steps,
        what,
      );
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
      const trainer = deps.trainer;
      if (!trainer) return Promise.resolve();
      if (!Number.isInteger(epochs) || epochs < 1 || epochs > 200) {
        rt.fail(new Error(`Epochs must be a whole number from 1 to 200, got ${epochs}.`));
        return Promise.resolve();
      }
      const arch = selectTrainArch(s);
      // Same architecture as the model shown; a cnn gives pixels + the dense sizes after its conv.
      const first = s.dense?.network.layers[0];
      const layers = s.dense
        ? first?.kind === 'conv'
          ? [inputWidth(s.dense.network), ...layerSizes(s.dense.network).slice(2)]
          : layerSizes(s.dense.network)
        : undefined;
      const conv = first?.kind === 'conv' ? first.geometry : undefined;
      const label = `Training the ${PRESET_LABELS[arch].toLowerCase()}`;
      set({ training: { epochs, history: [] } });
      return rt.runJob(
        label,
        (signal, isCurrent) =>
          trainer().train(
            { arch, layers, epochs, seed: 1, ...(conv ? { conv } : {}) },
            {
              signal,
              onProgress: (p) => {
                if (!isCurrent()) return;
                set({
                  training: { epochs, history: [...(get().training?.history ?? []), p] },
                  busy: {
                    label,
                    progress: p.epoch / p.epochs,
                    detail: `epoch ${p.epoch} of ${p.epochs}, loss ${p.loss.toPrecision(3)}`,
                  },
                });
              },
            },
          ),
        (model) =>
          get().adoptModels(
            { dense: model, twin: null },
            `${PRESET_LABELS[arch]} trained here (${epochs} epochs)`,
          ),
      );
    },

    runEncrypted: (samples) => {
      const s = get();
      const he = deps.he;
      if (!he || !s.shown || !s.dense) return Promise.resolve();
      const { t1, t2, first } = s.tile;
      // The unpruned model runs first: it also pays the worker's one-time warm-up (SEAL's WASM
      // compiled and JIT-warmed), so the comparison does not flatter the pruned model.
      const targets = [
        {
          label: 'trained, unpruned',
          network: applyMasks(s.dense.network, masksOf(s.dense.network, s.dense.masks)),
          permutation: s.dense.permutation,
        },
        { label: s.shown.label, network: s.shown.network, permutation: s.shown.permutation },
      ];
      const label = 'Encrypted inference (SEAL)';
      return rt.runJob(
        label,
        async (signal, isCurrent) => {
          const { inputs, labels, samples: n } = await deps.pipeline().testInputs(samples);
          const rows: (HeRunSummary | HeRunFailure)[] = [];
          for (const [i, t] of targets.entries()) {
            const onProgress = (fraction: number, detail: string) => {
              if (isCurrent())
                set({
                  busy: {
                    label,
                    progress: (i + fraction) / targets.length,
                    detail: `${t.label}: ${detail}`,
                  },
                });
            };
            const request = {
              network: t.network,
              tile: { t1, t2, first },
              mode: 'plain-model' as const,
              permutation: t.permutation,
            };
            let session: {
              sessionId: number;
              info: { ringDegree: number; weightCiphertexts: number; setupMs: number };
            };
            try {
              session = await he().createSession(request, { signal, onProgress });
            } catch (error) {
              // One model over the engine's budget must not hide the other's measurement.
              if (signal.aborted || (isHepexError(error) && error.code === 'cancelled'))
                throw error;
              rows.push({ label: t.label, error: errorMessage(error) });
              continue;
            }
            const { sessionId, info } = session;
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
                metric: decryptedMetric(r.outputs, inputs, labels, n, t.network.task),
                rotations: r.ops.rotate,
                multiplications: r.ops.multiplyPlain + r.ops.multiply + r.ops.maskMultiply,
                opsMatchPlan: r.opsMatchPlan,
                layers: r.layers.map((l) => ({
                  layer: l.layer,
                  weightCiphertexts: l.weightCiphertexts,
                  multiplications: l.multiplications,
                  rotations: l.rotations,
                  measuredMs: l.measuredMs,
                  predictedMs: l.predictedMs,
                })),
              });
            } finally {
              await he()
                .closeSession(sessionId)
                .catch(() => undefined);
            }
          }
          return { samples: n, rows };
        },
        (heResults) => set({ heResults }),
      );
    },

    recordRun: (label, evaluate = true) => {
      const s = get();
      if (!s.shown || !s.analysis) return;
      const { cost, denseCost } = s.analysis;
      const { origin } = s.shown;
      const method: Method | 'none' =
        origin === 'dense' ? 'none' : origin === 'twin' ? 'hepex' : s.method;
      const provenance = origin === 'twin' ? (s.twin?.provenance ?? {}) : {};
      const run = s.addRun(
        {
          model: s.modelKey,
          label: label
            ? label === s.shown.label
              ? label
              : `${label}: ${s.shown.label}`
            : s.shown.label,
          method,
          sparsity:
            typeof provenance.sparsity === 'number'
              ? provenance.sparsity
              : origin === 'dense'
                ? 0
                : s.sparsity,
          theta:
            method === 'hepex'
              ? typeof provenance.theta === 'number'
                ? provenance.theta
                : s.theta
              : 0,
          tile: tileShapeLabel(s.tile),
          ringDegree: s.tile.ringDegree,
          ciphertexts: cost.total.weightCiphertexts,
          denseCiphertexts: denseCost.total.weightCiphertexts,
          predictedMs: cost.total.predictedMs,
          peakBytes: cost.total.peakBytes,
          metrics: s.shown.metrics,
        },
        { shown: s.shown, analysis: s.analysis },
      );
      if (evaluate && !s.shown.metrics) evaluateRun(run.id, s.shown);
    },

    cancelJob: () => rt.cancelJob(),
  };
}
