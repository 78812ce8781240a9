import { HepexError } from '../model/errors';
import type { StepRecord } from '../prune/pipeline';
import type { PruneMethod } from '../prune/pipelineSteps';
import type { SweepJob, SweepJobConfig, SweepSpec } from './spec';

/**
 * What one sweep job produced: `hepex sweep`'s frontier point (method, sparsity, ciphertexts,
 * non-zero tiles, metric, loss) plus the job's configuration and seed. It depends only on the
 * job's configuration, so it is the same whether the job ran serially, in a pool or on a queue;
 * times are kept apart (SweepResults.timings).
 */
export interface SweepRow {
  readonly id: string;
  readonly method: PruneMethod;
  readonly sparsity: number;
  readonly theta?: number;
  readonly tile: string;
  readonly seed: number;
  readonly ciphertexts: number;
  readonly nonZeroTiles: number;
  /** A CNN: the conv layer's share of `ciphertexts` (non-zero kernel tiles x positions). */
  readonly convCiphertexts?: number;
  readonly metricName: string;
  readonly metric: number;
  /** Metric lost against the unpruned model (accuracy points as a fraction, or MSE increase). */
  readonly loss: number;
  /** The unpruned model under this job's data split and tile shape. */
  readonly baseline: { readonly ciphertexts: number; readonly metric: number };
}

/** A row with its place on the frontier over all rows of the sweep. */
export interface SweepPoint extends SweepRow {
  /** No other row has at most as many ciphertexts and an at least as good metric (one strictly). */
  readonly pareto: boolean;
}

/** A finished job as a runner returns it: the row, and how long it took (ms, wall clock). */
export interface SweepJobResult {
  readonly row: SweepRow;
  readonly elapsedMs: number;
}

export interface SweepResults {
  readonly version: 1;
  readonly kind: 'hepex-sweep-results';
  readonly spec: SweepSpec;
  /** One per job, in spec order; only the jobs done so far when `complete` is false. */
  readonly points: SweepPoint[];
  readonly complete: boolean;
  /** Wall-clock ms per job id: not part of the result proper (machines differ). */
  readonly timings: Record<string, number>;
}

/**
 * The row of a finished pipeline: records[0] is the unpruned start, the last record the result
 * (pipeline.ts). `firstIsConv`: layer 0 is a convolution, whose non-zero tiles count per
 * output position (the existing sweep's convCiphertexts).
 */
export function rowFromRecords(
  job: Pick<SweepJob, 'id' | 'config'>,
  records: readonly StepRecord[],
  firstIsConv: boolean,
): SweepRow {
  const first = records[0];
  const last = records[records.length - 1];
  if (!first.metric || !last.metric)
    throw new HepexError('invalid-argument', 'A sweep needs a metric; the trainer returned none.');
  const higher = first.metric.name === 'accuracy';
  const c: SweepJobConfig = job.config;
  return {
    id: job.id,
    method: c.method,
    sparsity: c.sparsity,
    ...(c.theta === undefined ? {} : { theta: c.theta }),
    tile: c.tile,
    seed: c.seed,
    ciphertexts: last.weightCiphertexts,
    nonZeroTiles: last.nonZeroTiles,
    ...(firstIsConv ? { convCiphertexts: last.layers[0].nonZeroTiles } : {}),
    metricName: first.metric.name,
    metric: last.metric.value,
    loss: higher ? first.metric.value - last.metric.value : last.metric.value - first.metric.value,
    baseline: { ciphertexts: first.weightCiphertexts, metric: first.metric.value },
  };
}

/** Marks the rows no other row beats on both ciphertexts and metric (accuracy: higher is better). */
export function markFrontier(rows: readonly SweepRow[]): SweepPoint[] {
  const higher = rows[0]?.metricName === 'accuracy';
  const better = (a: number, b: number): boolean => (higher ? a > b : a < b);
  const atLeast = (a: number, b: number): boolean => a === b || better(a, b);
  return rows.map((p) => ({
    ...p,
    pareto: !rows.some(
      (q) =>
        q !== p &&
        q.ciphertexts <= p.ciphertexts &&
        atLeast(q.metric, p.metric) &&
        (q.ciphertexts < p.ciphertexts || better(q.metric, p.metric)),
    ),
  }));
}

/**
 * The results file of a sweep: the rows of `done` in the jobs' spec order (whatever order they
 * finished in), the frontier marked over them. Serial, pool and queue runs of one spec give
 * the same file apart from `timings`.
 */
export function collectResults(
  spec: SweepSpec,
  jobs: readonly SweepJob[],
  done: ReadonlyMap<string, SweepJobResult>,
): SweepResults {
  const rows: SweepRow[] = [];
  const timings: Record<string, number> = {};
  for (const job of jobs) {
    const r = done.get(job.id);
    if (!r) continue;
    rows.push(r.row);
    timings[job.id] = Math.round(r.elapsedMs);
  }
  return {
    version: 1,
    kind: 'hepex-sweep-results',
    spec,
    points: markFrontier(rows),
    complete: rows.length === jobs.length,
    timings,
  };
}

/**
 * The finished jobs of an earlier results file, to resume a sweep: only rows whose id is one
 * of `jobs` (a changed spec's other jobs are dropped, never mixed in).
 */
export function doneFromResults(
  value: unknown,
  jobs: readonly SweepJob[],
): Map<string, SweepJobResult> {
  const file = value as Partial<SweepResults> | null;
  if (!file || file.kind !== 'hepex-sweep-results' || !Array.isArray(file.points))
    throw new HepexError(
      'invalid-argument',
      'The file to resume from is not a hepex sweep results file (kind "hepex-sweep-results").',
    );
  const ids = new Set(jobs.map((j) => j.id));
  const done = new Map<string, SweepJobResult>();
  for (const point of file.points) {
    if (!point || typeof point.id !== 'string' || !ids.has(point.id)) continue;
    // The pareto mark belongs to the whole set; it is recomputed when the results are collected.
    const { pareto: _pareto, ...row } = point;
    done.set(point.id, { row, elapsedMs: file.timings?.[point.id] ?? 0 });
  }
  return done;
}
