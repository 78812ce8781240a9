import type { StateCreator } from 'zustand';
import type { AppState } from './appStore';
import type { RunRecord } from './types';

/** Every recorded run, oldest first: the history table and the Pareto plot read it. */
export interface RunsSlice {
  runs: readonly RunRecord[];
  addRun: (run: Omit<RunRecord, 'id' | 'at'>) => RunRecord;
  clearRuns: () => void;
  /** Fills in a run's metric once its evaluation finishes (a new record replaces the old). */
  setRunMetrics: (id: number, metrics: Readonly<Record<string, number>>) => void;
}

/** Older runs are dropped beyond this many: a session of slider play must not grow without bound. */
export const MAX_RUNS = 200;

export const createRunsSlice: StateCreator<AppState, [], [], RunsSlice> = (set, get) => ({
  runs: [],
  addRun: (run) => {
    const runs = get().runs;
    const record: RunRecord = { ...run, id: (runs.at(-1)?.id ?? 0) + 1, at: new Date().toISOString() };
    set({ runs: [...runs, record].slice(-MAX_RUNS) });
    return record;
  },
  clearRuns: () => set({ runs: [] }),
  setRunMetrics: (id, metrics) => set({ runs: get().runs.map((r) => (r.id === id ? { ...r, metrics: { ...r.metrics, ...metrics } } : r)) }),
});

const CSV_COLUMNS = ['id', 'at', 'model', 'label', 'method', 'tile', 'ringDegree', 'sparsity', 'theta', 'ciphertexts', 'denseCiphertexts', 'predictedMs', 'peakBytes', 'accuracy', 'mse'] as const;

/** The history as CSV (RFC 4180 quoting), one run per line. */
export function runsToCsv(runs: readonly RunRecord[]): string {
  const quote = (v: unknown) => {
    const s = v === undefined || v === null ? '' : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = runs.map((r) =>
    CSV_COLUMNS.map((c) => quote(c === 'accuracy' || c === 'mse' ? r.metrics?.[c] : r[c])).join(','),
  );
  return [CSV_COLUMNS.join(','), ...lines].join('\n') + '\n';
}

/** The history as versioned JSON. */
export function runsToJson(runs: readonly RunRecord[]): string {
  return JSON.stringify({ schemaVersion: 1, generatedBy: 'HE-PEx Studio', runs }, null, 2) + '\n';
}
