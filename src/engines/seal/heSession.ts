import { costOfExecution } from '../../core/he/costModel';
import { HepexError, throwIfAborted } from '../../core/model/errors';
import { addOps, zeroOps, type OpCounts } from '../../core/tiling/executionPlan';
import { interpretChunk, type HeBackend, type HeOperands } from '../../core/he/heInterpreter';
import {
  chunksOf,
  orderInputs,
  packChunkInputs,
  unpackOutputs,
  type HeModel,
} from '../../core/he/heModel';
import { operandVectors } from '../../core/he/heSimulator';
import { createCkksContext, type CkksContext } from './ckksContext';
import { dataPrimeValues, planScales, type LayerScales } from './ckksScales';
import { createSealBackend } from './sealBackend';
import type { Seal } from './loadSeal';
import { toError } from './sealErrors';
import {
  SealTracker,
  bytesOfCiphertext,
  bytesOfPlaintext,
  bytesOfSwitchingKeys,
} from './sealTracker';

type Ciphertext = InstanceType<Seal['Ciphertext']>;
type Plaintext = InstanceType<Seal['Plaintext']>;
type ParmsId = InstanceType<Seal['ParmsIdType']>;
type Operand = Ciphertext | Plaintext;

/** Encrypted inputs or outputs: per batch chunk, per tile block (null: not encrypted / constant). */
export interface CipherBatch {
  readonly samples: number;
  readonly chunks: readonly (readonly (Ciphertext | null)[])[];
}

/** Serialized form of a CipherBatch (SEAL's own format, zstd-compressed). */
export interface SerializedBatch {
  readonly samples: number;
  readonly chunks: readonly (readonly (Uint8Array | null)[])[];
}

/** WASM32 caps a worker at 4 GiB; stay well below (NODE-SEAL.md: Node hangs past it). */
export const DEFAULT_MEMORY_BUDGET = 2.5 * 2 ** 30;

export interface SessionOptions {
  /**
   * 'resident': every weight tile encoded once at set-up (fastest inference); 'streamed': each
   * weight tile encoded right before its product and freed after (for models whose encoded
   * weights do not fit the budget). Default: resident when it fits.
   */
  readonly weights?: 'resident' | 'streamed';
  /** Refuse a session whose predicted peak exceeds this many bytes. */
  readonly memoryBudgetBytes?: number;
  readonly signal?: AbortSignal;
  /** fraction in [0, 1] and a short description. */
  readonly onProgress?: (fraction: number, message: string) => void;
}

export interface InferStats {
  readonly ms: number;
  /** Server operations of this inference (the interpreter's counts). */
  readonly ops: OpCounts;
  /** Weight encodes (and encryptions) done during inference when weights are streamed. */
  readonly modelOps: OpCounts;
  /** Largest bytes of live SEAL objects during the inference (keys and model included). */
  readonly peakBytes: number;
  /**
   * Per layer of the plan, summed over chunks: wall time (ms, from the layer's first operation
   * to its inputs freed, on-the-fly weight encodes and cancel-check yields included) and the
   * operations the interpreter counted in it.
   */
  readonly layers: readonly LayerStats[];
}

export interface LayerStats {
  readonly ms: number;
  readonly ops: OpCounts;
}

