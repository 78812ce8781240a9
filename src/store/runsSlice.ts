import type { StateCreator } from 'zustand';
import type { AppState } from './appStore';
import type { Analysis, RunRecord, Shown } from './types';

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
  addRun: (run: Omit<RunRecord, 'id' | 'at'>, snapshot?: RunSnapshot) => RunRecord;
  clearRuns: () => void;
  /** Fills in a run's metric once its evaluation finishes (a new record replaces the old). */
  setRunMetrics: (id: number, metrics: Readonly<Record<string, number>>) => void;
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
    clearRuns: () => set({ runs: [], snapshots: {}, compare: [] }),
    setRunMetrics: (id, metrics) =>
      set({
        runs: get().runs.map((r) =>
          r.id === id ? { ...r, metrics: { ...r.metrics, ...metrics } } : r,
        ),
      }),
    toggleCompare: (id) => {
      const compare = get().compare;
      if (compare.includes(id)) set({ compare: compare.filter((c) => c !== id) });
      else if (id in get().snapshots) set({ compare: [...compare, id].slice(-2) });
    },
  };
};

const CSV_COLUMNS = [
  'id',
  'at',
  'model',
  'label',
  'method',
  'tile',
  'ringDegree',
  'sparsity',
  'theta',
  'ciphertexts',
  'denseCiphertexts',
  'predictedMs',
  'peakBytes',
  'accuracy',
  'mse',
] as const;

/** The history as CSV (RFC 4180 quoting), one run per line. */
export function runsToCsv(runs: readonly RunRecord[]): string {
  const quote = (v: unknown) => {
    const s = v === undefined || v === null ? '' : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = runs.map((r) =>
    CSV_COLUMNS.map((c) => quote(c === 'accuracy' || c === 'mse' ? r.metrics?.[c] : r[c])).join(
      ',',
    ),
  );
  return [CSV_COLUMNS.join(','), ...lines].join('\n') + '\n';
}

/** The history as versioned JSON. */
export function runsToJson(runs: readonly RunRecord[]): string {
  return JSON.stringify({ schemaVersion: 1, generatedBy: 'HE-PEx Studio', runs }, null, 2) + '\n';
}
