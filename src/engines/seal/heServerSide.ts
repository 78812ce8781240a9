import { interpretChunk, type HeBackend, type HeOperands } from '../../core/he/heInterpreter';
import { chunksOf } from '../../core/he/heModel';
import { operandVectors } from '../../core/he/heSimulator';
import { HepexError, throwIfAborted } from '../../core/model/errors';
import { addOps, zeroOps, type OpCounts } from '../../core/tiling/executionPlan';
import type { EvaluationKeys } from './heClientSide';
import type { Seal } from './loadSeal';
import { createSealBackend } from './sealBackend';
import { toError } from './sealErrors';
import { bytesOfCiphertext, bytesOfPlaintext, bytesOfSwitchingKeys } from './sealTracker';
import type { SessionContext } from './sessionContext';
import type { CipherBatch, InferStats, SerializedBatch, SessionOptions } from './sessionTypes';

type Ciphertext = InstanceType<Seal['Ciphertext']>;

/** Which weight tiles a server multiplies and which output blocks it finishes. */
export interface ServerShare {
  tile(layer: number, tileIndex: number): boolean;
  block(layer: number, outBlock: number): boolean;
}
const ALL: ServerShare = { tile: () => true, block: () => true };
type Plaintext = InstanceType<Seal['Plaintext']>;
type Operand = Ciphertext | Plaintext;

const yieldToEventLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * The server's side of a session: the model's operands encoded (plain-model) or encrypted with
 * the public key (encrypted-model) at the level each layer reads them, the evaluation keys, and
 * the plan interpreter on uploaded ciphertexts. It never holds the secret key.
 */
export class HeServerSide {
  private readonly weights: Map<number, Operand>[] = [];
  private readonly biases: Map<number, Operand>[] = [];
  private readonly shifts: (Plaintext | null)[] = [];
  private readonly offsets: (Plaintext | null)[] = [];
  private readonly masks: (Plaintext | null)[] = [];
  private relinKeys: EvaluationKeys['relin'];
  private galoisKeys: EvaluationKeys['galois'];
  private readonly vectors: HeOperands<Float64Array, Float64Array>;
  private streamOps = zeroOps();
  /** Encodes (and encryptions, encrypted-model mode) of the model operands at set-up. */
  readonly setupOps = zeroOps();
  modelBytes = 0;

  constructor(
    private readonly c: SessionContext,
    keys: EvaluationKeys,
    /** Encrypts a model owner's operands (encrypted-model mode): public key only. */
    private readonly operandEncryptor: InstanceType<Seal['Encryptor']>,
    readonly streamed: boolean,
    /**
     * What this server computes (a pool member's share): the weight tiles it multiplies and the
     * output blocks it finishes (bias and beyond). Only those operands are encoded. Default: all.
     */
    private readonly owns: ServerShare = ALL,
  ) {
    this.relinKeys = keys.relin;
    this.galoisKeys = keys.galois;
    this.vectors = operandVectors(c.model);
  }

  get galoisKeyCount(): number {
    return this.galoisKeys ? this.galoisKeys.size() : 0;
  }