export interface SessionInfo {
  readonly ringDegree: number;
  readonly coeffModulusBits: readonly number[];
  readonly scaleBits: number;
  readonly depth: number;
  readonly mode: HeModel['mode'];
  readonly tile: { t1: number; t2: number; batch: number };
  readonly rotationSteps: readonly number[];
  /** Galois keys SEAL holds: one per plan step (not the full power-of-two set). */
  readonly galoisKeys: number;
  readonly weightCiphertexts: number;
  readonly weights: 'resident' | 'streamed';
  readonly keyBytes: number;
  readonly modelBytes: number;
  /** Model encoding/encryption and key generation, ms. */
  readonly setupMs: number;
  /** Encodes (and encryptions, encrypted-model mode) of the model operands. */
  readonly setupOps: OpCounts;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * One prepared model on SEAL: context, keys (the secret key never leaves this object), the
 * model's operands encoded (plain-model) or encrypted (encrypted-model) at the level each
 * layer reads them, and the client/server steps around the plan interpreter. Every SEAL object
 * is created through the tracker and deleted by `delete()` (batches by `free`).
 */
export class SealHeSession {
  private readonly tracker = new SealTracker();
  private readonly ctx: CkksContext;
  private readonly parmsIds: ParmsId[] = [];
  private readonly secretKey: InstanceType<Seal['SecretKey']>;
  private readonly encryptor: InstanceType<Seal['Encryptor']>;
  private readonly decryptor: InstanceType<Seal['Decryptor']>;
  private relinKeys: InstanceType<Seal['RelinKeys']> | null = null;
  private galoisKeys: InstanceType<Seal['GaloisKeys']> | null = null;
  private readonly weights: Map<number, Operand>[] = [];
  private readonly biases: Map<number, Operand>[] = [];
  private readonly shifts: (Plaintext | null)[] = [];
  private readonly offsets: (Plaintext | null)[] = [];
  private readonly masks: (Plaintext | null)[] = [];
  private keyBytes = 0;
  private modelBytes = 0;
  private setupMs = 0;
  private readonly setupOps = zeroOps();
  private streamOps = zeroOps();
  private streamed = false;
  private readonly vectors: HeOperands<Float64Array, Float64Array>;
  private deleted = false;
  /** Exact CKKS scales per layer (planScales). */
  private scales: LayerScales[] = [];

  private constructor(
    private readonly seal: Seal,
    readonly model: HeModel,
  ) {
    const t0 = performance.now();
    const t = this.tracker;
    this.vectors = operandVectors(model);
    this.ctx = createCkksContext(seal, model.params);
    try {
      // parms ids of every level: level k has depth + 1 - k data primes.
      let data = this.ctx.context.firstContextData();
      for (let level = 0; level <= model.params.depth; level++) {
        this.parmsIds.push(data.parmsId());
        const next = level < model.params.depth ? data.nextContextData() : null;
        data.delete();
        if (next) data = next;
      }
      this.scales = planScales(model, this.ctx.scale, dataPrimeValues(this.ctx));
      const keygen = new seal.KeyGenerator(this.ctx.context);
      try {
        this.secretKey = t.add(keygen.secretKey());
        const publicKey = t.add(keygen.createPublicKey());
        // Public key for the model owner's operands; the secret key for the client's own
        // inputs (symmetric encryption: ~3x faster than public-key, the data owner holds the key).
        this.encryptor = t.add(new seal.Encryptor(this.ctx.context, publicKey, this.secretKey));
        this.decryptor = t.add(new seal.Decryptor(this.ctx.context, this.secretKey));
        const N = model.params.ringDegree;
        const dataPrimes = model.params.depth + 1;
        const needsRelin =
          model.mode === 'encrypted-model' || model.exec.layers.some((l) => l.quadraticActivation);
        if (needsRelin)
          this.relinKeys = t.add(keygen.createRelinKeys(), bytesOfSwitchingKeys(1, N, dataPrimes));
        const steps = model.exec.rotationSteps;
        if (steps.length) {
          // Keys for exactly the plan's steps: one rotation per step, far less memory than powers of two.
          this.galoisKeys = t.add(
            keygen.createGaloisKeysWithSteps(Int32Array.from(steps)),
            bytesOfSwitchingKeys(steps.length, N, dataPrimes),
          );
        }
        this.keyBytes = t.liveBytes;
      } finally {
        keygen.delete();
      }
    } catch (error) {
      this.delete();
      throw toError(error, 'Creating the CKKS keys');
    }
    this.setupMs = performance.now() - t0;
  }

  /** Context, keys, then every model operand encoded at its level. */
  static async create(
    seal: Seal,
    model: HeModel,
    options: SessionOptions = {},
  ): Promise<SealHeSession> {
    const weights = chooseWeightStorage(model, options);
    const session = new SealHeSession(seal, model);
    session.streamed = weights === 'streamed';
    try {
      await session.encodeModel(options);
    } catch (error) {
      session.delete();
      throw toError(error, 'Encoding the model');
    }
    return session;
  }

