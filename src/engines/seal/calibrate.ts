import { ckksParametersFor } from '../../core/he/ckksParameters';
import type { OpTimingTable } from '../../core/he/costModel';
import { throwIfAborted } from '../../core/model/errors';
import { OP_KINDS, type OpKind } from '../../core/tiling/executionPlan';
import type { RingDegree } from '../../core/tiling/tileShape';
import { createCkksContext } from './ckksContext';
import type { Seal } from './loadSeal';
import { toError } from './sealErrors';

export interface CalibrateOptions {
  /** Multiplicative depth of the parameter set to time at (dataPrimes = depth + 1). Default 2. */
  readonly depth?: number;
  /** Timed repetitions per primitive (median taken). Default 9. */
  readonly repetitions?: number;
  /**
   * 'median' (default) or 'min' over the repetitions. On a machine shared with other jobs the
   * minimum is the steadier estimate of the undisturbed cost (compare with minimum latencies).
   */
  readonly statistic?: 'median' | 'min';
  /** Label for the table's source. */
  readonly runtime?: string;
  /** Each timed sample runs enough calls of a primitive to last at least this long (ms). Default 20. */
  readonly minSampleMs?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (fraction: number, op: OpKind) => void;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * Times every primitive the runtime uses, the way it uses them (products into a new
 * ciphertext, in-place adds, rotation by a step with its own key), at the top level of a
 * parameter set with depth + 1 data primes, on this machine or browser. The result feeds the
 * cost model's time prediction (costModel.ts scales per-level costs by primes / dataPrimes).
 * Every SEAL object is deleted before returning.
 */
export async function calibrate(
  seal: Seal,
  ringDegree: RingDegree,
  options: CalibrateOptions = {},
): Promise<OpTimingTable> {
  const depth = options.depth ?? 2;
  const reps = options.repetitions ?? 9;
  const params = ckksParametersFor(depth, ringDegree);
  const ctx = createCkksContext(seal, params);
  const objects: { delete(): void }[] = [];
  const keep = <T extends { delete(): void }>(o: T): T => {
    objects.push(o);
    return o;
  };
  try {
    const { encoder, evaluator: ev, slots, scale } = ctx;
    const keygen = keep(new seal.KeyGenerator(ctx.context));
    const publicKey = keep(keygen.createPublicKey());
    const secretKey = keep(keygen.secretKey());
    const relinKeys = keep(keygen.createRelinKeys());
    const step = slots / 4;
    const galoisKeys = keep(keygen.createGaloisKeysWithSteps(Int32Array.from([step])));
    const encryptor = keep(new seal.Encryptor(ctx.context, publicKey, secretKey));
    // Public key only, as the server encrypts a model owner's weights (encrypted-model mode).
    const publicEncryptor = keep(new seal.Encryptor(ctx.context, publicKey));
    const decryptor = keep(new seal.Decryptor(ctx.context, secretKey));
    const values = Float64Array.from({ length: slots }, (_, i) => Math.sin(i) * 0.5);
    const pt = keep(new seal.Plaintext());
    encoder.encode(values, scale, pt);
    const a = keep(new seal.Ciphertext());
    const b = keep(new seal.Ciphertext());
    encryptor.encrypt(pt, a);
    encryptor.encrypt(pt, b);
    const product = keep(new seal.Ciphertext());
    ev.multiply(a, b, product); // size 3, for relinearize
    const product2 = keep(new seal.Ciphertext());
    ev.multiplyPlain(a, pt, product2); // scale^2, for rescale
    // The runtime multiplies by a different weight tile each time, read from a model far larger
    // than any cache: cycle through enough distinct operands (~tens of MB) to defeat caches too.
    const distinct = Math.max(8, Math.ceil((48 * 2 ** 20) / (ringDegree * (depth + 1) * 8)));
    const weights = Array.from({ length: distinct }, () => {
      const w = keep(new seal.Plaintext());
      encoder.encode(values, scale, w);
      return w;
    });
    const encryptedWeights = Array.from({ length: Math.ceil(distinct / 2) }, (_, k) => {
      const w = keep(new seal.Ciphertext());
      encryptor.encrypt(weights[k], w);
      return w;
    });
    let next = 0;

    // Each timed body creates and deletes what the runtime would (a fresh destination).
    const bodies: Record<OpKind, () => void> = {
      encode: () => {
        const p = new seal.Plaintext();
        encoder.encode(values, scale, p);
        p.delete();
      },
      encrypt: () => {
        const c = new seal.Ciphertext();
        encryptor.encryptSymmetric(pt, c); // as the runtime encrypts client inputs
        c.delete();
      },
      decrypt: () => {
        const p = new seal.Plaintext();
        decryptor.decrypt(a, p);
        p.delete();
      },
      decode: () => void encoder.decodeFloat64(pt),
      add: () => ev.addInplace(a, b),
      addPlain: () => ev.addPlainInplace(a, pt),
      multiplyPlain: () => {
        const c = new seal.Ciphertext();
        ev.multiplyPlain(a, weights[next++ % weights.length], c);
        c.delete();
      },
      maskMultiply: () => {
        const c = new seal.Ciphertext();
        ev.multiplyPlain(a, pt, c);
        c.delete();
      },
      multiply: () => {
        const c = new seal.Ciphertext();
        ev.multiply(a, encryptedWeights[next++ % encryptedWeights.length], c);
        c.delete();
      },
      relinearize: () => {
        const c = product.copy();
        ev.relinearizeInplace(c, relinKeys);
        c.delete();
      },
      rescale: () => {
        // In place on a copy, as the runtime does (the copy is subtracted below).
        const c = product2.copy();
        ev.rescaleToNextInplace(c);
        c.delete();
      },
      rotate: () => {
        const c = new seal.Ciphertext();
        ev.rotateVector(a, step, galoisKeys, c);
        c.delete();
      },
    };
    // Not a plan operation, but the work of streamed encrypted weights (costModel's
    // streamedWeightMs): a public-key encryption at the top level.
    const operandBodies = {
      publicEncrypt: () => {
        const c = new seal.Ciphertext();
        publicEncryptor.encrypt(pt, c);
        c.delete();
      },
    };
    // Bodies that work on a copy pay for it: a measured copy of the same size is subtracted.
    const copies = { copy3: () => product.copy().delete(), copy2: () => product2.copy().delete() };
    const kinds = [...OP_KINDS, 'publicEncrypt', 'copy3', 'copy2'] as const;
    // Interleaved passes (every op once per pass, one warm-up pass): on a shared, noisy
    // machine a slow spell then hits all primitives alike instead of one of them. Each sample
    // times a batch of calls lasting at least minSampleMs: a single 1-2 ms call usually fits in
    // one uncontended scheduler slice and reads as if the machine were idle, while a run gets
    // only its share of a busy CPU; and a browser worker's clock ticks in 0.1 ms, coarser than an
    // addition. The batch size comes from the warm-up pass.
    const minSampleMs = options.minSampleMs ?? 20;
    const calls = new Map<string, number>(kinds.map((k) => [k, 1]));
    const samples = new Map<string, number[]>(kinds.map((k) => [k, []]));
    for (let pass = 0; pass <= reps; pass++) {
      throwIfAborted(options.signal);
      for (const op of kinds) {
        const body =
          op === 'copy3' || op === 'copy2'
            ? copies[op]
            : op === 'publicEncrypt'
              ? operandBodies[op]
              : bodies[op];
        const n = calls.get(op)!;
        const t0 = performance.now();
        for (let i = 0; i < n; i++) body();
        const elapsed = performance.now() - t0;
        if (pass > 0) samples.get(op)!.push(elapsed / n);
        else
          calls.set(
            op,
            Math.min(200, Math.max(1, Math.ceil(minSampleMs / Math.max(elapsed, 0.01)))),
          );
      }
      options.onProgress?.((pass + 1) / (reps + 1), OP_KINDS[pass % OP_KINDS.length]);
      await new Promise((r) => setTimeout(r, 0));
    }
    const stat = options.statistic ?? 'median';
    const med = (k: string) =>
      stat === 'min' ? Math.min(...samples.get(k)!) : median(samples.get(k)!);
    const ms = {} as Record<OpKind, number>;
    for (const op of OP_KINDS) {
      const copy = op === 'relinearize' ? med('copy3') : op === 'rescale' ? med('copy2') : 0;
      ms[op] = Math.max(med(op) - copy, 1e-4);
    }
    return {
      ringDegree,
      dataPrimes: depth + 1,
      ms,
      publicEncrypt: Math.max(med('publicEncrypt'), 1e-4),
      source: `calibrated on ${options.runtime ?? 'this machine'} (N=${ringDegree}, ${depth + 1} data primes, ${stat} of ${reps})`,
    };
  } catch (error) {
    throw toError(error, 'Calibration');
  } finally {
    for (const o of objects.reverse()) o.delete();
    ctx.delete();
  }
}
