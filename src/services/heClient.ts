import { wrap, type Remote } from 'comlink';
import { HepexError } from '../core/errors';
import type { RingDegree } from '../core/tileShape';
import { installHepexErrorTransfer } from '../../workers/errorTransfer';
import type { HeApi, HeEngineInfo } from '../../workers/he.worker';

export type { HeEngineInfo };

interface Job<T> {
  readonly run: (api: Remote<HeApi>) => Promise<T>;
  readonly resolve: (value: T) => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
}

export interface HeClientOptions {
  /** Test seam and the single place a Worker is constructed. */
  readonly createWorker?: () => Worker;
}

const defaultWorker = (): Worker =>
  new Worker(new URL('../../workers/he.worker.ts', import.meta.url), {
    type: 'module',
    name: 'he',
  });

/**
 * The one way the UI reaches the HE worker. The worker starts lazily on the first job; jobs run
 * one at a time in order (SEAL in a worker is single-threaded anyway). Aborting a queued job
 * drops it; aborting the running job terminates the worker (the only way to stop a WASM loop
 * mid-flight) and the next job starts a fresh one. `dispose` terminates for good.
 */
export class HeClient {
  private worker: Worker | undefined;
  private remote: Remote<HeApi> | undefined;
  private readonly queue: Job<unknown>[] = [];
  private running: Job<unknown> | undefined;
  private disposed = false;
  private readonly engineInfoCache = new Map<RingDegree, Promise<HeEngineInfo>>();
  private readonly createWorker: () => Worker;

  constructor(options: HeClientOptions = {}) {
    this.createWorker = options.createWorker ?? defaultWorker;
    installHepexErrorTransfer();
  }

  /** Loads SEAL in the worker and round-trips a vector: the engine's health check. */
  selfTest(ringDegree: RingDegree = 8192, signal?: AbortSignal): Promise<HeEngineInfo> {
    return this.enqueue((api) => api.selfTest(ringDegree), signal);
  }

  /** The self-test, run once per ring degree (a failure is retried on the next call). */
  engineInfo(ringDegree: RingDegree = 8192): Promise<HeEngineInfo> {
    let info = this.engineInfoCache.get(ringDegree);
    if (!info) {
      info = this.selfTest(ringDegree);
      this.engineInfoCache.set(ringDegree, info);
      info.catch(() => this.engineInfoCache.delete(ringDegree));
    }
    return info;
  }

  /** Runs any worker call through the queue (for callers that need the raw API). */
  enqueue<T>(run: (api: Remote<HeApi>) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.disposed)
      return Promise.reject(new HepexError('he-runtime', 'The HE engine was shut down.'));
    if (signal?.aborted) return Promise.reject(cancelled());
    return new Promise<T>((resolve, reject) => {
      const job: Job<T> = { run, resolve, reject, signal };
      signal?.addEventListener('abort', () => this.abort(job as Job<unknown>), { once: true });
      this.queue.push(job as Job<unknown>);
      this.pump();
    });
  }

  /** Cancels everything queued and running. */
  cancelAll(): void {
    for (const job of this.queue.splice(0)) job.reject(cancelled());
    if (this.running) this.abort(this.running);
  }

  dispose(): void {
    this.cancelAll();
    this.disposed = true;
    this.stopWorker();
  }

  private abort(job: Job<unknown>): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      job.reject(cancelled());
    } else if (this.running === job) {
      this.running = undefined;
      this.stopWorker();
      job.reject(cancelled());
      this.pump();
    }
  }

  private pump(): void {
    if (this.running || this.disposed) return;
    const job = this.queue.shift();
    if (!job) return;
    this.running = job;
    const api = this.ensureWorker();
    job.run(api).then(
      (value) => this.settle(job, () => job.resolve(value)),
      (error: unknown) => this.settle(job, () => job.reject(error)),
    );
  }

  private settle(job: Job<unknown>, finish: () => void): void {
    // A job aborted while running was already rejected; its late result is dropped.
    if (this.running !== job) return;
    this.running = undefined;
    finish();
    this.pump();
  }

  private ensureWorker(): Remote<HeApi> {
    if (!this.remote) {
      this.worker = this.createWorker();
      this.remote = wrap<HeApi>(this.worker);
    }
    return this.remote;
  }

  private stopWorker(): void {
    this.worker?.terminate();
    this.worker = undefined;
    this.remote = undefined;
  }
}

const cancelled = () => new HepexError('cancelled', 'The HE job was cancelled.');

let shared: HeClient | undefined;

/** The app's HE client (one worker for the page). */
export function getHeClient(): HeClient {
  shared ??= new HeClient();
  return shared;
}
