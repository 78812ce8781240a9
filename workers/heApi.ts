import { transfer } from 'comlink';
import { REFERENCE_TIMINGS, type OpTimingTable } from '../src/core/he/costModel';
import { HepexError } from '../src/core/model/errors';
import type { HeMode } from '../src/core/tiling/executionPlan';
import { chooseHeTile, prepareHeModel } from '../src/core/he/heModel';
import type { Network } from '../src/core/model/network';
import type { NetworkPermutation } from '../src/core/model/permutation';
import {
  DEFAULT_FIRST_ORIENTATION,
  type Orientation,
  type RingDegree,
} from '../src/core/tiling/tileShape';
import { calibrate } from '../src/engines/seal/calibrate';
import { runHeInference, type HeInferenceReport } from '../src/engines/seal/heInference';
import {
  SealHeSession,
  type CipherBatch,
  type InferStats,
  type SerializedBatch,
  type SessionInfo,
} from '../src/engines/seal/heSession';
import type { PoolWorker } from '../src/engines/seal/hePool';
import type { LoadedSeal } from '../src/engines/seal/loadSeal';
import { toError } from '../src/engines/seal/sealErrors';
import { sealSelfTest, type SealSelfTest } from '../src/engines/seal/selfTest';
import {
  inferEncryptedOnPool,
  type PoolInferenceSummary,
} from '../src/engines/seal/hePoolInference';
import { checkWorkerCount } from '../src/core/he/poolPlan';

/**
 * The HE worker's API (what he.worker.ts exposes over comlink), built from what differs between
 * realms: how node-seal is loaded and how pool members are started. The browser worker passes
 * its Vite-aware loader and nested Web Workers; Node tests pass the plain loader and worker
 * threads, so every exposed method can be exercised over a real comlink channel.
 */
export interface HeApiDeps {
  readonly loadSeal: () => Promise<LoadedSeal>;
  readonly spawnPoolWorkers: (count: number) => PoolWorker[];
  /** Label of the calibration's source ('this browser'). */
  readonly runtime?: string;
}

export interface HeEngineInfo extends SealSelfTest {
  /** WebAssembly heap of the worker, bytes (never shrinks). */
  readonly heapBytes: number | undefined;
}

export type ProgressCallback = (fraction: number, message: string) => void;

export interface SessionRequest {
  readonly network: Network;
  /**
   * first: layer 0's orientation, as the model was pruned for (default DEFAULT_FIRST_ORIENTATION);
   * ringDegree: the least ring degree to use (the studio's choice); a larger one is used when the
   * depth needs it (SessionInfo says which).
   */
  readonly tile: {
    readonly t1: number;
    readonly t2: number;
    readonly first?: Orientation;
    readonly ringDegree?: RingDegree;
  };
  readonly mode: HeMode;
  readonly permutation?: NetworkPermutation;
  readonly weights?: 'resident' | 'streamed';
}