  private encodePlain(
    values: Float64Array,
    level: number,
    scale: number,
    ops: OpCounts = this.setupOps,
  ): Plaintext {
    const { seal, ctx, tracker, parmsIds } = this.c;
    const pt = tracker.add(new seal.Plaintext());
    ctx.encoder.encode(values, scale, pt);
    // Encoded at the top level, then dropped to the level where the ciphertext meets it (cheap).
    if (level > 0) {
      ctx.evaluator.plainModSwitchToInplace(pt, parmsIds[level]);
      // SEAL keeps a switched plaintext's top-level allocation (N x all data primes): give the
      // rest back, or a weight at level k holds (depth + 1) / (depth + 1 - k) times the bytes
      // it uses (measured at N = 16384, depth 8, level 7: 1.10 MiB each instead of 0.40).
      pt.shrinkToFit();
    }
    tracker.resize(pt, bytesOfPlaintext(pt));
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
    const { seal, ctx, tracker, parmsIds, model } = this.c;
    if (model.mode === 'plain-model') return this.encodePlain(values, level, scale, ops);
    const pt = tracker.add(new seal.Plaintext());
    try {
      ctx.encoder.encode(values, scale, pt);
      ops.encode++;
      // Encrypted AT the level the layer reads it (SEAL encrypts a plaintext at its own level):
      // a ciphertext of exactly that size, made in (p + 1) / (P + 1) of a top-level encryption's
      // time for p of P primes. Encrypting at the top and switching down instead kept the
      // top-level allocation (2.9 MiB per level-7 weight at N = 16384, depth 8, against 0.6)
      // and paid for the full encryption.
      if (level > 0) ctx.evaluator.plainModSwitchToInplace(pt, parmsIds[level]);
      const ct = tracker.add(new seal.Ciphertext());
      this.operandEncryptor.encrypt(pt, ct);
      ops.encrypt++;
      tracker.resize(ct, bytesOfCiphertext(ct));
      return ct;
    } finally {
      tracker.delete(pt);
    }
  }

