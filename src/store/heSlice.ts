import type { StateCreator } from 'zustand';
import type { OpTimingTable } from '../core/he/costModel';
import type { AppState } from './appStore';
import type { HeRunFailure, HeRunSummary } from './types';

/**
 * The HE engine as the studio knows it: whether SEAL runs in this browser, the operation timings
 * calibrated here (the cost model prices with them), and the last encrypted comparison.
 */
export interface HeSlice {
  heEngine: HeEngineState;
  /** Operation timings calibrated in this browser, by ring degree (kept across visits). */
  calibrated: Readonly<Partial<Record<number, CalibratedTimings>>>;
  /** The last encrypted comparison (shown model vs trained model). */
  heResults: HeResults | null;
  /** HE workers an encrypted run uses: 'auto' (one per core, see selectHeWorkers) or a count. */
  heWorkers: HeWorkersChoice;
  /** Logical cores this browser reports (navigator.hardwareConcurrency), 1 when unknown. */
  heCores: number;
}

export type HeWorkersChoice = 'auto' | number;

/**
 * 'auto': one HE worker per core, at most 8. The client worker (it keeps the keys and streams
 * its encryptions into the first layer) shares the cores with them: measured in Chromium on 2
 * cores (`npm run bench -- studio-pool`, 2026-12-06), 2 HE workers ran the unpruned MLP
 * 784-128-10 in 4.35 s against 7.07 s on one (1.63x) and its HE-PEx twin 1.55x faster.
 */
export function autoHeWorkers(cores: number): number {
  return Math.max(1, Math.min(8, cores));
}

/** Choices the studio offers besides 'auto'. */
export const HE_WORKER_CHOICES = [1, 2, 4, 8] as const;

export type HeEngineState =
  | { readonly state: 'starting' }
  | {
      readonly state: 'ready';
      readonly ringDegree: number;
      readonly maxAbsError: number;
      readonly heapBytes: number | undefined;
    }
  | { readonly state: 'error'; readonly message: string }
  | { readonly state: 'absent' };

export interface CalibratedTimings {
  readonly table: OpTimingTable;
  /** ISO date of the calibration. */
  readonly at: string;
}

export interface HeResults {
  readonly samples: number;
  /** The ring degree the studio priced (its choice), and why a run used another, in words. */
  readonly chosenRingDegree: number;
  readonly ringNote: string | null;
  readonly rows: readonly (HeRunSummary | HeRunFailure)[];
}

export const createHeSlice: StateCreator<AppState, [], [], HeSlice> = () => ({
  heEngine: { state: 'starting' },
  calibrated: {},
  heResults: null,
  heWorkers: 'auto',
  heCores: Math.max(
    1,
    Math.floor(typeof navigator === 'undefined' ? 1 : (navigator.hardwareConcurrency ?? 1)),
  ),
});
