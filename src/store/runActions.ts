import { tileShapeLabel } from '../core/tiling/tileShape';
import { analyse } from '../core/analysis/studioAnalysis';
import { selectTimings } from './selectors';
import { MNIST_DATA_NAME } from './modelSlice';
import type { StoreRuntime } from './runtime';
import type { Analysis, MeasuredRun, Method, RunRecord, Shown } from './types';

export interface RunActions {
  /**
   * Adds what is shown to the history; without a metric, the worker evaluates it (unless evaluate
   * is false). What is shown and already recorded is not recorded twice.
   */
  recordRun: (label?: string, evaluate?: boolean) => void;
  /** Records the trained model (not necessarily shown) on the current data, evaluated there. */
  recordBaseline: (dense: Shown) => void;
  /** Attaches an encrypted run's measurement to the history row of `shown` (recording it first). */
  recordMeasurement: (shown: Shown, measured: MeasuredRun) => void;
}

/** The history: one row per state worth keeping, each with its data, target and measurements. */
export function createRunActions(rt: StoreRuntime): RunActions {
  const { get, deps } = rt;

  /** Evaluates a recorded run in the worker and fills in its metric (the Pareto plot's y). */
  const evaluateRun = (run: RunRecord, shown: Shown) => {
    let evaluation: ReturnType<ReturnType<typeof deps.pipeline>['evaluate']>;
    try {
      evaluation = deps.pipeline().evaluate(shown.network, shown.permutation, rt.noise());
    } catch {
      return; // no worker in this environment: the run keeps no metric
    }
    evaluation.then(
      ({ metric, data }) => {
        // Data opened after the run was recorded: its metric would compare across data sets.
        if (data === run.datasetLabel) get().setRunMetrics(run.id, { [metric.name]: metric.value });
      },
      () => undefined, // a cancelled or failed evaluation leaves the run without a metric
    );
  };

  /** Adds a row for `shown` as `analysis` counts it; the shown one is remembered as recorded. */
  const addShown = (shown: Shown, analysis: Analysis, label: string | undefined) => {
    const s = get();
    const { cost, denseCost } = analysis;
    const { origin } = shown;
    const method: Method | 'none' =
      origin === 'dense' ? 'none' : origin === 'twin' ? 'hepex' : s.method;
    const provenance = origin === 'twin' ? (s.twin?.provenance ?? {}) : {};
    const target =
      origin === 'dense'
        ? null
        : typeof provenance.sparsity === 'number'
          ? provenance.sparsity
          : (shown.target ?? s.sparsity);
    return s.addRun(
      {
        model: s.modelKey,
        label: label ? (label === shown.label ? label : `${label}: ${shown.label}`) : shown.label,
        method,
        zeroWeights: analysis.sparsity,
        target,
        theta:
          method === 'hepex'
            ? typeof provenance.theta === 'number'
              ? provenance.theta
              : (shown.theta ?? s.theta)
            : 0,
        tile: tileShapeLabel(s.tile),
        ringDegree: s.tile.ringDegree,
        ciphertexts: cost.total.weightCiphertexts,
        denseCiphertexts: denseCost.total.weightCiphertexts,
        predictedMs: cost.total.predictedMs,
        peakBytes: cost.total.peakBytes,
        dataset: s.dataName,
        datasetLabel: s.dataLabel,
        // A model file's metrics were measured on the built-in MNIST split; on other data the
        // run is evaluated afresh. A step's metric came from the worker's current data.
        metrics:
          shown.origin === 'step' || s.dataName === MNIST_DATA_NAME ? shown.metrics : undefined,
      },
      { shown, analysis },
    );
  };

  return {
    recordRun: (label, evaluate = true) => {
      const s = get();
      if (!s.shown || !s.analysis) return;
      // "Retrain" records its result; "Record run" right after must not add the same row again.
      if (s.shownRunId !== null) return;
      const run = addShown(s.shown, s.analysis, label);
      rt.set({ shownRunId: run.id });
      if (evaluate && !run.metrics) evaluateRun(run, s.shown);
    },

    recordBaseline: (dense) => {
      const s = get();
      if (s.shown?.origin === 'dense' && s.shown.network === dense.network) {
        // What is shown is the trained model: its row is the baseline.
        rt.set({ shownRunId: null });
        get().recordRun('trained');
        return;
      }
      const analysis = analyse(dense, s.tile, undefined, selectTimings(s));
      const run = addShown(dense, analysis, 'trained');
      if (!run.metrics) evaluateRun(run, dense);
    },

    recordMeasurement: (shown, measured) => {
      const s = get();
      let id: number | null;
      if (shown === s.shown) {
        if (s.shownRunId === null) get().recordRun();
        id = get().shownRunId;
      } else {
        // The other model of the comparison (the trained one): its latest row on this data,
        // tile shape and ring degree.
        const tile = tileShapeLabel(s.tile);
        id =
          s.runs.findLast(
            (r) =>
              r.model === s.modelKey &&
              r.method === 'none' &&
              r.tile === tile &&
              r.ringDegree === s.tile.ringDegree &&
              r.datasetLabel === s.dataLabel,
          )?.id ?? null;
        if (id === null) {
          const run = addShown(
            shown,
            analyse(shown, s.tile, undefined, selectTimings(s)),
            'trained',
          );
          if (!run.metrics) evaluateRun(run, shown);
          id = run.id;
        }
      }
      if (id !== null) get().setRunMeasured(id, measured);
    },
  };
}