  get info(): SessionInfo {
    const { model } = this;
    return {
      ringDegree: model.params.ringDegree,
      coeffModulusBits: model.params.coeffModulusBits,
      scaleBits: model.params.scaleBits,
      depth: model.exec.depth,
      mode: model.mode,
      tile: { t1: model.tile.t1, t2: model.tile.t2, batch: model.tile.batch },
      rotationSteps: model.exec.rotationSteps,
      galoisKeys: this.galoisKeys ? this.galoisKeys.size() : 0,
      weightCiphertexts: model.exec.weightCiphertexts,
      weights: this.streamed ? 'streamed' : 'resident',
      keyBytes: this.keyBytes,
      modelBytes: this.modelBytes,
      setupMs: this.setupMs,
      setupOps: { ...this.setupOps },
    };
  }

  /** Live SEAL objects held by this session (keys, model, batches not yet freed). */
  get liveObjects(): { count: number; bytes: number } {
    return { count: this.tracker.liveCount, bytes: this.tracker.liveBytes };
  }

  private encodePlain(
    values: Float64Array,
    level: number,
    scale: number,
    ops: OpCounts = this.setupOps,
  ): Plaintext {
    const pt = this.tracker.add(new this.seal.Plaintext());
    this.ctx.encoder.encode(values, scale, pt);
    // Encoded at the top level, then dropped to the level where the ciphertext meets it (cheap).
    if (level > 0) this.ctx.evaluator.plainModSwitchToInplace(pt, this.parmsIds[level]);
    this.tracker.resize(pt, bytesOfPlaintext(pt));
    ops.encode++;
    return pt;
  }

  /** A model operand: a plaintext, or in the encrypted-model mode a ciphertext at `level`. */
  private encodeOperand(
    values: Float64Array,
    level: number,
    scale: number,
    ops: OpCounts = this.setupOps,
  ): Operand {
    if (this.model.mode === 'plain-model') return this.encodePlain(values, level, scale, ops);
    const pt = new this.seal.Plaintext();
    try {
      this.ctx.encoder.encode(values, scale, pt);
      ops.encode++;
      const ct = this.tracker.add(new this.seal.Ciphertext());
      this.encryptor.encrypt(pt, ct);
      ops.encrypt++;
      if (level > 0) this.ctx.evaluator.cipherModSwitchToInplace(ct, this.parmsIds[level]);
      this.tracker.resize(ct, bytesOfCiphertext(ct));
      return ct;
    } finally {
      pt.delete();
    }
  }

  private async encodeModel(options: SessionOptions): Promise<void> {
    const t0 = performance.now();
    const { model } = this;
    const vectors = this.vectors;
    const total = model.exec.weightCiphertexts || 1;
    let done = 0;
    let lastYield = performance.now();
    for (let l = 0; l < model.exec.layers.length; l++) {
      const layer = model.exec.layers[l];
      const level = layer.levelIn;
      const weights = new Map<number, Operand>();
      const biases = new Map<number, Operand>();
      this.weights.push(weights);
      this.biases.push(biases);
      for (let k = 0; k < layer.activeTiles.length; k++) {
        if (!layer.activeTiles[k] || this.streamed) continue;
        weights.set(k, this.encodeOperand(vectors.weight(l, k), level, this.ctx.scale));
        done++;
        if (performance.now() - lastYield > 50) {
          options.onProgress?.(done / total, `encoding layer ${l + 1} weights`);
          await yieldToEventLoop();
          throwIfAborted(options.signal);
          lastYield = performance.now();
        }
      }
      // After the product's rescale: bias and shift at level + 1, offset after the square.
      for (let o = 0; o < layer.computedOutputs.length; o++) {
        if (layer.computedOutputs[o])
          biases.set(
            o,
            this.encodeOperand(vectors.bias(l, o), level + 1, this.scales[l].afterProduct),
          );
      }
      const shift = layer.quadraticActivation ? vectors.shift(l) : null;
      const offset = layer.quadraticActivation ? vectors.offset(l) : null;
      const { afterProduct, afterSquare } = this.scales[l];
      this.shifts.push(shift ? this.encodePlain(shift, level + 1, afterProduct) : null);
      this.offsets.push(offset ? this.encodePlain(offset, level + 2, afterSquare) : null);
      const maskLevel = level + 1 + (layer.quadraticActivation ? 1 : 0);
      this.masks.push(
        layer.masked ? this.encodePlain(vectors.mask(l), maskLevel, this.ctx.scale) : null,
      );
    }
    this.modelBytes = this.tracker.liveBytes - this.keyBytes;
    this.setupMs += performance.now() - t0;
    options.onProgress?.(1, 'model ready');
  }

