import { HepexError } from '../../core/model/errors';
import type { HeBackend } from '../../core/he/heInterpreter';
import type { Seal } from './loadSeal';
import { bytesOfCiphertext, type SealTracker } from './sealTracker';

type Ciphertext = InstanceType<Seal['Ciphertext']>;
type Plaintext = InstanceType<Seal['Plaintext']>;

export interface SealBackendDeps {
  readonly seal: Seal;
  readonly evaluator: InstanceType<Seal['Evaluator']>;
  /** Every ciphertext made here is registered (bytes, peak) and deleted through it. */
  readonly tracker: SealTracker;
  /** Weights and biases are ciphertexts (multiply, add) instead of plaintexts. */
  readonly encryptedModel: boolean;
  readonly relinKeys: () => InstanceType<Seal['RelinKeys']> | null;
  readonly galoisKeys: () => InstanceType<Seal['GaloisKeys']> | null;
}

/**
 * The plan interpreter's primitives on SEAL CKKS (core/heInterpreter.ts). Products and
 * rotations go into fresh tracked ciphertexts; sizes are re-measured after every operation
 * that changes them, so the tracker's peak is the peak of live SEAL bytes.
 */
export function createSealBackend(
  deps: SealBackendDeps,
): HeBackend<Ciphertext, Ciphertext | Plaintext, Plaintext> {
  const { seal, evaluator: ev, tracker: t, encryptedModel: encrypted } = deps;
  const fresh = (): Ciphertext => t.add(new seal.Ciphertext());
  const measured = (ct: Ciphertext): Ciphertext => {
    t.resize(ct, bytesOfCiphertext(ct));
    return ct;
  };
  const relin = () => {
    const keys = deps.relinKeys();
    if (!keys) throw new HepexError('he-runtime', 'No relinearization keys.');
    return keys;
  };
  const galois = () => {
    const keys = deps.galoisKeys();
    if (!keys) throw new HepexError('he-runtime', 'No rotation keys.');
    return keys;
  };
  return {
    multiplyModel: (x, w) => {
      const out = fresh();
      if (encrypted) ev.multiply(x, w as Ciphertext, out);
      else ev.multiplyPlain(x, w as Plaintext, out);
      return measured(out);
    },
    addModel: (x, b) =>
      encrypted ? ev.addInplace(x, b as Ciphertext) : ev.addPlainInplace(x, b as Plaintext),
    add: (into, x) => ev.addInplace(into, x),
    addPlain: (into, p) => ev.addPlainInplace(into, p),
    multiply: (x, y) => {
      const out = fresh();
      ev.multiply(x, y, out);
      return measured(out);
    },
    multiplyPlain: (x, p) => {
      const out = fresh();
      ev.multiplyPlain(x, p, out);
      return measured(out);
    },
    relinearize: (x) => {
      ev.relinearizeInplace(x, relin());
      measured(x);
    },
    rescale: (x) => {
      // SEAL divides the scale by the dropped prime; the plaintexts met later were encoded at
      // exactly that scale (see planScales), so no scale is ever forced.
      ev.rescaleToNextInplace(x);
      measured(x);
    },
    rotate: (x, step) => {
      const out = fresh();
      ev.rotateVector(x, step, galois(), out);
      return measured(out);
    },
    copy: (x) => measured(t.add(x.copy())),
    free: (x) => t.delete(x),
  };
}
