import { Worker } from 'node:worker_threads';
import { proxy, releaseProxy, wrap, type Remote } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { HepexError, throwIfAborted, type HepexErrorCode } from '../../core/model/errors';
import type { SweepJobResult } from '../../core/sweep/results';
import type { SweepJob } from '../../core/sweep/spec';
import { runSweepJob, type RunJobOptions } from './runJob';
import type { SweepJobWorkerApi } from './sweepJobWorker';

/** What a pool thread sends back for one job: the result, or a HepexError as plain data. */
export type WorkerOutcome =
  | { readonly ok: true; readonly result: SweepJobResult }
  | { readonly ok: false; readonly code: HepexErrorCode; readonly message: string };

/** Runs one job; the serial runner, the pool and the queue worker all have this shape. */
export type SweepJobRunner = (job: SweepJob, options?: RunJobOptions) => Promise<SweepJobResult>;

/** The in-process runner: one job at a time on this thread. */
export const runInProcess: SweepJobRunner = (job, options) => runSweepJob(job, options);

export interface SweepPoolOptions {
  /** Worker threads (each runs one job at a time, with its own tfjs backend). */
  readonly workers: number;
  /** Per-job wall-clock limit, ms: over it the thread is terminated and the job fails 'timeout'. */
  readonly timeoutMs?: number;
  /**
   * Per-thread JS heap limit (V8 old generation, MB): over it the thread dies and the job fails
   * 'out-of-memory'. tfjs's WASM memory and typed arrays' buffers live outside this heap.
   */
  readonly maxMemoryMb?: number;
}

export interface SweepPool {
  readonly run: SweepJobRunner;
  /** Terminates every thread; jobs still running fail 'cancelled'. */
  close(): Promise<void>;
}

interface Slot {
  worker?: Worker;
  api?: Remote<SweepJobWorkerApi>;
  /** Rejects when the thread exits or fails (out of memory, a crash). */
  died?: Promise<never>;
  busy: boolean;
}

function spawn(slot: Slot, maxMemoryMb: number | undefined): void {
  // TypeScript sources run through tsx, which the thread loads itself (as hePoolNode.ts does).
  const worker = new Worker(new URL('./sweepJobWorker.ts', import.meta.url), {
    execArgv: ['--import', 'tsx'],
    ...(maxMemoryMb ? { resourceLimits: { maxOldGenerationSizeMb: maxMemoryMb } } : {}),
  });
  slot.worker = worker;
  slot.api = wrap<SweepJobWorkerApi>(nodeEndpoint(worker));
  slot.died = new Promise<never>((_, reject) => {
    worker.once('error', (error: Error & { code?: string }) =>
      reject(
        error.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? new HepexError(
              'out-of-memory',
              `The job ran out of memory: it needed more than the ${maxMemoryMb} MB heap limit of a sweep worker.`,
            )
          : new HepexError('he-runtime', `A sweep worker failed: ${error.message}`),
      ),
    );
    worker.once('exit', (code) =>
      reject(new HepexError('he-runtime', `A sweep worker exited (code ${code}) during a job.`)),
    );
  });
  slot.died.catch(() => {});
}

function retire(slot: Slot): void {
  slot.api?.[releaseProxy]();
  void slot.worker?.terminate();
  slot.worker = undefined;
  slot.api = undefined;
  slot.died = undefined;
}

/**
 * A pool of Node worker threads running sweep jobs, at most one per thread at a time; callers
 * queue for a free thread. A thread is reused across jobs (its tfjs start-up paid once); one
 * that timed out, was cancelled or died is terminated and replaced by a fresh one for the next
 * job. Cancel: abort the job's signal (the thread is terminated: a training epoch does not
 * have to finish first).
 */
export function createSweepPool(options: SweepPoolOptions): SweepPool {
  if (!Number.isInteger(options.workers) || options.workers < 1 || options.workers > 256)
    throw new HepexError(
      'invalid-argument',
      `--workers must be a whole number from 1 to 256, got ${options.workers}.`,
    );
  const slots: Slot[] = Array.from({ length: options.workers }, () => ({ busy: false }));
  const waiting: ((slot: Slot) => void)[] = [];
  let closed = false;

  const acquire = (): Promise<Slot> => {
    const free = slots.find((s) => !s.busy);
    if (free) {
      free.busy = true;
      return Promise.resolve(free);
    }
    return new Promise((resolve) => waiting.push(resolve));
  };
  const release = (slot: Slot): void => {
    const next = waiting.shift();
    if (next) next(slot);
    else slot.busy = false;
  };

  const run: SweepJobRunner = async (job, runOptions = {}) => {
    const { signal, onProgress } = runOptions;
    throwIfAborted(signal);
    const slot = await acquire();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    const progress = onProgress ? proxy(onProgress) : undefined;
    let healthy = false;
    try {
      if (closed) throw new HepexError('cancelled', 'The sweep pool was closed.');
      throwIfAborted(signal);
      if (!slot.worker) spawn(slot, options.maxMemoryMb);
      const stop = new Promise<never>((_, reject) => {
        if (options.timeoutMs !== undefined)
          timer = setTimeout(
            () =>
              reject(
                new HepexError(
                  'timeout',
                  `Sweep job ${job.id} (${job.config.method} at ${job.config.sparsity}) took longer than its limit of ${options.timeoutMs} ms and was stopped.`,
                ),
              ),
            options.timeoutMs,
          );
        onAbort = () => reject(new HepexError('cancelled', 'The job was cancelled.'));
        signal?.addEventListener('abort', onAbort, { once: true });
      });
      const outcome = await Promise.race([slot.api!.run(job, progress), slot.died!, stop]);
      healthy = true;
      if (!outcome.ok) throw new HepexError(outcome.code, outcome.message);
      return outcome.result;
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      // A thread that did not answer (timeout, cancel, crash) may be mid-job: replace it.
      if (!healthy || closed) retire(slot);
      release(slot);
    }
  };

  return {
    run,
    async close() {
      closed = true;
      await Promise.all(slots.map(async (s) => s.worker?.terminate()));
      for (const s of slots) retire(s);
    },
  };
}

export interface RunJobsOptions {
  /** Jobs run at once (the pool's thread count; 1 for the in-process runner). */
  readonly concurrency: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: RunJobOptions['onProgress'];
  readonly onStart?: (job: SweepJob) => void;
  /** Each finished job, as it finishes (write it out: a crash later keeps it). */
  readonly onResult?: (job: SweepJob, result: SweepJobResult) => void | Promise<void>;
}

/**
 * Runs a list of jobs through a runner, `concurrency` at a time, and returns their results by
 * job id. The first failure stops handing out jobs and is thrown once the running ones end
 * (their results are kept by onResult). A bench can hand it any list of SweepJobs.
 */
export async function runSweepJobs(
  jobs: readonly SweepJob[],
  runner: SweepJobRunner,
  options: RunJobsOptions,
): Promise<Map<string, SweepJobResult>> {
  const done = new Map<string, SweepJobResult>();
  let next = 0;
  let failure: unknown;
  const lane = async (): Promise<void> => {
    while (failure === undefined && next < jobs.length) {
      const job = jobs[next++];
      try {
        throwIfAborted(options.signal);
        options.onStart?.(job);
        const result = await runner(job, {
          signal: options.signal,
          onProgress: options.onProgress,
        });
        done.set(job.id, result);
        await options.onResult?.(job, result);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, lane));
  if (failure !== undefined) throw failure;
  return done;
}