  private operands(): HeOperands<Operand, Plaintext> {
    const need = <T>(value: T | null | undefined, what: string): T => {
      if (value === null || value === undefined)
        throw new HepexError('he-runtime', `The encoded model has no ${what}.`);
      return value;
    };
    return {
      weight: (l, k) =>
        this.streamed
          ? this.encodeOperand(
              this.vectors.weight(l, k),
              this.model.exec.layers[l].levelIn,
              this.ctx.scale,
              this.streamOps,
            )
          : need(this.weights[l].get(k), `weight tile ${k} of layer ${l + 1}`),
      releaseWeight: (_l, _k, w) => {
        if (this.streamed) this.tracker.delete(w);
      },
      bias: (l, o) => need(this.biases[l].get(o), `bias block ${o} of layer ${l + 1}`),
      shift: (l) => this.shifts[l],
      offset: (l) => this.offsets[l],
      mask: (l) => need(this.masks[l], `mask of layer ${l + 1}`),
    };
  }

  private backend(): HeBackend<Ciphertext, Operand, Plaintext> {
    return createSealBackend({
      seal: this.seal,
      evaluator: this.ctx.evaluator,
      tracker: this.tracker,
      encryptedModel: this.model.mode === 'encrypted-model',
      relinKeys: () => this.relinKeys,
      galoisKeys: () => this.galoisKeys,
    });
  }

  /** Client: orders, packs, encodes and encrypts the inputs (samples x inputs). */
  encrypt(inputs: Float32Array, samples: number, ops: OpCounts = zeroOps()): CipherBatch {
    this.assertAlive();
    const ordered = orderInputs(this.model, inputs, samples);
    const chunks: (Ciphertext | null)[][] = [];
    const pt = new this.seal.Plaintext();
    try {
      for (const chunk of chunksOf(this.model, samples)) {
        const blocks: (Ciphertext | null)[] = [];
        chunks.push(blocks);
        for (const values of packChunkInputs(this.model, ordered, chunk)) {
          if (!values) {
            blocks.push(null);
            continue;
          }
          this.ctx.encoder.encode(values, this.ctx.scale, pt);
          ops.encode++;
          const ct = this.tracker.add(new this.seal.Ciphertext());
          blocks.push(ct);
          this.encryptor.encryptSymmetric(pt, ct);
          ops.encrypt++;
          this.tracker.resize(ct, bytesOfCiphertext(ct));
        }
      }
    } catch (error) {
      this.free({ chunks });
      throw toError(error, 'Encrypting the inputs');
    } finally {
      pt.delete();
    }
    return { samples, chunks };
  }

  /** Server: runs the plan on every chunk. The input batch stays owned by the caller. */
  async infer(
    batch: CipherBatch,
    options: SessionOptions = {},
  ): Promise<{ result: CipherBatch; stats: InferStats }> {
    this.assertAlive();
    this.checkBatchShape(batch);
    const ops = zeroOps();
    this.streamOps = zeroOps();
    const backend = this.backend();
    const operands = this.operands();
    const chunks: (Ciphertext | null)[][] = [];
    const layers = this.model.exec.layers.map(() => ({ ms: 0, ops: zeroOps() }));
    const t0 = performance.now();
    let lastYield = t0;
    const nChunks = batch.chunks.length;
    try {
      for (let k = 0; k < nChunks; k++) {
        const out = await interpretChunk(this.model, backend, operands, batch.chunks[k], ops, {
          signal: options.signal,
          onBlock: (done, total) =>
            options.onProgress?.((k + done / total) / nChunks, `chunk ${k + 1}/${nChunks}`),
          // Let a worker receive a cancel message between tiles, at most every ~30 ms.
          yieldNow: async () => {
            if (performance.now() - lastYield < 30) return;
            await yieldToEventLoop();
            lastYield = performance.now();
          },
          now: () => performance.now(),
          onLayer: (l, ms, layerOps) => {
            layers[l].ms += ms;
            addOps(layers[l].ops, layerOps);
          },
        });
        chunks.push(out);
      }
    } catch (error) {
      this.free({ chunks });
      throw toError(error, 'Encrypted inference');
    }
    return {
      result: { samples: batch.samples, chunks },
      stats: {
        ms: performance.now() - t0,
        ops,
        modelOps: this.streamOps,
        peakBytes: this.tracker.peakBytes,
        layers,
      },
    };
  }

