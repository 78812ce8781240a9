import type { Remote } from 'comlink';
import type { OpTimingTable } from '../core/he/costModel';
import type { RingDegree } from '../core/tiling/tileShape';
import type { HeInferenceReport } from '../engines/seal/heInference';
import type { PoolInferenceSummary } from '../engines/seal/hePoolInference';
import type { InferStats, SerializedBatch, SessionInfo } from '../engines/seal/heSession';
import { cancelledError, progressProxy, WorkerBridge } from './workerBridge';
import type {
  HeApi,
  HeEngineInfo,
  ProgressCallback,
  SessionRequest,
} from '../../workers/he.worker';

export type {
  HeEngineInfo,
  HeInferenceReport,
  InferStats,
  PoolInferenceSummary,
  ProgressCallback,
  SerializedBatch,
  SessionInfo,
  SessionRequest,
};

/** Per-call options of long jobs. */
export interface JobOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressCallback;
}

interface Job<T> {
  readonly run: (api: Remote<HeApi>, jobId: number) => Promise<T>;
  readonly resolve: (value: T) => void;
  readonly reject: (error: unknown) => void;
  readonly id: number;
  /** Cooperative cancel supported (the worker checks between tiles). */
  readonly cooperative: boolean;
}

export interface HeClientOptions {
  /** Test seam and the single place a Worker is constructed. */
  readonly createWorker?: () => Worker;
  /** How long a cancelled job may take to stop between tiles before the worker is terminated. */
  readonly cancelGraceMs?: number;
}

const defaultWorker = (): Worker =>
  new Worker(new URL('../../workers/he.worker.ts', import.meta.url), {
    type: 'module',
    name: 'he',
  });

const cancelled = () => cancelledError('The HE job');

/**
 * The one way the UI reaches the HE worker. The worker starts lazily on the first job; jobs run
 * one at a time in order (SEAL in a worker is single-threaded anyway). Aborting a queued job
 * drops it. Aborting the running job asks the worker to stop between tiles (sessions survive);
 * if it has not stopped within the grace period, the worker is terminated and the next job
 * starts a fresh one (sessions are then gone). `dispose` terminates for good.
 */
export class HeClient {
  private readonly queue: Job<unknown>[] = [];
  private running: Job<unknown> | undefined;
  private nextJobId = 1;
  private readonly bridge: WorkerBridge<HeApi>;
  private readonly cancelGraceMs: number;
  private readonly engineInfoCache = new Map<RingDegree, Promise<HeEngineInfo>>();

  constructor(options: HeClientOptions = {}) {
    this.bridge = new WorkerBridge<HeApi>({
      createWorker: options.createWorker ?? defaultWorker,
      engine: 'The HE engine',
      shutDownCode: 'he-runtime',
    });
    this.cancelGraceMs = options.cancelGraceMs ?? 3000;
  }

