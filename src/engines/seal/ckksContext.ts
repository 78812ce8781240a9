import { checkCkksParameters, type CkksParameters } from '../../core/he/ckksParameters';
import { HepexError } from '../../core/model/errors';
import type { Seal } from './loadSeal';
import { toError } from './sealErrors';

type SEALContext = InstanceType<Seal['SEALContext']>;
type CKKSEncoder = InstanceType<Seal['CKKSEncoder']>;
type Evaluator = InstanceType<Seal['Evaluator']>;

/**
 * A SEAL CKKS context for one parameter set, with its encoder and evaluator. No keys: those
 * belong to a key set (keys.ts), so one context can serve a calibration and an inference.
 * `delete()` frees all three WASM objects.
 */
export interface CkksContext {
  readonly seal: Seal;
  readonly params: CkksParameters;
  readonly context: SEALContext;
  readonly encoder: CKKSEncoder;
  readonly evaluator: Evaluator;
  /** ringDegree / 2 complex slots; we use the real parts. */
  readonly slots: number;
  /** 2^scaleBits: the scale of fresh encodings. */
  readonly scale: number;
  delete(): void;
}

export function createCkksContext(seal: Seal, params: CkksParameters): CkksContext {
  // Refused in words before SEAL sees it: above the 128-bit table, a bad scale or ring degree.
  checkCkksParameters(params);
  const parms = new seal.EncryptionParameters(seal.SchemeType.ckks);
  let coeff: InstanceType<Seal['VectorModulus']> | undefined;
  let context: SEALContext | undefined;
  try {
    parms.setPolyModulusDegree(params.ringDegree);
    coeff = seal.CoeffModulus.Create(params.ringDegree, Int32Array.from(params.coeffModulusBits));
    parms.setCoeffModulus(coeff);
    context = new seal.SEALContext(parms, true, seal.SecLevelType.tc128);
    if (!context.parametersSet()) {
      throw new HepexError(
        'he-parameters',
        `SEAL rejected ring degree ${params.ringDegree} with primes [${params.coeffModulusBits.join(', ')}] at 128-bit security.`,
      );
    }
    const encoder = new seal.CKKSEncoder(context);
    const evaluator = new seal.Evaluator(context);
    const ctx = context;
    return {
      seal,
      params,
      context: ctx,
      encoder,
      evaluator,
      slots: encoder.slotCount(),
      scale: 2 ** params.scaleBits,
      delete() {
        evaluator.delete();
        encoder.delete();
        ctx.delete();
      },
    };
  } catch (error) {
    context?.delete();
    throw toError(error, 'Creating the CKKS context');
  } finally {
    coeff?.delete();
    parms.delete();
  }
}
