import { HepexError } from '../core/model/errors';
import type { PruneMethod } from '../core/prune/pipelineSteps';
import { collectResults, type SweepJobResult, type SweepResults } from '../core/sweep/results';
import {
  SWEEP_SPEC_VERSION,
  expandSweep,
  formatSweepSpec,
  parseSweepSpec,
  type SweepSpec,
} from '../core/sweep/spec';
import { tileShapeLabel } from '../core/tiling/tileShape';
import type { AppState } from './appStore';
import { errorMessage, type StoreRuntime } from './runtime';

/**
 * A small sweep in the studio: a spec (the same JSON `hepex sweep --spec` reads) built from the
 * model shown, or imported, run on the sweep workers with progress and cancel, its frontier
 * plotted. Results and the spec are replaced as a whole, never mutated.
 */
export interface SweepState {
  /** The spec the panel shows; null: the default for the model shown (selectSweepSpec). */
  sweepSpec: SweepSpec | null;
  sweepStatus: 'idle' | 'running' | 'done' | 'error';
  /** Jobs finished / in the sweep, and the latest step in words, while one runs. */
  sweepProgress: { readonly done: number; readonly total: number; readonly step: string } | null;
  sweepResults: SweepResults | null;
  /** A bad import or edit, or a failed job, in words (the spec stays as it was). */
  sweepError: string | null;
}

export interface SweepActions {
  /** Replaces the spec after checking it (a bad one sets sweepError and changes nothing). */
  setSweepSpec: (spec: SweepSpec) => boolean;
  /** Reads a spec file's text (export's format); false and sweepError when it is not one. */
  importSweepSpec: (text: string) => boolean;
  /** The spec as a file (canonical JSON), the same the CLI reads. */
  exportSweepSpec: () => string;
  runSweep: () => Promise<void>;
  cancelSweep: () => void;
}

export type SweepSlice = SweepState & SweepActions;

/** The studio's first sweep: 2 methods x 3 sparsities, one seed, one quick retrain epoch. */
export function defaultSweepSpec(
  state: Pick<AppState, 'preset' | 'modelOrigin' | 'sourceLabel' | 'tile'>,
): SweepSpec {
  const model =
    state.modelOrigin.kind === 'preset' ? `public/models/${state.preset}` : state.modelOrigin.name;
  return {
    version: SWEEP_SPEC_VERSION,
    model,
    // A studio sweep is a quick look: a 2000 / 500 image subset keeps a job to seconds.
    data: { trainLimit: 2000, testLimit: 500 },
    methods: ['magnitude', 'hepex'] satisfies PruneMethod[],
    grid: { sparsity: [0.5, 0.8, 0.9], tile: [tileShapeLabel(state.tile)] },
    seeds: [1],
    settings: { retrainEpochs: 1 },
  };
}

let lastDefault: { key: readonly unknown[]; spec: SweepSpec } | undefined;

/**
 * The spec the panel shows and a sweep runs. The default is memoised on what it is built from,
 * so a component subscribed to it does not see a new object on every store update.
 */
export function selectSweepSpec(s: AppState): SweepSpec {
  if (s.sweepSpec) return s.sweepSpec;
  const key = [s.preset, s.modelOrigin, s.sourceLabel, s.tile];
  if (!lastDefault || key.some((v, i) => v !== lastDefault!.key[i]))
    lastDefault = { key, spec: defaultSweepSpec(s) };
  return lastDefault.spec;
}

export function createSweepSlice(rt: StoreRuntime): SweepSlice {
  const { set, get, deps } = rt;
  let abort: AbortController | null = null;
  let token = 0;
  const check = (spec: unknown): SweepSpec | null => {
    try {
      const { spec: checked } = expandSweep(spec);
      if (checked.data?.images)
        throw new HepexError(
          'invalid-argument',
          'The studio sweeps on the built-in MNIST; a spec with IDX data files runs with `hepex sweep --spec FILE`.',
        );
      return checked;
    } catch (error) {
      set({ sweepError: errorMessage(error) });
      return null;
    }
  };
  return {
    sweepSpec: null,
    sweepStatus: 'idle',
    sweepProgress: null,
    sweepResults: null,
    sweepError: null,
    setSweepSpec: (spec) => {
      const checked = check(spec);
      if (checked) set({ sweepSpec: checked, sweepError: null });
      return checked !== null;
    },
    importSweepSpec: (text) => {
      try {
        return get().setSweepSpec(parseSweepSpec(text).spec);
      } catch (error) {
        set({ sweepError: errorMessage(error) });
        return false;
      }
    },
    exportSweepSpec: () => formatSweepSpec(selectSweepSpec(get())),
    cancelSweep: () => abort?.abort(),
    runSweep: async () => {
      const s = get();
      const model = s.dense;
      if (!model || !deps.sweep) return;
      const spec = check(selectSweepSpec(s));
      if (!spec) return;
      const { jobs } = expandSweep(spec);
      abort?.abort();
      const controller = new AbortController();
      abort = controller;
      const mine = ++token;
      const isCurrent = () => mine === token;
      const done = new Map<string, SweepJobResult>();
      set({
        sweepStatus: 'running',
        sweepError: null,
        sweepResults: null,
        sweepProgress: { done: 0, total: jobs.length, step: 'starting the sweep workers' },
      });
      try {
        await deps.sweep().run(
          jobs,
          {
            network: model.network,
            masks: model.masks,
            permutation: model.permutation,
            noise: rt.noise(),
          },
          {
            signal: controller.signal,
            onStep: (step) => {
              if (!isCurrent()) return;
              const job = jobs.find((j) => j.id === step.jobId);
              set({
                sweepProgress: {
                  done: done.size,
                  total: jobs.length,
                  step: `${job?.config.method} at ${job?.config.sparsity}: step ${step.step + 1} of ${step.steps} (${step.kind})`,
                },
              });
            },
            onResult: (job, result) => {
              if (!isCurrent()) return;
              done.set(job.id, result);
              set({
                sweepResults: collectResults(spec, jobs, done),
                sweepProgress: {
                  done: done.size,
                  total: jobs.length,
                  step: get().sweepProgress?.step ?? '',
                },
              });
            },
          },
        );
        if (isCurrent()) set({ sweepStatus: 'done', sweepProgress: null });
      } catch (error) {
        if (!isCurrent()) return;
        const cancelled = error instanceof HepexError && error.code === 'cancelled';
        set({
          sweepStatus: cancelled ? 'idle' : 'error',
          sweepProgress: null,
          sweepError: cancelled ? null : errorMessage(error),
          // The jobs that finished stay plotted.
          sweepResults: done.size ? collectResults(spec, jobs, done) : null,
        });
      } finally {
        if (isCurrent()) abort = null;
      }
    },
  };
}
