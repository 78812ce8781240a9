import { transfer, type Remote } from 'comlink';
import type { Network } from '../core/model/network';
import type { NetworkPermutation } from '../core/model/permutation';
import { copyMasks, copyNetwork, copyPermutation } from './transferCopies';
import { cancelledError, progressProxy, WorkerBridge } from './workerBridge';
import type {
  Evaluation,
  PipelineApi,
  PipelineJob,
  PipelineStepsResult,
  PermuteJob,
  PermuteStepResult,
  StepProgress,
} from '../../workers/pipeline.worker';

export type {
  Evaluation,
  PipelineJob,
  PipelineStepsResult,
  PermuteJob,
  PermuteStepResult,
  StepProgress,
};

export interface JobOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: StepProgress) => void;
}

/** What the store needs from the heavy-step worker (an interface so tests can run it in-thread). */
export interface PipelineService {
  /**
   * Reorders neurons so the masks' non-zeros gather into few tiles (docs/method.md section 3, step 3), composed
   * with the permutation the network already carries; the result says how much the outputs moved.
   */
  permute(job: PermuteJob, options?: JobOptions): Promise<PermuteStepResult>;
  /** Pipeline steps (retrain needs the MNIST split and tfjs, which live in the worker). */
  pipeline(job: PipelineJob, options?: JobOptions): Promise<PipelineStepsResult>;
  /** Accuracy or MSE on the held-out split, with the split's label; never cancels a running step. */
  evaluate(network: Network, permutation?: NetworkPermutation, noise?: number): Promise<Evaluation>;
  /** Held-out test images, samples x pixels in [0, 1], with their labels. */
  testInputs(count: number): Promise<{ inputs: Float32Array; labels: Uint8Array; samples: number }>;
  /** IDX data for retraining, evaluation and encrypted runs (null: back to MNIST). */
  setData(data: IdxData | null): Promise<{ label: string; count: number } | null>;
  dispose(): void;
}

/** An IDX images + labels pair a person opened (bytes as read, gzipped or not). */
export interface IdxData {
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
  readonly name: string;
  /** Inputs of the model the data is for (images must have that many pixels). */
  readonly inputs: number;
}

export interface PipelineClientOptions {
  /** The single place a Worker is constructed; tests can pass their own. */
  readonly createWorker?: () => Worker;
}

const defaultWorker = (): Worker =>
  new Worker(new URL('../../workers/pipeline.worker.ts', import.meta.url), {
    type: 'module',
    name: 'pipeline',
  });

/**
 * The one way the UI reaches workers/pipeline.worker.ts. The worker starts on the first job.
 * Latest wins: a new job aborts the one running (the UI only wants the newest answer). Aborting
 * a running job terminates the worker, the only way to stop a tight JS loop mid-flight, and the
 * next job starts a fresh one. `dispose` terminates for good.
 */
export class PipelineClient implements PipelineService {
  private current: AbortController | undefined;
  /** Replayed into every new worker (aborts terminate workers; the data must survive that). */
  private data: IdxData | null = null;
  private readonly bridge: WorkerBridge<PipelineApi>;

  constructor(options: PipelineClientOptions = {}) {
    this.bridge = new WorkerBridge<PipelineApi>({
      createWorker: options.createWorker ?? defaultWorker,
      engine: 'The pipeline worker',
      shutDownCode: 'invalid-argument',
      // Posted before any job on this worker, so the worker parses it first.
      onStart: (remote) => {
        const d = this.data;
        if (d)
          void remote
            .setData(Uint8Array.from(d.images), Uint8Array.from(d.labels), d.name, d.inputs)
            .catch(() => undefined);
      },
    });
  }

  permute(job: PermuteJob, options: JobOptions = {}): Promise<PermuteStepResult> {
    const n = copyNetwork(job.network);
    const m = copyMasks(job.masks);
    const p = job.permutation && copyPermutation(job.permutation);
    const payload: PermuteJob = {
      ...job,
      network: n.network,
      masks: m.masks,
      permutation: p?.permutation,
    };
    return this.run(
      (api, progress) =>
        api.permute(
          transfer(payload, [...n.buffers, ...m.buffers, ...(p?.buffers ?? [])]),
          progress,
        ),
      options,
    );
  }

  pipeline(job: PipelineJob, options: JobOptions = {}): Promise<PipelineStepsResult> {
    const n = copyNetwork(job.network);
    const d = job.dense ? copyNetwork(job.dense) : undefined;
    const m = job.masks ? copyMasks(job.masks) : undefined;
    const p = job.permutation && copyPermutation(job.permutation);
    const payload: PipelineJob = {
      ...job,
      network: n.network,
      dense: d?.network,
      masks: m?.masks,
      permutation: p?.permutation,
    };
    const buffers = [
      ...n.buffers,
      ...(d?.buffers ?? []),
      ...(m?.buffers ?? []),
      ...(p?.buffers ?? []),
    ];
    return this.run((api, progress) => api.pipeline(transfer(payload, buffers), progress), options);
  }

  async evaluate(
    network: Network,
    permutation?: NetworkPermutation,
    noise?: number,
  ): Promise<Evaluation> {
    const n = copyNetwork(network);
    return this.bridge.remote().evaluate(transfer(n.network, n.buffers), permutation, noise);
  }

  async testInputs(
    count: number,
  ): Promise<{ inputs: Float32Array; labels: Uint8Array; samples: number }> {
    return this.bridge.remote().testInputs(count);
  }

  async setData(data: IdxData | null): Promise<{ label: string; count: number } | null> {
    if (this.bridge.disposed) throw this.bridge.shutDown();
    if (!data) {
      this.data = null;
      if (this.bridge.started) await this.bridge.remote().clearData();
      return null;
    }
    const result = await this.bridge
      .remote()
      .setData(Uint8Array.from(data.images), Uint8Array.from(data.labels), data.name, data.inputs);
    this.data = data;
    return result;
  }

  dispose(): void {
    this.current?.abort();
    this.bridge.dispose();
  }

  private async run<T>(
    call: (
      api: Remote<PipelineApi>,
      progress: ((p: StepProgress) => void) | undefined,
    ) => Promise<T>,
    options: JobOptions,
  ): Promise<T> {
    if (this.bridge.disposed) throw this.bridge.shutDown();
    // Latest wins: the previous job is no longer wanted.
    this.current?.abort();
    const controller = new AbortController();
    this.current = controller;
    const { signal, onProgress } = options;
    if (signal?.aborted) throw cancelledError();
    const api = this.bridge.remote();
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        if (this.current === controller) this.current = undefined;
        this.bridge.stop();
        reject(cancelledError());
      };
      controller.signal.addEventListener('abort', onAbort, { once: true });
      signal?.addEventListener('abort', () => controller.abort(), { once: true });
      const progress = progressProxy(
        onProgress &&
          ((p: StepProgress) => {
            if (!controller.signal.aborted) onProgress(p);
          }),
      );
      call(api, progress).then(
        (value) => {
          controller.signal.removeEventListener('abort', onAbort);
          if (this.current === controller) this.current = undefined;
          if (controller.signal.aborted) reject(cancelledError());
          else resolve(value);
        },
        (error: unknown) => {
          controller.signal.removeEventListener('abort', onAbort);
          if (this.current === controller) this.current = undefined;
          reject(controller.signal.aborted ? cancelledError() : error);
        },
      );
    });
  }
}

let shared: PipelineClient | undefined;

/** The app's pipeline client, created on first use. */
export function getPipelineClient(): PipelineClient {
  shared ??= new PipelineClient();
  return shared;
}