  /** Client: decrypts, decodes, unpacks and undoes the output order: samples x outputs. */
  decrypt(result: CipherBatch, ops: OpCounts = zeroOps()): Float32Array {
    this.assertAlive();
    const pt = new this.seal.Plaintext();
    try {
      const decoded = result.chunks.map((blocks) =>
        blocks.map((ct) => {
          if (!ct) return null;
          this.decryptor.decrypt(ct, pt);
          ops.decrypt++;
          const values = this.ctx.encoder.decodeFloat64(pt) as Float64Array;
          ops.decode++;
          return values;
        }),
      );
      return unpackOutputs(this.model, decoded, result.samples);
    } catch (error) {
      throw toError(error, 'Decrypting the outputs');
    } finally {
      pt.delete();
    }
  }

  /** Starts a peak-memory measurement from what is live now. */
  resetPeak(): void {
    this.tracker.resetPeak();
  }

  /** The peak since the last reset (bytes of live SEAL objects). */
  get peakBytes(): number {
    return this.tracker.peakBytes;
  }

  /** Deletes a batch's ciphertexts. */
  free(batch: { chunks: readonly (readonly (Ciphertext | null)[])[] }): void {
    for (const blocks of batch.chunks) for (const ct of blocks) this.tracker.delete(ct);
  }

  /** What a client uploads: the input ciphertexts serialized (zstd). */
  serialize(batch: CipherBatch): SerializedBatch {
    this.assertAlive();
    try {
      return {
        samples: batch.samples,
        chunks: batch.chunks.map((blocks) =>
          blocks.map((ct) =>
            ct ? (ct.saveToArray(this.seal.ComprModeType.zstd) as Uint8Array) : null,
          ),
        ),
      };
    } catch (error) {
      throw toError(error, 'Serializing ciphertexts');
    }
  }

  /**
   * The server's side of an upload: loads input ciphertexts, checking they fit the plan and
   * these parameters. A corrupted blob is a `he-runtime` error and nothing is kept.
   */
  deserialize(serialized: SerializedBatch): CipherBatch {
    this.assertAlive();
    const expected = chunksOf(this.model, serialized.samples);
    const live = this.model.exec.layers[0].liveInputs;
    if (serialized.chunks.length !== expected.length) {
      throw new HepexError(
        'invalid-argument',
        `${serialized.samples} samples need ${expected.length} chunks of ciphertexts, got ${serialized.chunks.length}.`,
      );
    }
    const chunks: (Ciphertext | null)[][] = [];
    const dataPrimes = this.model.params.depth + 1;
    try {
      for (const blocks of serialized.chunks) {
        if (blocks.length !== live.length) {
          throw new HepexError(
            'invalid-argument',
            `Each chunk needs ${live.length} input blocks, got ${blocks.length}.`,
          );
        }
        const loaded: (Ciphertext | null)[] = [];
        chunks.push(loaded);
        blocks.forEach((bytes, i) => {
          if (!live[i]) {
            loaded.push(null);
            return;
          }
          if (!bytes)
            throw new HepexError('invalid-argument', `Input block ${i} is needed but missing.`);
          const ct = this.tracker.add(new this.seal.Ciphertext());
          loaded.push(ct);
          try {
            ct.loadFromArray(this.ctx.context, bytes);
          } catch (error) {
            throw toError(
              error,
              `Input ciphertext ${i} is corrupted or was made with other parameters`,
            );
          }
          if (
            ct.size() !== 2 ||
            ct.coeffModulusSize() !== dataPrimes ||
            ct.polyModulusDegree() !== this.model.params.ringDegree
          ) {
            throw new HepexError(
              'he-runtime',
              `Input ciphertext ${i} does not match this model's encryption parameters.`,
            );
          }
          this.tracker.resize(ct, bytesOfCiphertext(ct));
        });
      }
    } catch (error) {
      this.free({ chunks });
      throw toError(error, 'Loading ciphertexts');
    }
    return { samples: serialized.samples, chunks };
  }