  /** Every model operand encoded at its level (weight tiles only when resident). */
  async encodeModel(options: SessionOptions): Promise<void> {
    const { model, ctx, scales, tracker } = this.c;
    const before = tracker.liveBytes;
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
        if (!this.owns.tile(l, k)) continue;
        weights.set(k, this.encodeOperand(vectors.weight(l, k), level, ctx.scale));
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
        if (layer.computedOutputs[o] && this.owns.block(l, o))
          biases.set(o, this.encodeOperand(vectors.bias(l, o), level + 1, scales[l].afterProduct));
      }
      const shift = layer.quadraticActivation ? vectors.shift(l) : null;
      const offset = layer.quadraticActivation ? vectors.offset(l) : null;
      const { afterProduct, afterSquare } = scales[l];
      this.shifts.push(shift ? this.encodePlain(shift, level + 1, afterProduct) : null);
      this.offsets.push(offset ? this.encodePlain(offset, level + 2, afterSquare) : null);
      const maskLevel = level + 1 + (layer.quadraticActivation ? 1 : 0);
      this.masks.push(
        layer.masked ? this.encodePlain(vectors.mask(l), maskLevel, ctx.scale) : null,
      );
    }
    this.modelBytes = tracker.liveBytes - before;
    options.onProgress?.(1, 'model ready');
  }

  /** The interpreter's backend and operands over this server's SEAL objects (a pool member's). */
  tools(): {
    backend: HeBackend<Ciphertext, Operand, Plaintext>;
    operands: HeOperands<Operand, Plaintext>;
  } {
    this.streamOps = zeroOps();
    return { backend: this.backend(), operands: this.operands() };
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
              this.c.model.exec.layers[l].levelIn,
              this.c.ctx.scale,
              this.streamOps,
            )
          : need(this.weights[l].get(k), `weight tile ${k} of layer ${l + 1}`),
      releaseWeight: (_l, _k, w) => {
        if (this.streamed) this.c.tracker.delete(w);
      },
      bias: (l, o) => need(this.biases[l].get(o), `bias block ${o} of layer ${l + 1}`),
      shift: (l) => this.shifts[l],
      offset: (l) => this.offsets[l],
      mask: (l) => need(this.masks[l], `mask of layer ${l + 1}`),
    };
  }

  private backend(): HeBackend<Ciphertext, Operand, Plaintext> {
    return createSealBackend({
      seal: this.c.seal,
      evaluator: this.c.ctx.evaluator,
      tracker: this.c.tracker,
      encryptedModel: this.c.model.mode === 'encrypted-model',
      relinKeys: () => this.relinKeys,
      galoisKeys: () => this.galoisKeys,
    });
  }

  /** Runs the plan on every chunk. The input batch stays owned by the caller. */
  async infer(
    batch: CipherBatch,
    options: SessionOptions = {},
  ): Promise<{ result: CipherBatch; stats: InferStats }> {
    const { model, tracker } = this.c;
    this.c.checkBatchShape(batch);
    const ops = zeroOps();
    this.streamOps = zeroOps();
    const backend = this.backend();
    const operands = this.operands();
    const chunks: (Ciphertext | null)[][] = [];
    const layers = model.exec.layers.map(() => ({ ms: 0, ops: zeroOps() }));
    const t0 = performance.now();
    let lastYield = t0;
    const nChunks = batch.chunks.length;
    try {
      for (let k = 0; k < nChunks; k++) {
        const out = await interpretChunk(model, backend, operands, batch.chunks[k], ops, {
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
      this.c.free({ chunks });
      throw toError(error, 'Encrypted inference');
    }
    return {
      result: { samples: batch.samples, chunks },
      stats: {
        ms: performance.now() - t0,
        ops,
        modelOps: this.streamOps,
        peakBytes: tracker.peakBytes,
        layers,
      },
    };
  }

  /**
   * Loads uploaded input ciphertexts, checking they fit the plan and these parameters. A
   * corrupted blob is a `he-runtime` error and nothing is kept.
   */
  deserialize(serialized: SerializedBatch): CipherBatch {
    const { seal, model, ctx, tracker } = this.c;
    const expected = chunksOf(model, serialized.samples);
    const live = model.exec.layers[0].liveInputs;
    if (serialized.chunks.length !== expected.length) {
      throw new HepexError(
        'invalid-argument',
        `${serialized.samples} samples need ${expected.length} chunks of ciphertexts, got ${serialized.chunks.length}.`,
      );
    }
    const chunks: (Ciphertext | null)[][] = [];
    const dataPrimes = model.params.depth + 1;
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
          const ct = tracker.add(new seal.Ciphertext());
          loaded.push(ct);
          try {
            ct.loadFromArray(ctx.context, bytes);
          } catch (error) {
            throw toError(
              error,
              `Input ciphertext ${i} is corrupted or was made with other parameters`,
            );
          }
          if (
            ct.size() !== 2 ||
            ct.coeffModulusSize() !== dataPrimes ||
            ct.polyModulusDegree() !== model.params.ringDegree
          ) {
            throw new HepexError(
              'he-runtime',
              `Input ciphertext ${i} does not match this model's encryption parameters.`,
            );
          }
          tracker.resize(ct, bytesOfCiphertext(ct));
        });
      }
    } catch (error) {
      this.c.free({ chunks });
      throw toError(error, 'Loading ciphertexts');
    }
    return { samples: serialized.samples, chunks };
  }

  /** The evaluation keys it holds, serialized (what a client uploads; no secret key). */
  exportEvaluationKeys(): { relin: Uint8Array | null; galois: Uint8Array | null } {
    const none = this.c.seal.ComprModeType.none;
    return {
      relin: this.relinKeys ? (this.relinKeys.saveToArray(none) as Uint8Array) : null,
      galois: this.galoisKeys ? (this.galoisKeys.saveToArray(none) as Uint8Array) : null,
    };
  }

  /** Replaces the evaluation keys from uploaded blobs; on a bad blob the old keys stay. */
  importEvaluationKeys(blobs: { relin: Uint8Array | null; galois: Uint8Array | null }): void {
    const { seal, model, ctx, tracker } = this.c;
    const N = model.params.ringDegree;
    const dataPrimes = model.params.depth + 1;
    const steps = model.exec.rotationSteps;
    let relin: EvaluationKeys['relin'] = null;
    let galois: EvaluationKeys['galois'] = null;
    try {
      if (blobs.relin) {
        relin = new seal.RelinKeys();
        relin.loadFromArray(ctx.context, blobs.relin);
      }
      if (blobs.galois) {
        galois = new seal.GaloisKeys();
        galois.loadFromArray(ctx.context, blobs.galois);
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
      tracker.delete(this.relinKeys);
      this.relinKeys = tracker.add(relin, bytesOfSwitchingKeys(1, N, dataPrimes));
    }
    if (galois) {
      tracker.delete(this.galoisKeys);
      this.galoisKeys = tracker.add(galois, bytesOfSwitchingKeys(steps.length, N, dataPrimes));
    }
  }
}
