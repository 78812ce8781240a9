import { chunksOf, orderInputs, packChunkInputs, unpackOutputs } from '../../core/he/heModel';
import { zeroOps, type OpCounts } from '../../core/tiling/executionPlan';
import type { Seal } from './loadSeal';
import { toError } from './sealErrors';
import { bytesOfCiphertext, bytesOfSwitchingKeys } from './sealTracker';
import type { SessionContext } from './sessionContext';
import type { CipherBatch, SerializedBatch } from './sessionTypes';

type Ciphertext = InstanceType<Seal['Ciphertext']>;

/** Serialized keys a pool member evaluates with (SEAL's format, uncompressed). */
export interface PoolKeys {
  readonly relin: Uint8Array | null;
  readonly galois: Uint8Array | null;
  readonly publicKey: Uint8Array;
}

/** The keys a server evaluates with: no secret key among them. */
export interface EvaluationKeys {
  readonly relin: InstanceType<Seal['RelinKeys']> | null;
  readonly galois: InstanceType<Seal['GaloisKeys']> | null;
}

/**
 * The data owner's side of a session: it generates the keys, keeps the secret key (which never
 * leaves this object), encrypts inputs (symmetric encryption: ~3x faster than public-key, the
 * owner holds the key) and decrypts results. It hands the server only what the server may hold:
 * the evaluation keys (relinearization and one Galois key per plan step) and a public-key
 * encryptor for a model owner's operands (encrypted-model mode).
 */
export class HeClientSide {
  private readonly secretKey: InstanceType<Seal['SecretKey']>;
  private readonly encryptor: InstanceType<Seal['Encryptor']>;
  private readonly decryptor: InstanceType<Seal['Decryptor']>;
  private readonly publicKey: InstanceType<Seal['PublicKey']>;
  readonly evaluationKeys: EvaluationKeys;
  /** Encrypts with the public key only. */
  readonly publicEncryptor: InstanceType<Seal['Encryptor']>;
  /** Bytes of the keys made here (tracker accounting). */
  readonly keyBytes: number;

  constructor(private readonly c: SessionContext) {
    const { seal, model, tracker: t } = c;
    const before = t.liveBytes;
    const keygen = t.add(new seal.KeyGenerator(c.ctx.context));
    try {
      this.secretKey = t.add(keygen.secretKey());
      const publicKey = t.add(keygen.createPublicKey());
      this.publicKey = publicKey;
      this.encryptor = t.add(new seal.Encryptor(c.ctx.context, publicKey, this.secretKey));
      this.publicEncryptor = t.add(new seal.Encryptor(c.ctx.context, publicKey));
      this.decryptor = t.add(new seal.Decryptor(c.ctx.context, this.secretKey));
      const N = model.params.ringDegree;
      const dataPrimes = model.params.depth + 1;
      const needsRelin =
        model.mode === 'encrypted-model' || model.exec.layers.some((l) => l.quadraticActivation);
      const steps = model.exec.rotationSteps;
      this.evaluationKeys = {
        relin: needsRelin
          ? t.add(keygen.createRelinKeys(), bytesOfSwitchingKeys(1, N, dataPrimes))
          : null,
        // Keys for exactly the plan's steps: one rotation per step, far less memory than powers of two.
        galois: steps.length
          ? t.add(
              keygen.createGaloisKeysWithSteps(Int32Array.from(steps)),
              bytesOfSwitchingKeys(steps.length, N, dataPrimes),
            )
          : null,
      };
    } finally {
      t.delete(keygen);
    }
    this.keyBytes = t.liveBytes - before;
  }

  /**
   * What a pool member needs to evaluate: the evaluation keys and the public key (for a model
   * owner's operands in the encrypted-model mode), serialized. Never the secret key.
   */
  exportServerKeys(): PoolKeys {
    const none = this.c.seal.ComprModeType.none;
    const { relin, galois } = this.evaluationKeys;
    try {
      return {
        relin: relin ? (relin.saveToArray(none) as Uint8Array) : null,
        galois: galois ? (galois.saveToArray(none) as Uint8Array) : null,
        publicKey: this.publicKey.saveToArray(none) as Uint8Array,
      };
    } catch (error) {
      throw toError(error, 'Serializing the evaluation keys');
    }
  }

