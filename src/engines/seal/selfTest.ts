import { ckksParametersFor } from '../../core/he/ckksParameters';
import type { RingDegree } from '../../core/tiling/tileShape';
import { createCkksContext } from './ckksContext';
import type { Seal } from './loadSeal';
import { toError } from './sealErrors';

export interface SealSelfTest {
  readonly ringDegree: RingDegree;
  readonly coeffModulusBits: readonly number[];
  readonly slots: number;
  /** Largest |decrypt(encrypt(x)) - x| over all slots, x uniform in [-1, 1]. */
  readonly maxAbsError: number;
  /** Wall time of context + keys + encode/encrypt/decrypt/decode, ms. */
  readonly ms: number;
}

/**
 * Proves the engine works on this runtime: a CKKS context at `ringDegree` (one 40-bit level),
 * keys, then encode -> encrypt -> decrypt -> decode of a full slot vector. Every SEAL object
 * is deleted before returning.
 */
export function sealSelfTest(seal: Seal, ringDegree: RingDegree = 8192): SealSelfTest {
  const start = performance.now();
  const params = ckksParametersFor(1, ringDegree);
  const ctx = createCkksContext(seal, params);
  const keygen = new seal.KeyGenerator(ctx.context);
  const publicKey = keygen.createPublicKey();
  const secretKey = keygen.secretKey();
  const encryptor = new seal.Encryptor(ctx.context, publicKey);
  const decryptor = new seal.Decryptor(ctx.context, secretKey);
  const plain = new seal.Plaintext();
  const cipher = new seal.Ciphertext();
  try {
    // A deterministic, non-trivial vector in [-1, 1].
    const x = Float64Array.from(
      { length: ctx.slots },
      (_, i) => Math.sin(i * 0.731) * Math.cos(i * 0.013),
    );
    ctx.encoder.encode(x, ctx.scale, plain);
    encryptor.encrypt(plain, cipher);
    decryptor.decrypt(cipher, plain);
    const y = ctx.encoder.decodeFloat64(plain) as Float64Array;
    let maxAbsError = 0;
    for (let i = 0; i < x.length; i++) maxAbsError = Math.max(maxAbsError, Math.abs(y[i] - x[i]));
    return {
      ringDegree,
      coeffModulusBits: params.coeffModulusBits,
      slots: ctx.slots,
      maxAbsError,
      ms: performance.now() - start,
    };
  } catch (error) {
    throw toError(error, 'The SEAL self-test');
  } finally {
    for (const o of [cipher, plain, decryptor, encryptor, secretKey, publicKey, keygen]) o.delete();
    ctx.delete();
  }
}
