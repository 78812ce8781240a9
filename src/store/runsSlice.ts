import type { StateCreator } from 'zustand';
import type { AppState } from './appStore';
import type { Analysis, MeasuredRun, RunRecord, Shown } from './types';

/** What a run looked like, kept for the side-by-side comparison (a bounded number of them). */
export interface RunSnapshot {
  readonly shown: Shown;
  readonly analysis: Analysis;
}

/** Every recorded run, oldest first: the history table and the Pareto plot read it. */
export interface RunsSlice {
  runs: readonly RunRecord[];
  /** Snapshots by run id, for the most recent MAX_SNAPSHOTS runs that have one. */
  snapshots: Readonly<Record<number, RunSnapshot>>;
  /** Up to two run ids chosen for the side-by-side view, oldest choice first. */
  compare: readonly number[];
  /** The run that recorded what is shown now; null until it is recorded (reset on every show). */
  shownRunId: number | null;
  addRun: (run: Omit<RunRecord, 'id' | 'at'>, snapshot?: RunSnapshot) => RunRecord;
  clearRuns: () => void;
  /** Fills in a run's metric once its evaluation finishes (a new record replaces the old). */
  setRunMetrics: (id: number, metrics: Readonly<Record<string, number>>) => void;
  /** Attaches an encrypted run's measurement to a run. */
  setRunMeasured: (id: number, measured: MeasuredRun) => void;
  /** Adds a run to the comparison (dropping the older choice beyond two) or removes it. */
  toggleCompare: (id: number) => void;
}

/** Older runs are dropped beyond this many: a session of slider play must not grow without bound. */
export const MAX_RUNS = 200;
/** Snapshots hold whole networks (~2 MB for 784-256-64-256-784): keep only the latest few. */
export const MAX_SNAPSHOTS = 12;

export const createRunsSlice: StateCreator<AppState, [], [], RunsSlice> = (set, get) => {
  // Ids never repeat, even after clearing: a late evaluation must not land on a newer run.
  let nextId = 1;
  return {
    runs: [],
    snapshots: {},
    compare: [],
    shownRunId: null,
    addRun: (run, snapshot) => {
      const record: RunRecord = { ...run, id: nextId++, at: new Date().toISOString() };
      const runs = [...get().runs, record].slice(-MAX_RUNS);
      let snapshots = get().snapshots;
      if (snapshot) {
        const kept = Object.keys(snapshots)
          .map(Number)
          .sort((a, b) => a - b)
          .slice(-(MAX_SNAPSHOTS - 1));
        snapshots = Object.fromEntries([
          ...kept.map((id) => [id, snapshots[id]] as const),
          [record.id, snapshot] as const,
        ]);
      }
      set({ runs, snapshots, compare: get().compare.filter((id) => id in snapshots) });
      return record;
    },
    clearRuns: () => set({ runs: [], snapshots: {}, compare: [], shownRunId: null }),
    setRunMetrics: (id, metrics) =>
      set({
        runs: get().runs.map((r) =>
          r.id === id ? { ...r, metrics: { ...r.metrics, ...metrics } } : r,
        ),
      }),
    setRunMeasured: (id, measured) =>
      set({ runs: get().runs.map((r) => (r.id === id ? { ...r, measured } : r)) }),
    toggleCompare: (id) => {
      const compare = get().compare;
      if (compare.includes(id)) set({ compare: compare.filter((c) => c !== id) });
      else if (id in get().snapshots) set({ compare: [...compare, id].slice(-2) });
    },
  };
};

/** CSV columns and how each reads a run (units in the names: ms, bytes, fractions 0..1). */
const CSV_COLUMNS: readonly (readonly [string, (r: RunRecord) => unknown])[] = [
  ['id', (r) => r.id],
  ['at', (r) => r.at],
  ['model', (r) => r.model],
  ['label', (r) => r.label],
  ['dataset', (r) => r.dataset],
  ['datasetLabel', (r) => r.datasetLabel],
  ['method', (r) => r.method],
  ['tile', (r) => r.tile],
  ['ringDegree', (r) => r.ringDegree],
  ['target', (r) => r.target],
  ['zeroWeights', (r) => r.zeroWeights],
  ['theta', (r) => r.theta],
  ['ciphertexts', (r) => r.ciphertexts],
  ['denseCiphertexts', (r) => r.denseCiphertexts],
  ['predictedMs', (r) => r.predictedMs],
  ['peakBytes', (r) => r.peakBytes],
  ['accuracy', (r) => r.metrics?.accuracy],
  ['mse', (r) => r.metrics?.mse],
  ['measuredRingDegree', (r) => r.measured?.ringDegree],
  ['measuredSamples', (r) => r.measured?.samples],
  ['measuredMs', (r) => r.measured?.latencyMs],
  ['measuredPredictedMs', (r) => r.measured?.predictedMs],
  ['measuredPeakBytes', (r) => r.measured?.peakBytes],
];

/** The history as CSV (RFC 4180 quoting), one run per line; NaN and absent values are empty. */
export function runsToCsv(runs: readonly RunRecord[]): string {
  const quote = (v: unknown) => {
    const s =
      v === undefined || v === null || (typeof v === 'number' && !Number.isFinite(v))
        ? ''
        : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = runs.map((r) => CSV_COLUMNS.map(([, read]) => quote(read(r))).join(','));
  return [CSV_COLUMNS.map(([name]) => name).join(','), ...lines].join('\n') + '\n';
}

/** The history as versioned JSON. */
export function runsToJson(runs: readonly RunRecord[]): string {
  return JSON.stringify({ schemaVersion: 2, generatedBy: 'HE-PEx Studio', runs }, null, 2) + '\n';
}