export function createHeApi(deps: HeApiDeps) {
  const sessions = new Map<number, { session: SealHeSession; network: Network }>();
  const batches = new Map<number, { sessionId: number; batch: CipherBatch }>();
  const jobs = new Map<number, AbortController>();
  let nextId = 1;

  async function guarded<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw toError(error, what);
    }
  }

  async function seal() {
    return (await deps.loadSeal()).seal;
  }

  function sessionOf(id: number) {
    const entry = sessions.get(id);
    if (!entry)
      throw new HepexError(
        'he-runtime',
        `HE session ${id} does not exist (closed, or the worker was restarted).`,
      );
    return entry;
  }

  function batchOf(id: number, sessionId: number): CipherBatch {
    const entry = batches.get(id);
    if (!entry || entry.sessionId !== sessionId)
      throw new HepexError('he-runtime', `Ciphertext batch ${id} does not exist.`);
    return entry.batch;
  }

  function keepBatch(sessionId: number, batch: CipherBatch): number {
    const id = nextId++;
    batches.set(id, { sessionId, batch });
    return id;
  }

  /** Runs a cancellable job; progress is throttled to ~10 messages a second. */
  async function job<T>(
    jobId: number | undefined,
    onProgress: ProgressCallback | undefined,
    fn: (signal: AbortSignal, progress: ProgressCallback) => Promise<T>,
  ): Promise<T> {
    const controller = new AbortController();
    if (jobId !== undefined) jobs.set(jobId, controller);
    let last = 0;
    const progress: ProgressCallback = (fraction, message) => {
      const now = performance.now();
      if (!onProgress || (now - last < 100 && fraction < 1)) return;
      last = now;
      void onProgress(fraction, message);
    };
    try {
      return await fn(controller.signal, progress);
    } finally {
      if (jobId !== undefined) jobs.delete(jobId);
    }
  }

  const api = {
    /** Loads SEAL (once) and round-trips a vector at `ringDegree`. */
    selfTest(ringDegree: RingDegree = 8192): Promise<HeEngineInfo> {
      return guarded('The HE self-test', async () => {
        const { seal: s, memory } = await deps.loadSeal();
        const result = sealSelfTest(s, ringDegree);
        return { ...result, heapBytes: memory?.buffer.byteLength };
      });
    },

    /** Times each primitive in this browser: the cost model's timing table. */
    calibrate(
      ringDegree: RingDegree,
      depth: number,
      jobId?: number,
      onProgress?: ProgressCallback,
    ): Promise<OpTimingTable> {
      return guarded('Calibration', () =>
        job(jobId, onProgress, async (signal, progress) =>
          calibrate(await seal(), ringDegree, {
            depth,
            signal,
            runtime: deps.runtime ?? 'this browser',
            onProgress: (f, op) => progress(f, `timing ${op}`),
          }),
        ),
      );
    },

    /** Keys + the model encoded for HE. Returns the session id and its figures. */
    createSession(
      request: SessionRequest,
      jobId?: number,
      onProgress?: ProgressCallback,
    ): Promise<{ sessionId: number; info: SessionInfo }> {
      return guarded('Preparing the model for HE', () =>
        job(jobId, onProgress, async (signal, progress) => {
          const tile = chooseHeTile(request.network, request.tile, request.tile.ringDegree);
          const model = prepareHeModel(request.network, tile, {
            mode: request.mode,
            permutation: request.permutation,
          });
          const session = await SealHeSession.create(await seal(), model, {
            signal,
            onProgress: progress,
            weights: request.weights,
          });
          const sessionId = nextId++;
          sessions.set(sessionId, { session, network: request.network });
          return { sessionId, info: session.info };
        }),
      );
    },

    /** Client side: encrypts samples x inputs; the ciphertexts stay in the worker. */
    encrypt(
      sessionId: number,
      inputs: Float32Array,
      samples: number,
    ): Promise<{ batchId: number; ciphertexts: number }> {
      return guarded('Encrypting', () => {
        const { session } = sessionOf(sessionId);
        const batch = session.encrypt(inputs, samples);
        return {
          batchId: keepBatch(sessionId, batch),
          ciphertexts: batch.chunks.flat().filter(Boolean).length,
        };
      });
    },

    /** Server side: runs the plan on an encrypted batch. */
    infer(
      sessionId: number,
      batchId: number,
      jobId?: number,
      onProgress?: ProgressCallback,
    ): Promise<{ resultId: number; stats: InferStats }> {
      return guarded('Encrypted inference', () =>
        job(jobId, onProgress, async (signal, progress) => {
          const { session } = sessionOf(sessionId);
          const { result, stats } = await session.infer(batchOf(batchId, sessionId), {
            signal,
            onProgress: progress,
          });
          return { resultId: keepBatch(sessionId, result), stats };
        }),
      );
    },

    /** Client side: decrypts a result into samples x outputs. */
    decrypt(sessionId: number, resultId: number): Promise<Float32Array> {
      return guarded('Decrypting', () => {
        const y = sessionOf(sessionId).session.decrypt(batchOf(resultId, sessionId));
        return transfer(y, [y.buffer]);
      });
    },

    /**
     * Encrypt, infer, decrypt, compare with the plaintext forward pass; frees its ciphertexts.
     * `timings`: the tables the prediction uses (the page's calibrated ones), default reference.
     */
    run(
      sessionId: number,
      inputs: Float32Array,
      samples: number,
      jobId?: number,
      onProgress?: ProgressCallback,
      timings?: readonly OpTimingTable[],
    ): Promise<HeInferenceReport> {
      return guarded('Encrypted inference', () =>
        job(jobId, onProgress, async (signal, progress) => {
          const { session, network } = sessionOf(sessionId);
          return runHeInference(session, network, inputs, samples, {
            signal,
            onProgress: progress,
            ...(timings ? { timings } : {}),
          });
        }),
      );
    },

    /**
     * Encrypted inference on a pool of `workers` HE workers this worker starts (it stays the
     * client: keys, encrypt, decrypt); they end with the run. Outputs and the pool's figures.
     */
    runOnPool(
      request: SessionRequest,
      inputs: Float32Array,
      samples: number,
      workers: number,
      jobId?: number,
      onProgress?: ProgressCallback,
      timings?: readonly OpTimingTable[],
    ): Promise<{ summary: PoolInferenceSummary; outputs: Float32Array }> {
      return guarded('Encrypted inference on the HE pool', () =>
        job(jobId, onProgress, async (signal, progress) => {
          const { t1, t2, first, ringDegree } = request.tile;
          return inferEncryptedOnPool(
            await seal(),
            { name: 'shown', network: request.network, permutation: request.permutation },
            inputs,
            samples,
            deps.spawnPoolWorkers(checkWorkerCount(workers)),
            {
              mode: request.mode,
              tile: { t1, t2, first: first ?? DEFAULT_FIRST_ORIENTATION },
              ringDegree: ringDegree ?? undefined,
              timingTables: timings ?? REFERENCE_TIMINGS,
              signal,
              onProgress: progress,
            },
          );
        }),
      );
    },

    /** What a client would upload: the batch's ciphertexts, serialized. */
    exportBatch(sessionId: number, batchId: number): Promise<SerializedBatch> {
      return guarded('Serializing', () =>
        sessionOf(sessionId).session.serialize(batchOf(batchId, sessionId)),
      );
    },

    /** Loads uploaded ciphertexts (validated: a corrupted blob is a clear error, nothing kept). */
    importBatch(sessionId: number, serialized: SerializedBatch): Promise<number> {
      return guarded('Loading ciphertexts', () =>
        keepBatch(sessionId, sessionOf(sessionId).session.deserialize(serialized)),
      );
    },

    /** The evaluation keys (relinearization, rotations) a client uploads; never the secret key. */
    exportEvaluationKeys(
      sessionId: number,
    ): Promise<{ relin: Uint8Array | null; galois: Uint8Array | null }> {
      return guarded('Exporting the evaluation keys', () =>
        sessionOf(sessionId).session.exportEvaluationKeys(),
      );
    },

    /** Replaces a session's evaluation keys from blobs; a corrupted blob leaves the old keys. */
    importEvaluationKeys(
      sessionId: number,
      blobs: { relin: Uint8Array | null; galois: Uint8Array | null },
    ): Promise<void> {
      return guarded('Loading the evaluation keys', () =>
        sessionOf(sessionId).session.importEvaluationKeys(blobs),
      );
    },

    freeBatch(batchId: number): Promise<void> {
      return guarded('Freeing ciphertexts', () => {
        const entry = batches.get(batchId);
        if (!entry) return;
        batches.delete(batchId);
        sessions.get(entry.sessionId)?.session.free(entry.batch);
      });
    },

    closeSession(sessionId: number): Promise<void> {
      return guarded('Closing the session', () => {
        const entry = sessions.get(sessionId);
        if (!entry) return;
        for (const [id, b] of batches) {
          if (b.sessionId === sessionId) {
            entry.session.free(b.batch);
            batches.delete(id);
          }
        }
        entry.session.delete();
        sessions.delete(sessionId);
      });
    },

    /** Stops a running job between tiles (it rejects with a `cancelled` error). */
    cancel(jobId: number): void {
      jobs.get(jobId)?.abort();
    },

    /** Live sessions, batches and SEAL objects (tests check nothing is left behind). */
    async usage(): Promise<{
      sessions: number;
      batches: number;
      liveObjects: number;
      liveBytes: number;
      heapBytes: number | undefined;
    }> {
      const { memory } = await deps.loadSeal();
      let liveObjects = 0;
      let liveBytes = 0;
      for (const { session } of sessions.values()) {
        liveObjects += session.liveObjects.count;
        liveBytes += session.liveObjects.bytes;
      }
      return {
        sessions: sessions.size,
        batches: batches.size,
        liveObjects,
        liveBytes,
        heapBytes: memory?.buffer.byteLength,
      };
    },
  };
  return api;
}

export type HeApi = ReturnType<typeof createHeApi>;
