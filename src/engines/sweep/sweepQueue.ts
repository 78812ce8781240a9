import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { HepexError, isHepexError, throwIfAborted } from '../../core/model/errors';
import type { SweepJobResult } from '../../core/sweep/results';
import { jobId, type SweepJob } from '../../core/sweep/spec';
import { createSweepPool, type SweepPoolOptions } from './sweepPool';

/**
 * Sweeps across machines on BullMQ (Redis): the enqueuer adds each job with BullMQ's jobId set
 * to the job's stable id, so adding a sweep twice adds nothing twice (BullMQ keeps one job per
 * id) and a finished job's result stays in Redis as its return value: re-running a sweep
 * collects it instead of running it again. Workers (`hepex worker`) run jobs in a sweep pool
 * thread, so the BullMQ lock is renewed on a main thread tfjs never blocks; a worker that dies
 * stops renewing, BullMQ's stalled-job check moves its job back to the wait list and another
 * worker runs it. Results are keyed by job id, so nothing can be counted twice.
 */
export const SWEEP_QUEUE_NAME = 'hepex-sweep';

/** Tries per job (a thrown error, a dead worker's stall is counted apart: maxStalledCount). */
export const SWEEP_JOB_ATTEMPTS = 3;

/** Milliseconds to reach Redis before saying so (ioredis would otherwise retry forever). */
const CONNECT_TIMEOUT_MS = 10_000;

/** BullMQ's connection options for a redis:// URL, checked. */
export function redisConnection(url: string): { url: string; maxRetriesPerRequest: null } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new HepexError(
      'invalid-argument',
      `--queue takes a Redis URL like redis://127.0.0.1:6379, got "${url}".`,
    );
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    throw new HepexError(
      'invalid-argument',
      `--queue takes a Redis URL like redis://127.0.0.1:6379 (or rediss:// for TLS), got "${url}".`,
    );
  // BullMQ's blocking commands need ioredis to wait, not to fail after N retries.
  return { url, maxRetriesPerRequest: null };
}

