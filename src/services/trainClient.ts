import { transfer, type Remote } from 'comlink';
import type { Mask } from '../core/model/matrix';
import type { HepexModel, SourceModel } from '../core/io/model';
import type { Network } from '../core/model/network';
import type { Metric, TrainProgress } from '../core/model/trainer';
import { copyNetwork } from './transferCopies';
import { cancelledError, progressProxy, WorkerBridge } from './workerBridge';
import type {
  ConvertProgress,
  ConvertReport,
  ConvertRequest,
  FineTuneRequest,
  IdxData,
  TrainApi,
  TrainRequest,
} from '../../workers/train.worker';

export type {
  ConvertProgress,
  ConvertReport,
  ConvertRequest,
  FineTuneRequest,
  IdxData,
  TrainProgress,
  TrainRequest,
};

export interface TrainJobOptions {
  readonly signal?: AbortSignal;
  /** Called once per epoch with the loss and the held-out metric. */
  readonly onProgress?: (progress: TrainProgress) => void;
}

export interface TrainClientOptions {
  /** The single place a Worker is constructed; tests can pass their own. */
  readonly createWorker?: () => Worker;
}

const defaultWorker = (): Worker =>
  new Worker(new URL('../../workers/train.worker.ts', import.meta.url), {
    type: 'module',
    name: 'train',
  });

/**
 * The one way the UI reaches workers/train.worker.ts. The worker (and tfjs, and the MNIST
 * asset) starts lazily on the first job and stays warm. Aborting a job's signal asks the worker
 * to stop it between two batches (the job then rejects with HepexError 'cancelled'); `dispose`
 * terminates the worker and rejects what is still running.
 */
export class TrainClient {
  private nextId = 1;
  private readonly pending = new Map<number, (error: unknown) => void>();
  private readonly bridge: WorkerBridge<TrainApi>;

  constructor(options: TrainClientOptions = {}) {
    this.bridge = new WorkerBridge<TrainApi>({
      createWorker: options.createWorker ?? defaultWorker,
      engine: 'The training engine',
      shutDownCode: 'cancelled',
    });
  }

  /** Trains a fresh model on the built-in MNIST split. */
  train(request: TrainRequest, options: TrainJobOptions = {}): Promise<HepexModel> {
    return this.run((api, id, progress) => api.train(id, request, progress), options);
  }

  /** Masked fine-tuning (pruned weights stay exactly zero). */
  fineTune(
    network: Network,
    masks: readonly Mask[],
    request: Omit<FineTuneRequest, 'network' | 'masks'> = {},
    options: TrainJobOptions = {},
  ): Promise<Network> {
    const n = copyNetwork(network);
    const m = masks.map((mask) => ({
      rows: mask.rows,
      cols: mask.cols,
      data: Uint8Array.from(mask.data),
    }));
    const payload = { ...request, network: n.network, masks: m };
    return this.run(
      (api, id, progress) =>
        api.fineTune(
          id,
          transfer(payload, [...n.buffers, ...m.map((x) => x.data.buffer)]),
          progress,
        ),
      options,
    );
  }

  /**
   * Converts a model with ReLU, sigmoid or tanh (fit + distilled fine-tune) in the worker;
   * progress per stage and fine-tune epoch, cancel through the signal.
   */
  convert(
    source: SourceModel,
    request: Omit<ConvertRequest, 'source'> = {},
    options: {
      readonly signal?: AbortSignal;
      readonly onProgress?: (progress: ConvertProgress) => void;
    } = {},
  ): Promise<{ model: HepexModel; report: ConvertReport }> {
    const n = copyNetwork(source.network);
    const payload = { ...request, source: { ...source, network: n.network } };
    return this.run(
      (api, id, progress) => api.convert(id, transfer(payload, n.buffers), progress),
      options,
    );
  }

  evaluate(
    network: Network,
    evalOptions: { noise?: number; seed?: number; data?: IdxData } = {},
    options: Pick<TrainJobOptions, 'signal'> = {},
  ): Promise<Metric> {
    const n = copyNetwork(network);
    return this.run(
      (api, id) => api.evaluate(id, transfer(n.network, n.buffers), evalOptions),
      options,
    );
  }

  dispose(): void {
    for (const reject of this.pending.values()) reject(this.bridge.shutDown());
    this.pending.clear();
    this.bridge.dispose();
  }

  private run<T, P = TrainProgress>(
    call: (api: Remote<TrainApi>, id: number, progress: ((p: P) => void) | undefined) => Promise<T>,
    options: { readonly signal?: AbortSignal; readonly onProgress?: (progress: P) => void },
  ): Promise<T> {
    if (this.bridge.disposed) return Promise.reject(this.bridge.shutDown());
    if (options.signal?.aborted) return Promise.reject(cancelledError());
    const id = this.nextId++;
    const api = this.bridge.remote();
    const progress = progressProxy(options.onProgress);
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (f: () => void): void => {
        if (settled) return;
        settled = true;
        this.pending.delete(id);
        options.signal?.removeEventListener('abort', onAbort);
        f();
      };
      const onAbort = (): void => {
        void api.cancel(id).catch(() => undefined);
        finish(() => reject(cancelledError()));
      };
      this.pending.set(id, (error) => finish(() => reject(error)));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      call(api, id, progress).then(
        (value) => finish(() => resolve(value)),
        (error: unknown) => finish(() => reject(error)),
      );
    });
  }
}
