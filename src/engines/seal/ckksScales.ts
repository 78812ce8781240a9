import type { HeModel } from '../../core/he/heModel';
import type { CkksContext } from './ckksContext';

/** Scales of one layer's intermediate ciphertexts (exact doubles, as SEAL computes them). */
export interface LayerScales {
  /** After the products' rescale: bias and shift are encoded at this scale. */
  readonly afterProduct: number;
  /** After the square's rescale: the offset is encoded at this scale. */
  readonly afterSquare: number;
}

/** The data primes' values, first (60-bit) to last (the first one a rescale drops). */
export function dataPrimeValues(ctx: CkksContext): number[] {
  const data = ctx.context.firstContextData();
  const parms = data.parms();
  const vec = parms.coeffModulus();
  try {
    return Array.from({ length: vec.size() }, (_, i) => {
      const m = vec.get(i)!;
      const v = Number(m.value());
      m.delete();
      return v;
    });
  } finally {
    vec.delete();
    parms.delete();
    data.delete();
  }
}

/**
 * Follows every ciphertext's scale through the plan with SEAL's own double arithmetic
 * (products multiply scales, a rescale divides by the dropped prime), so biases and constants
 * are encoded at exactly the scale they meet. Pinning scales to 2^40 instead (setScale) would
 * cost a relative error of |2^40 / q - 1|, ~1e-6 per rescale: too much for large outputs.
 */
export function planScales(
  model: HeModel,
  scale: number,
  primes: readonly number[],
): LayerScales[] {
  // A rescale at level k (k rescales done) drops primes[depth - k].
  const dropped = (level: number) => primes[model.params.depth - level];
  const out: LayerScales[] = [];
  let s = scale; // fresh inputs are encoded at 2^scaleBits
  for (const layer of model.exec.layers) {
    const level = layer.levelIn;
    const afterProduct = (s * scale) / dropped(level);
    let next = afterProduct;
    let afterSquare = afterProduct;
    if (layer.quadraticActivation) {
      afterSquare = (afterProduct * afterProduct) / dropped(level + 1);
      next = afterSquare;
    }
    if (layer.masked)
      next = (next * scale) / dropped(level + 1 + (layer.quadraticActivation ? 1 : 0));
    out.push({ afterProduct, afterSquare });
    s = next;
  }
  return out;
}
