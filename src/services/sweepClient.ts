import type { SweepJobResult } from '../core/sweep/results';
import type { SweepJob } from '../core/sweep/spec';
import type { JobModel } from '../engines/sweep/jobPipeline';
import { cancelledError, progressProxy, WorkerBridge } from './workerBridge';
import type { SweepStep, SweepWorkerApi } from '../../workers/sweep.worker';

export type { JobModel, SweepStep };

export interface SweepRunOptions {
  readonly signal?: AbortSignal;
  /** A job's pipeline step starting (the job id says which). */
  readonly onStep?: (step: SweepStep) => void;
  /** Each finished job, as it finishes. */
  readonly onResult?: (job: SweepJob, result: SweepJobResult) => void;
}

/** What the store needs to run a sweep (an interface so tests can run jobs in-thread). */
export interface SweepService {
  /** Runs the jobs on the model, a few at once; resolves with every result by job id. */
  run(
    jobs: readonly SweepJob[],
    model: JobModel,
    options?: SweepRunOptions,
  ): Promise<Map<string, SweepJobResult>>;
  dispose(): void;
}

export interface SweepClientOptions {
  /** Sweep workers (jobs at once); default one per core but one, at most 2. */
  readonly workers?: number;
  /** The single place a Worker is constructed; tests can pass their own. */
  readonly createWorker?: () => Worker;
}

const defaultWorker = (): Worker =>
  new Worker(new URL('../../workers/sweep.worker.ts', import.meta.url), {
    type: 'module',
    name: 'sweep',
  });

/** One per core but one (the page needs a core), at least 1, at most 2 (a studio sweep is small). */
export function defaultSweepWorkers(cores: number): number {
  return Math.max(1, Math.min(2, cores - 1));
}

/**
 * The one way the UI reaches workers/sweep.worker.ts: a small pool of sweep workers, started
 * on the first sweep and kept warm. Jobs are handed out in order to whichever worker is free.
 * Cancel terminates every worker (a training epoch does not have to finish); the next sweep
 * starts fresh ones. One sweep at a time: a new one cancels the one running.
 */
export class SweepClient implements SweepService {
  private readonly bridges: WorkerBridge<SweepWorkerApi>[];
  private current: AbortController | undefined;

  constructor(options: SweepClientOptions = {}) {
    const cores = typeof navigator === 'undefined' ? 1 : (navigator.hardwareConcurrency ?? 1);
    const count = options.workers ?? defaultSweepWorkers(cores);
    this.bridges = Array.from(
      { length: count },
      () =>
        new WorkerBridge<SweepWorkerApi>({
          createWorker: options.createWorker ?? defaultWorker,
          engine: 'The sweep worker',
          shutDownCode: 'cancelled',
        }),
    );
  }

  async run(
    jobs: readonly SweepJob[],
    model: JobModel,
    options: SweepRunOptions = {},
  ): Promise<Map<string, SweepJobResult>> {
    this.current?.abort();
    const controller = new AbortController();
    this.current = controller;
    const stop = () => controller.abort();
    options.signal?.addEventListener('abort', stop, { once: true });
    const done = new Map<string, SweepJobResult>();
    let next = 0;
    const cancelled = new Promise<never>((_, reject) => {
      const onAbort = () => {
        for (const b of this.bridges) b.stop();
        reject(cancelledError('The sweep'));
      };
      if (controller.signal.aborted) onAbort();
      controller.signal.addEventListener('abort', onAbort, { once: true });
    });
    cancelled.catch(() => undefined);
    const onStep = progressProxy(
      options.onStep &&
        ((s: SweepStep) => {
          if (!controller.signal.aborted) options.onStep?.(s);
        }),
    );
    const lane = async (bridge: WorkerBridge<SweepWorkerApi>): Promise<void> => {
      while (next < jobs.length && !controller.signal.aborted) {
        const job = jobs[next++];
        const result = await Promise.race([bridge.remote().run(job, model, onStep), cancelled]);
        done.set(job.id, result);
        options.onResult?.(job, result);
      }
    };
    try {
      await Promise.race([Promise.all(this.bridges.map(lane)), cancelled]);
      if (controller.signal.aborted) throw cancelledError('The sweep');
      return done;
    } catch (error) {
      // A job failed: stop the others too, they belong to a sweep that will not finish.
      if (!controller.signal.aborted) for (const b of this.bridges) b.stop();
      throw error;
    } finally {
      options.signal?.removeEventListener('abort', stop);
      if (this.current === controller) this.current = undefined;
    }
  }

  dispose(): void {
    this.current?.abort();
    for (const b of this.bridges) b.dispose();
  }
}

let shared: SweepClient | undefined;

/** The app's sweep client, created on first use. */
export function getSweepClient(): SweepClient {
  shared ??= new SweepClient();
  return shared;
}
