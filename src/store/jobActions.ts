import { inputWidth, layerSizes } from '../core/model/network';
import { selectTrainArch } from './selectors';
import { groupLassoFor, methodSteps, permuteObjectiveFor } from '../core/prune/methodSteps';
import { type PipelineStep } from '../core/prune/pipelineSteps';
import { tileShapeLabel } from '../core/tiling/tileShape';
import type { PipelineJob } from '../services/pipelineClient';
import { buildMagnitudeRanks, magnitudeMasksFromRanks } from '../core/prune/magnitudeRanks';
import type { StoreRuntime } from './runtime';
import { trainingDataOf } from './dataSetActions';
import { METHOD_LABELS, PRESET_LABELS, type Method, type Shown } from './types';
import { geometryOf } from '../core/model/layerKinds';

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
  cancelJob: () => void;
}

type PipelineInput = Pick<PipelineJob, 'network' | 'masks' | 'permutation' | 'dense'>;

/** Heavy steps in workers (through the injected services) and the run history they feed. */
export function createJobActions(rt: StoreRuntime): JobActions {
  const { set, get, deps } = rt;

  /** `made`: the parameters that made the result (target sparsity, theta), for its history rows. */
  const runSteps = (
    label: string,
    input: PipelineInput,
    steps: PipelineStep[],
    runLabel: string,
    made: { readonly target: number | null; readonly theta: number },
  ) => {
    const s = get();
    const { tile, method, modelKey, dataName, dataLabel } = s;
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
            zeroWeights: r.sparsity,
            target: made.target,
            theta: method === 'hepex' ? made.theta : 0,
            tile: tileShapeLabel(tile),
            ringDegree: tile.ringDegree,
            ciphertexts: r.weightCiphertexts,
            denseCiphertexts: r.weightTiles,
            predictedMs: Number.NaN,
            peakBytes: Number.NaN,
            dataset: dataName,
            datasetLabel: dataLabel,
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
          ...(made.target !== null ? { target: made.target } : {}),
          theta: made.theta,
        };
        if (rt.show(shown)) get().recordRun(runLabel, false);
      },
    );
  };

  return {
    permute: () => {
      const s = get();
      if (!s.working || !s.shown) return Promise.resolve();
      // Permute for the magnitude masks at the current sparsity (docs/method.md: step 3 comes after
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
      const before = s.shown.origin === 'preview' ? (get().shownRunId ?? undefined) : undefined;
      return rt.runJob(
        label,
        (signal, isCurrent) =>
          deps.pipeline().permute(
            {
              network: working,
              masks,
              tile: s.tile,
              // The Permute button optimises what the whole pipeline's permute step would.
              objective: permuteObjectiveFor(s.method === 'tile' ? 'hepex' : s.method),
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
        { target: s.sparsity, theta: s.theta },
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
        { target: s.shown.target ?? null, theta: s.shown.theta ?? s.theta },
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
      const conv = first && geometryOf(first);
      const training = trainingDataOf(s);
      const label = `Training the ${PRESET_LABELS[arch].toLowerCase()}`;
      set({ training: { epochs, history: [] } });
      return rt.runJob(
        label,
        (signal, isCurrent) =>
          trainer().train(
            {
              arch,
              layers,
              epochs,
              seed: 1,
              ...(conv ? { conv } : {}),
              // The chosen data set (dataSetActions.ts); none: the built-in MNIST.
              ...(training ? { data: training } : {}),
            },
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
            { kind: 'trained', name: `${arch}, ${epochs} epochs` },
          ),
      );
    },

    cancelJob: () => rt.cancelJob(),
  };
}
