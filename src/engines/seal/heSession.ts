import type { HeModel } from '../../core/he/heModel';
import { zeroOps, type OpCounts } from '../../core/tiling/executionPlan';
import { HeClientSide } from './heClientSide';
import { HeServerSide } from './heServerSide';
import type { Seal } from './loadSeal';
import { toError } from './sealErrors';
import { SessionContext } from './sessionContext';
import {
  chooseWeightStorage,
  type CipherBatch,
  type InferStats,
  type SerializedBatch,
  type SessionInfo,
  type SessionOptions,
} from './sessionTypes';

export * from './sessionTypes';

/**
 * One prepared model on SEAL, both sides in one place: the client side (keys; the secret key
 * never leaves it; encrypt, decrypt) and the server side (the encoded model, evaluation keys,
 * the plan interpreter), over one shared context whose tracker owns every SEAL object. The
 * worker and the CLI use it as one session; the two sides are what a worker pool splits apart.
 * `delete()` frees everything, `free` a batch.
 */
export class SealHeSession {
  private readonly context: SessionContext;
  private readonly client: HeClientSide;
  private readonly server: HeServerSide;
  private readonly setupMs: number;

  private constructor(
    context: SessionContext,
    client: HeClientSide,
    server: HeServerSide,
    setupMs: number,
  ) {
    this.context = context;
    this.client = client;
    this.server = server;
    this.setupMs = setupMs;
  }

  /** Context, keys, then every model operand encoded at its level. */
  static async create(
    seal: Seal,
    model: HeModel,
    options: SessionOptions = {},
  ): Promise<SealHeSession> {
    const weights = chooseWeightStorage(model, options);
    const t0 = performance.now();
    let context: SessionContext;
    try {
      context = new SessionContext(seal, model);
    } catch (error) {
      throw toError(error, 'Creating the CKKS context');
    }
    let client: HeClientSide;
    try {
      client = new HeClientSide(context);
    } catch (error) {
      context.delete();
      throw toError(error, 'Creating the CKKS keys');
    }
    const server = new HeServerSide(
      context,
      client.evaluationKeys,
      client.publicEncryptor,
      weights === 'streamed',
    );
    try {
      await server.encodeModel(options);
    } catch (error) {
      context.delete();
      throw toError(error, 'Encoding the model');
    }
    return new SealHeSession(context, client, server, performance.now() - t0);
  }

  get model(): HeModel {
    return this.context.model;
  }

  get info(): SessionInfo {
    const { model } = this.context;
    return {
      ringDegree: model.params.ringDegree,
      coeffModulusBits: model.params.coeffModulusBits,
      scaleBits: model.params.scaleBits,
      depth: model.exec.depth,
      mode: model.mode,
      tile: { t1: model.tile.t1, t2: model.tile.t2, batch: model.tile.batch },
      rotationSteps: model.exec.rotationSteps,
      galoisKeys: this.server.galoisKeyCount,
      weightCiphertexts: model.exec.weightCiphertexts,
      weights: this.server.streamed ? 'streamed' : 'resident',
      keyBytes: this.client.keyBytes,
      modelBytes: this.server.modelBytes,
      setupMs: this.setupMs,
      setupOps: { ...this.server.setupOps },
    };
  }

  /** Live SEAL objects held by this session (keys, model, batches not yet freed). */
  get liveObjects(): { count: number; bytes: number } {
    return { count: this.context.tracker.liveCount, bytes: this.context.tracker.liveBytes };
  }

  /** Client: orders, packs, encodes and encrypts the inputs (samples x inputs). */
  encrypt(inputs: Float32Array, samples: number, ops: OpCounts = zeroOps()): CipherBatch {
    this.context.assertAlive();
    return this.client.encrypt(inputs, samples, ops);
  }

  /** Server: runs the plan on every chunk. The input batch stays owned by the caller. */
  infer(
    batch: CipherBatch,
    options: SessionOptions = {},
  ): Promise<{ result: CipherBatch; stats: InferStats }> {
    this.context.assertAlive();
    return this.server.infer(batch, options);
  }

  /** Client: decrypts, decodes, unpacks and undoes the output order: samples x outputs. */
  decrypt(result: CipherBatch, ops: OpCounts = zeroOps()): Float32Array {
    this.context.assertAlive();
    return this.client.decrypt(result, ops);
  }

  /** Starts a peak-memory measurement from what is live now. */
  resetPeak(): void {
    this.context.tracker.resetPeak();
  }

  /** The peak since the last reset (bytes of live SEAL objects). */
  get peakBytes(): number {
    return this.context.tracker.peakBytes;
  }

  /** Deletes a batch's ciphertexts. */
  free(batch: { chunks: readonly (readonly (unknown | null)[])[] }): void {
    this.context.free(batch);
  }

  /** Client: what it uploads, the input ciphertexts serialized (zstd). */
  serialize(batch: CipherBatch): SerializedBatch {
    this.context.assertAlive();
    return this.client.serialize(batch);
  }

  /** Server: loads uploaded ciphertexts (validated: a corrupted blob is refused, nothing kept). */
  deserialize(serialized: SerializedBatch): CipherBatch {
    this.context.assertAlive();
    return this.server.deserialize(serialized);
  }

  /** The evaluation keys a client uploads (no secret key): relinearization and Galois. */
  exportEvaluationKeys(): { relin: Uint8Array | null; galois: Uint8Array | null } {
    this.context.assertAlive();
    return this.server.exportEvaluationKeys();
  }

  /** Server: replaces the evaluation keys from uploaded blobs; on a bad blob the old keys stay. */
  importEvaluationKeys(blobs: { relin: Uint8Array | null; galois: Uint8Array | null }): void {
    this.context.assertAlive();
    this.server.importEvaluationKeys(blobs);
  }

  delete(): void {
    this.context.delete();
  }
}
