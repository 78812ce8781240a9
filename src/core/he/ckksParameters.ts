import { HepexError } from '../model/errors';
import { RING_DEGREES, type RingDegree } from '../tiling/tileShape';

/**
 * Largest total coefficient-modulus size (bits) SEAL allows at 128-bit security for each
 * ring degree (SEAL's CoeffModulus.MaxBitCount).
 */
export const MAX_COEFF_BITS: Record<RingDegree, number> = { 8192: 218, 16384: 438, 32768: 881 };

/**
 * A CKKS parameter set. The coefficient modulus is [first, scale x depth, special]: the first
 * prime holds the result's integer part plus precision, each middle prime is consumed by one
 * rescale (one multiplicative level), the special prime is only for key switching.
 */
export interface CkksParameters {
  readonly ringDegree: RingDegree;
  readonly coeffModulusBits: readonly number[];
  readonly scaleBits: number;
  /** Rescales available = coeffModulusBits.length - 2. */
  readonly depth: number;
}

export const DEFAULT_SCALE_BITS = 40;
export const FIRST_PRIME_BITS = 60;
export const SPECIAL_PRIME_BITS = 60;
/**
 * The first prime holds the decrypted result: |value| * 2^scaleBits must stay below half of it.
 * When the 60-bit first prime is what keeps a depth out of a ring degree, it shrinks to
 * scaleBits + OUTPUT_INTEGER_BITS (50 bits: outputs below 2^9 = 512 in magnitude, ample for
 * logits and pixel reconstructions), which lets depth 8 (a B-first 4-layer autoencoder) run at
 * N = 16384 instead of 32768.
 */
export const OUTPUT_INTEGER_BITS = 10;

export function ckksParametersFor(
  depth: number,
  ringDegree: RingDegree,
  scaleBits = DEFAULT_SCALE_BITS,
): CkksParameters {
  const chain = (first: number) => [
    first,
    ...Array<number>(depth).fill(scaleBits),
    SPECIAL_PRIME_BITS,
  ];
  const roomy = chain(FIRST_PRIME_BITS);
  const tight = chain(scaleBits + OUTPUT_INTEGER_BITS);
  const fits = (bits: number[]) => bits.reduce((s, b) => s + b, 0) <= MAX_COEFF_BITS[ringDegree];
  const coeffModulusBits = fits(roomy) || !fits(tight) ? roomy : tight;
  return { ringDegree, coeffModulusBits, scaleBits, depth };
}

/** Largest |output| the parameters decrypt correctly: half the first prime over the scale. */
export function outputBound(params: CkksParameters): number {
  return 2 ** (params.coeffModulusBits[0] - 1 - params.scaleBits);
}

export function totalBits(params: CkksParameters): number {
  return params.coeffModulusBits.reduce((s, b) => s + b, 0);
}

export function fitsSecurity(params: CkksParameters): boolean {
  return totalBits(params) <= MAX_COEFF_BITS[params.ringDegree];
}

/** Largest depth a ring degree can carry at 128-bit security (with the tight first prime if needed). */
export function maxDepth(ringDegree: RingDegree, scaleBits = DEFAULT_SCALE_BITS): number {
  const first = scaleBits + OUTPUT_INTEGER_BITS;
  return Math.floor((MAX_COEFF_BITS[ringDegree] - first - SPECIAL_PRIME_BITS) / scaleBits);
}

/**
 * The smallest ring degree (at least `minRingDegree`) whose modulus chain carries `depth`
 * rescales at 128-bit security. Throws `he-parameters` when none does.
 */
export function chooseCkksParameters(
  depth: number,
  minRingDegree: RingDegree = 8192,
): CkksParameters {
  if (!Number.isInteger(depth) || depth < 1) {
    throw new HepexError(
      'he-parameters',
      `A network needs a multiplicative depth of at least 1, got ${depth}.`,
    );
  }
  for (const n of RING_DEGREES) {
    if (n < minRingDegree) continue;
    const params = ckksParametersFor(depth, n);
    if (fitsSecurity(params)) return params;
  }
  throw new HepexError(
    'he-parameters',
    `This network needs ${depth} multiplicative levels; at 128-bit security the largest ring degree (32768) carries ${maxDepth(32768)}. Use fewer layers or linear activations.`,
  );
}