  /** `count` fresh encryptions of zero at the top level: what a pool probe moves and loads. */
  encryptZeros(count: number): CipherBatch {
    const { seal, ctx, tracker } = this.c;
    const blocks: Ciphertext[] = [];
    const pt = tracker.add(new seal.Plaintext());
    try {
      ctx.encoder.encode(new Float64Array(ctx.encoder.slotCount()), ctx.scale, pt);
      for (let i = 0; i < count; i++) {
        const ct = tracker.add(new seal.Ciphertext());
        blocks.push(ct);
        this.encryptor.encryptSymmetric(pt, ct);
        tracker.resize(ct, bytesOfCiphertext(ct));
      }
    } catch (error) {
      this.c.free({ chunks: [blocks] });
      throw toError(error, 'Encrypting the transfer probe');
    } finally {
      tracker.delete(pt);
    }
    return { samples: 1, chunks: [blocks] };
  }

  /** Orders, packs, encodes and encrypts the inputs (samples x inputs). */
  encrypt(inputs: Float32Array, samples: number, ops: OpCounts = zeroOps()): CipherBatch {
    const packed = this.packInputs(inputs, samples);
    const chunks: (Ciphertext | null)[][] = [];
    try {
      for (const values of packed) chunks.push(this.encryptBlocks(values, null, ops));
    } catch (error) {
      this.c.free({ chunks });
      throw error;
    }
    return { samples, chunks };
  }

  /**
   * The inputs (samples x inputs) ordered and packed: per chunk, the first layer's input
   * blocks' slot values (null where a block is not read), ready for encryptBlocks.
   */
  packInputs(inputs: Float32Array, samples: number): (Float64Array | null)[][] {
    const { model } = this.c;
    const ordered = orderInputs(model, inputs, samples);
    return chunksOf(model, samples).map((chunk) => packChunkInputs(model, ordered, chunk));
  }

  /**
   * Encodes and encrypts the blocks `only` of one chunk's packed values (default every block
   * with values); null elsewhere. A pool streams a chunk's blocks this way, group by group.
   */
  encryptBlocks(
    values: readonly (Float64Array | null)[],
    only: readonly number[] | null,
    ops: OpCounts = zeroOps(),
  ): (Ciphertext | null)[] {
    const { seal, ctx, tracker } = this.c;
    const blocks = new Array<Ciphertext | null>(values.length).fill(null);
    // Scratch plaintext, tracked like everything else so a leak shows in the live count.
    const pt = tracker.add(new seal.Plaintext());
    try {
      for (const i of only ?? values.keys()) {
        const v = values[i];
        if (!v) continue;
        ctx.encoder.encode(v, ctx.scale, pt);
        ops.encode++;
        const ct = tracker.add(new seal.Ciphertext());
        blocks[i] = ct;
        this.encryptor.encryptSymmetric(pt, ct);
        ops.encrypt++;
        tracker.resize(ct, bytesOfCiphertext(ct));
      }
    } catch (error) {
      this.c.free({ chunks: [blocks] });
      throw toError(error, 'Encrypting the inputs');
    } finally {
      tracker.delete(pt);
    }
    return blocks;
  }

  /** Decrypts, decodes, unpacks and undoes the output order: samples x outputs. */
  decrypt(result: CipherBatch, ops: OpCounts = zeroOps()): Float32Array {
    const { seal, model, ctx, tracker } = this.c;
    const pt = tracker.add(new seal.Plaintext());
    try {
      const decoded = result.chunks.map((blocks) =>
        blocks.map((ct) => {
          if (!ct) return null;
          this.decryptor.decrypt(ct, pt);
          ops.decrypt++;
          const values = ctx.encoder.decodeFloat64(pt) as Float64Array;
          ops.decode++;
          return values;
        }),
      );
      return unpackOutputs(model, decoded, result.samples);
    } catch (error) {
      throw toError(error, 'Decrypting the outputs');
    } finally {
      tracker.delete(pt);
    }
  }

  /** What the client uploads: the input ciphertexts serialized (zstd). */
  serialize(batch: CipherBatch): SerializedBatch {
    try {
      return {
        samples: batch.samples,
        chunks: batch.chunks.map((blocks) =>
          blocks.map((ct) =>
            ct ? (ct.saveToArray(this.c.seal.ComprModeType.zstd) as Uint8Array) : null,
          ),
        ),
      };
    } catch (error) {
      throw toError(error, 'Serializing ciphertexts');
    }
  }
}