  /** The evaluation keys a client would upload (no secret key): relinearization and Galois. */
  exportEvaluationKeys(): { relin: Uint8Array | null; galois: Uint8Array | null } {
    this.assertAlive();
    const none = this.seal.ComprModeType.none;
    return {
      relin: this.relinKeys ? (this.relinKeys.saveToArray(none) as Uint8Array) : null,
      galois: this.galoisKeys ? (this.galoisKeys.saveToArray(none) as Uint8Array) : null,
    };
  }

  /** Replaces the evaluation keys from uploaded blobs; on a bad blob the old keys stay. */
  importEvaluationKeys(blobs: { relin: Uint8Array | null; galois: Uint8Array | null }): void {
    this.assertAlive();
    const N = this.model.params.ringDegree;
    const dataPrimes = this.model.params.depth + 1;
    const steps = this.model.exec.rotationSteps;
    let relin: InstanceType<Seal['RelinKeys']> | null = null;
    let galois: InstanceType<Seal['GaloisKeys']> | null = null;
    try {
      if (blobs.relin) {
        relin = new this.seal.RelinKeys();
        relin.loadFromArray(this.ctx.context, blobs.relin);
      }
      if (blobs.galois) {
        galois = new this.seal.GaloisKeys();
        galois.loadFromArray(this.ctx.context, blobs.galois);
        if (galois.size() < steps.length) {
          throw new HepexError(
            'he-runtime',
            `The rotation keys cover ${galois.size()} steps; this model needs ${steps.length}.`,
          );
        }
      }
    } catch (error) {
      relin?.delete();
      galois?.delete();
      throw toError(
        error,
        'The evaluation key blob is corrupted or was made with other parameters',
      );
    }
    if (relin) {
      this.tracker.delete(this.relinKeys);
      this.relinKeys = this.tracker.add(relin, bytesOfSwitchingKeys(1, N, dataPrimes));
    }
    if (galois) {
      this.tracker.delete(this.galoisKeys);
      this.galoisKeys = this.tracker.add(galois, bytesOfSwitchingKeys(steps.length, N, dataPrimes));
    }
  }

  delete(): void {
    if (this.deleted) return;
    this.deleted = true;
    this.tracker.deleteAll();
    for (const id of this.parmsIds) id.delete();
    this.parmsIds.length = 0;
    this.ctx?.delete();
  }

  private assertAlive(): void {
    if (this.deleted) throw new HepexError('he-runtime', 'This HE session was closed.');
  }

  private checkBatchShape(batch: CipherBatch): void {
    const expected = chunksOf(this.model, batch.samples).length;
    if (batch.chunks.length !== expected) {
      throw new HepexError(
        'invalid-argument',
        `${batch.samples} samples need ${expected} chunks, got ${batch.chunks.length}.`,
      );
    }
  }
}

/** Resident or streamed weights for a model, or an out-of-memory error with the numbers. */
export function chooseWeightStorage(
  model: HeModel,
  options: SessionOptions = {},
): 'resident' | 'streamed' {
  const budget = options.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET;
  const total = costOfExecution(model.exec).total;
  const resident = total.peakBytes;
  const streamed =
    total.keyBytes + total.inputBytes + total.workingSetBytes + total.streamedModelBytes;
  const choice = options.weights ?? (resident <= budget ? 'resident' : 'streamed');
  const need = choice === 'resident' ? resident : streamed;
  if (need > budget) {
    const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
    throw new HepexError(
      'out-of-memory',
      `This model needs about ${gib(need)} of encryption memory with ${choice} weights (ring degree ${model.params.ringDegree}, ${model.exec.weightCiphertexts} weight tiles), above the ${gib(budget)} budget. Prune more tiles, use a smaller tile or a shallower network.`,
    );
  }
  return choice;
}
