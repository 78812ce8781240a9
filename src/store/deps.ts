import type { HepexModel, SourceModel } from '../core/io/model';
import type { OpTimingTable } from '../core/he/costModel';
import type { RingDegree } from '../core/tiling/tileShape';
import type {
  HeEngineInfo,
  HeInferenceReport,
  JobOptions as HeJobOptions,
  PoolInferenceSummary,
  SessionInfo,
  SessionRequest,
} from '../services/heClient';
import type { ModelLoader } from '../services/modelLoader';
import type { DataSetService } from '../services/dataSetClient';
import type { PipelineService } from '../services/pipelineClient';
import type { SweepService } from '../services/sweepClient';
import type {
  ConvertProgress,
  ConvertReport,
  ConvertRequest,
  TrainJobOptions,
  TrainRequest,
} from '../services/trainClient';

/** What the store needs from the HE worker's client (services/heClient.ts). */
export interface HeService {
  createSession(
    request: SessionRequest,
    options?: HeJobOptions,
  ): Promise<{ sessionId: number; info: SessionInfo }>;
  run(
    sessionId: number,
    inputs: Float32Array,
    samples: number,
    options?: HeJobOptions & { readonly timings?: readonly OpTimingTable[] },
  ): Promise<HeInferenceReport>;
  closeSession(sessionId: number): Promise<void>;
  /**
   * Encrypted inference on a pool of `workers` HE workers (the HE worker stays the client and
   * holds the keys): outputs and the pool's figures.
   */
  runOnPool(
    request: SessionRequest,
    inputs: Float32Array,
    samples: number,
    workers: number,
    options?: HeJobOptions & { readonly timings?: readonly OpTimingTable[] },
  ): Promise<{ summary: PoolInferenceSummary; outputs: Float32Array }>;
  /** Times every SEAL primitive in this browser at a ring degree and depth. */
  calibrate(ringDegree: RingDegree, depth: number, options?: HeJobOptions): Promise<OpTimingTable>;
  /** Loads SEAL and round-trips a vector at a ring degree (memoised): the engine's status. */
  engineInfo(ringDegree: RingDegree): Promise<HeEngineInfo>;
}

/** Where calibrated timings are kept between visits (localStorage in the app). */
export interface KeyValueStorage {
  get(key: string): string | null;
  set(key: string, value: string): void;
}

/** What the store needs from the training worker's client (services/trainClient.ts). */
export interface TrainService {
  train(request: TrainRequest, options?: TrainJobOptions): Promise<HepexModel>;
  /** Makes a ReLU/sigmoid/tanh model HE-ready; absent: the studio cannot convert. */
  convert?(
    source: SourceModel,
    request?: Omit<ConvertRequest, 'source'>,
    options?: {
      readonly signal?: AbortSignal;
      readonly onProgress?: (progress: ConvertProgress) => void;
    },
  ): Promise<{ model: HepexModel; report: ConvertReport }>;
}

/** The services a store talks to, injected so each test builds its own. */
export interface StoreDeps {
  readonly loader: ModelLoader;
  /** Created on first heavy step. */
  readonly pipeline: () => PipelineService;
  /** The HE worker's client; absent: encrypted runs are unavailable. */
  readonly he?: () => HeService;
  /** The training worker (created on first use); absent: training is unavailable. */
  readonly trainer?: () => TrainService;
  /** Runs a preview after the current task; default queueMicrotask (tests may flush by hand). */
  readonly schedule?: (run: () => void) => void;
  /** The built-in data sets the app serves (services/dataSetClient.ts); absent: MNIST only. */
  readonly dataSets?: () => DataSetService;
  /** Persists calibrated timings (and the first-visit guide's state); absent: nothing is kept. */
  readonly storage?: KeyValueStorage;
  /** The sweep workers (created on first sweep); absent: the studio cannot sweep. */
  readonly sweep?: () => SweepService;
}