async function ready(what: { waitUntilReady(): Promise<unknown> }, url: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      what.waitUntilReady(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new HepexError(
                'invalid-argument',
                `Could not reach Redis at ${url} within ${CONNECT_TIMEOUT_MS / 1000} s; is redis-server running there?`,
              ),
            ),
          CONNECT_TIMEOUT_MS,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export interface QueueSweepOptions {
  readonly signal?: AbortSignal;
  /** Poll period for finished jobs, ms (default 500). */
  readonly pollMs?: number;
  /** Each job as its result arrives (first time only). */
  readonly onResult?: (job: SweepJob, result: SweepJobResult) => void | Promise<void>;
  /** Counts for people: done / total, and how many are running now. */
  readonly onStatus?: (status: { done: number; total: number; active: number }) => void;
}

/**
 * Enqueues `jobs` on the queue at `url` and waits until every one has a result, which it
 * returns by job id. Jobs already finished on the queue (an earlier run of the same sweep)
 * are collected, not re-run; jobs that failed every attempt earlier are retried once more. A
 * job that fails for good fails the sweep with its reason. Cancel (signal): the jobs still
 * waiting are taken off the queue; running ones finish on their workers.
 */
export async function runSweepOnQueue(
  url: string,
  jobs: readonly SweepJob[],
  options: QueueSweepOptions = {},
): Promise<Map<string, SweepJobResult>> {
  const queue = new Queue<SweepJob, SweepJobResult>(SWEEP_QUEUE_NAME, {
    connection: redisConnection(url),
  });
  // Connection errors surface through ready() and the calls below, not as unhandled events.
  queue.on('error', () => {});
  const done = new Map<string, SweepJobResult>();
  try {
    await ready(queue, url);
    // Jobs that failed every attempt on an earlier run of this sweep: give them another go.
    const before = await Promise.all(jobs.map((j) => queue.getJobState(j.id)));
    for (const [i, state] of before.entries()) {
      if (state === 'failed') await (await queue.getJob(jobs[i].id))?.retry('failed');
    }
    await queue.addBulk(
      jobs.map((job) => ({
        name: 'sweep-job',
        data: job,
        opts: {
          jobId: job.id,
          attempts: SWEEP_JOB_ATTEMPTS,
          removeOnComplete: false,
          removeOnFail: false,
        },
      })),
    );
    const pending = new Set(jobs.map((j) => j.id));
    const byId = new Map(jobs.map((j) => [j.id, j]));
    const pollMs = options.pollMs ?? 500;
    while (pending.size > 0) {
      if (options.signal?.aborted) {
        await Promise.all(
          [...pending].map(async (id) => {
            const job = await queue.getJob(id);
            if (job && (await job.getState()) === 'waiting') await job.remove();
          }),
        );
        throwIfAborted(options.signal);
      }
      const ids = [...pending];
      const states = await Promise.all(ids.map((id) => queue.getJobState(id)));
      let active = 0;
      for (const [i, id] of ids.entries()) {
        const state = states[i];
        if (state === 'active') active++;
        if (state !== 'completed' && state !== 'failed') continue;
        const job = (await queue.getJob(id)) as Job<SweepJob, SweepJobResult> | undefined;
        if (!job) continue;
        if (state === 'failed')
          throw new HepexError(
            'he-runtime',
            `Sweep job ${id} failed after ${job.attemptsMade} attempt(s): ${job.failedReason}`,
          );
        pending.delete(id);
        done.set(id, job.returnvalue);
        await options.onResult?.(byId.get(id)!, job.returnvalue);
      }
      options.onStatus?.({ done: done.size, total: jobs.length, active });
      if (pending.size > 0) await new Promise((r) => setTimeout(r, pollMs));
    }
    return done;
  } finally {
    await queue.close();
  }
}
export interface QueueWorkerOptions extends Omit<SweepPoolOptions, 'workers'> {
  /** Jobs at once on this machine (one pool thread each); default 1. */
  readonly concurrency?: number;
  /** BullMQ lock of a running job, ms (renewed every half); default 30,000. */
  readonly lockMs?: number;
  /** BullMQ's check for jobs whose worker died, every this many ms; default 30,000. */
  readonly stalledMs?: number;
  /** Stops taking jobs, waits for the running ones, closes. */
  readonly signal: AbortSignal;
  /** Lines for people (job started, finished, failed). */
  readonly log?: (message: string) => void;
}

/** Errors a retry cannot fix (a bad model path, a bad configuration): fail the job at once. */
const retryable = (error: unknown): boolean =>
  !isHepexError(error) ||
  error.code === 'timeout' ||
  error.code === 'out-of-memory' ||
  error.code === 'he-runtime' ||
  error.code === 'cancelled';

/**
 * Serves the queue at `url` until `signal` aborts: takes sweep jobs and runs each in a sweep
 * pool thread (per-job time and memory limits as given), returning its result to BullMQ.
 */
export async function serveSweepQueue(url: string, options: QueueWorkerOptions): Promise<number> {
  const concurrency = options.concurrency ?? 1;
  const pool = createSweepPool({
    workers: concurrency,
    timeoutMs: options.timeoutMs,
    maxMemoryMb: options.maxMemoryMb,
  });
  const log = options.log ?? (() => undefined);
  let served = 0;
  const worker = new Worker<SweepJob, SweepJobResult>(
    SWEEP_QUEUE_NAME,
    async (job) => {
      const data = job.data;
      // A job is only what its id says: a garbled or hand-made entry never runs.
      if (!data?.config || job.id !== data.id || jobId(data.config) !== data.id)
        throw new UnrecoverableError(
          `Job ${job.id} is not a hepex sweep job (its id does not match its configuration).`,
        );
      log(
        `job ${data.id} started: ${data.config.method} at ${data.config.sparsity}, seed ${data.config.seed} (attempt ${job.attemptsStarted})`,
      );
      try {
        const result = await pool.run(data, {
          onProgress: (p) => void job.updateProgress({ step: p.step, steps: p.steps }),
        });
        served++;
        log(`job ${data.id} done in ${Math.round(result.elapsedMs)} ms`);
        return result;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        log(`job ${data.id} failed: ${message}`);
        if (!retryable(error)) throw new UnrecoverableError(message);
        throw error instanceof Error ? error : new Error(message);
      }
    },
    {
      connection: redisConnection(url),
      concurrency,
      lockDuration: options.lockMs ?? 30_000,
      stalledInterval: options.stalledMs ?? 30_000,
      // A job whose worker died twice still gets a third worker before it fails.
      maxStalledCount: 2,
      autorun: false,
    },
  );
  // ioredis retries a lost connection every few hundred ms: say each distinct error once.
  let lastError = '';
  worker.on('error', (error) => {
    if (error.message !== lastError) log(`queue error: ${(lastError = error.message)}`);
  });
  try {
    await ready(worker, url);
    const stopped = new Promise<void>((resolve) => {
      if (options.signal.aborted) resolve();
      options.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    const running = worker.run();
    log(`serving ${SWEEP_QUEUE_NAME} on ${url} with ${concurrency} job(s) at once`);
    await stopped;
    await worker.close();
    await running;
  } finally {
    await worker.close();
    await pool.close();
  }
  return served;
}