  /** Loads SEAL in the worker and round-trips a vector: the engine's health check. */
  selfTest(ringDegree: RingDegree = 8192, signal?: AbortSignal): Promise<HeEngineInfo> {
    return this.enqueue((api) => api.selfTest(ringDegree), { signal });
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

  calibrate(
    ringDegree: RingDegree,
    depth: number,
    options: JobOptions = {},
  ): Promise<OpTimingTable> {
    return this.enqueue(
      (api, id) => api.calibrate(ringDegree, depth, id, progressOf(options)),
      options,
      true,
    );
  }

  createSession(
    request: SessionRequest,
    options: JobOptions = {},
  ): Promise<{ sessionId: number; info: SessionInfo }> {
    return this.enqueue(
      (api, id) => api.createSession(request, id, progressOf(options)),
      options,
      true,
    );
  }

  /** Encrypt, infer and decrypt `samples` inputs on a session, compared with plaintext. */
  run(
    sessionId: number,
    inputs: Float32Array,
    samples: number,
    options: JobOptions & { readonly timings?: readonly OpTimingTable[] } = {},
  ): Promise<HeInferenceReport> {
    return this.enqueue(
      (api, id) => api.run(sessionId, inputs, samples, id, progressOf(options), options.timings),
      options,
      true,
    );
  }

  /**
   * Encrypted inference on a pool of `workers` HE workers started by the HE worker for this run
   * (each with its own heap and its share of every layer), compared with plaintext.
   */
  runOnPool(
    request: SessionRequest,
    inputs: Float32Array,
    samples: number,
    workers: number,
    options: JobOptions & { readonly timings?: readonly OpTimingTable[] } = {},
  ): Promise<{ summary: PoolInferenceSummary; outputs: Float32Array }> {
    return this.enqueue(
      (api, id) =>
        api.runOnPool(request, inputs, samples, workers, id, progressOf(options), options.timings),
      options,
      true,
    );
  }

  encrypt(
    sessionId: number,
    inputs: Float32Array,
    samples: number,
  ): Promise<{ batchId: number; ciphertexts: number }> {
    return this.enqueue((api) => api.encrypt(sessionId, inputs, samples));
  }

  infer(
    sessionId: number,
    batchId: number,
    options: JobOptions = {},
  ): Promise<{ resultId: number; stats: InferStats }> {
    return this.enqueue(
      (api, id) => api.infer(sessionId, batchId, id, progressOf(options)),
      options,
      true,
    );
  }

  decrypt(sessionId: number, resultId: number): Promise<Float32Array> {
    return this.enqueue((api) => api.decrypt(sessionId, resultId));
  }

  exportBatch(sessionId: number, batchId: number): Promise<SerializedBatch> {
    return this.enqueue((api) => api.exportBatch(sessionId, batchId));
  }

  importBatch(sessionId: number, serialized: SerializedBatch): Promise<number> {
    return this.enqueue((api) => api.importBatch(sessionId, serialized));
  }

  exportEvaluationKeys(
    sessionId: number,
  ): Promise<{ relin: Uint8Array | null; galois: Uint8Array | null }> {
    return this.enqueue((api) => api.exportEvaluationKeys(sessionId));
  }

  importEvaluationKeys(
    sessionId: number,
    blobs: { relin: Uint8Array | null; galois: Uint8Array | null },
  ): Promise<void> {
    return this.enqueue((api) => api.importEvaluationKeys(sessionId, blobs));
  }

  freeBatch(batchId: number): Promise<void> {
    return this.enqueue((api) => api.freeBatch(batchId));
  }

  closeSession(sessionId: number): Promise<void> {
    return this.enqueue((api) => api.closeSession(sessionId));
  }

  usage(): Promise<Awaited<ReturnType<HeApi['usage']>>> {
    return this.enqueue((api) => api.usage());
  }

  /** Runs any worker call through the queue. */
  enqueue<T>(
    run: (api: Remote<HeApi>, jobId: number) => Promise<T>,
    options: { signal?: AbortSignal } = {},
    cooperative = false,
  ): Promise<T> {
    const { signal } = options;
    if (this.bridge.disposed) return Promise.reject(this.bridge.shutDown());
    if (signal?.aborted) return Promise.reject(cancelled());
    return new Promise<T>((resolve, reject) => {
      const job: Job<T> = { run, resolve, reject, id: this.nextJobId++, cooperative };
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
    this.bridge.dispose();
    this.engineInfoCache.clear();
  }

  private abort(job: Job<unknown>): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      job.reject(cancelled());
      return;
    }
    if (this.running !== job) return;
    if (job.cooperative && this.bridge.started) {
      // Ask the worker to stop between tiles; its rejection settles the job. Terminate if stuck.
      void this.bridge.remote().cancel(job.id);
      setTimeout(() => {
        if (this.running === job) this.hardStop(job);
      }, this.cancelGraceMs);
    } else {
      this.hardStop(job);
    }
  }

  private hardStop(job: Job<unknown>): void {
    this.running = undefined;
    this.stopWorker();
    job.reject(cancelled());
    this.pump();
  }

  private pump(): void {
    if (this.running || this.bridge.disposed) return;
    const job = this.queue.shift();
    if (!job) return;
    this.running = job;
    const api = this.bridge.remote();
    job.run(api, job.id).then(
      (value) => this.settle(job, () => job.resolve(value)),
      (error: unknown) => this.settle(job, () => job.reject(error)),
    );
  }

  private settle(job: Job<unknown>, finish: () => void): void {
    // A job stopped by terminating the worker was already rejected; its late result is dropped.
    if (this.running !== job) return;
    this.running = undefined;
    finish();
    this.pump();
  }

  private stopWorker(): void {
    this.bridge.stop();
    // Sessions and the memoised self-tests lived in the worker that is gone.
    this.engineInfoCache.clear();
  }
}

function progressOf(options: JobOptions): ProgressCallback | undefined {
  return progressProxy(options.onProgress);
}

let shared: HeClient | undefined;

/** The app's HE client (one worker for the page). */
export function getHeClient(): HeClient {
  shared ??= new HeClient();
  return shared;
}
