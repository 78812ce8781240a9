import { HepexError } from '../model/errors';
import { RING_DEGREES, type RingDegree } from '../tiling/tileShape';

/**
 * SEAL's 128-bit security table (CoeffModulus.MaxBitCount(N, sec_level_type::tc128), from the
 * HomomorphicEncryption.org standard): the largest total coefficient-modulus size, in bits, for
 * every ring degree SEAL supports. A parameter set above its row is refused here, in words,
 * before SEAL sees it.
 */
export const SEAL_MAX_COEFF_BITS_128: Readonly<Record<number, number>> = {
  1024: 27,
  2048: 54,
  4096: 109,
  8192: 218,
  16384: 438,
  32768: 881,
};

/** The same bound for the ring degrees the studio's tiles use (8192 and up: 4096+ slots). */
export const MAX_COEFF_BITS: Record<RingDegree, number> = {
  8192: SEAL_MAX_COEFF_BITS_128[8192],
  16384: SEAL_MAX_COEFF_BITS_128[16384],
  32768: SEAL_MAX_COEFF_BITS_128[32768],
};

/**
 * Scale bits a request may ask for. Below 20 the CKKS noise (~2^10 after a product) swamps the
 * fraction; a prime holds at most 60 bits in SEAL, and the first prime must exceed the scale by
 * the result's integer bits.
 */
export const MIN_SCALE_BITS = 20;
export const MAX_SCALE_BITS = 50;
/** SEAL's largest prime (SEAL_USER_MOD_BIT_COUNT_MAX). */
export const MAX_PRIME_BITS = 60;

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

const isPowerOfTwo = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** Refuses a scale the chain cannot carry, in words. */
export function checkScaleBits(scaleBits: number): number {
  if (!Number.isInteger(scaleBits) || scaleBits < MIN_SCALE_BITS || scaleBits > MAX_SCALE_BITS) {
    throw new HepexError(
      'he-parameters',
      `The CKKS scale must be 2^k with k a whole number from ${MIN_SCALE_BITS} to ${MAX_SCALE_BITS}, got 2^${scaleBits}: below 2^${MIN_SCALE_BITS} the encryption noise swamps the values, above 2^${MAX_SCALE_BITS} the ${MAX_PRIME_BITS}-bit first prime leaves no room for the result.`,
    );
  }
  return scaleBits;
}

/** Refuses a ring degree that is not one of the studio's (a power of two from 8192 to 32768). */
export function checkRingDegree(ringDegree: number): RingDegree {
  if (!isPowerOfTwo(ringDegree)) {
    throw new HepexError(
      'he-parameters',
      `Ring degree ${ringDegree} is not a power of two; CKKS needs N = 2^k (use ${RING_DEGREES.join(', ')}).`,
    );
  }
  if (!(RING_DEGREES as readonly number[]).includes(ringDegree)) {
    const bound = SEAL_MAX_COEFF_BITS_128[ringDegree];
    throw new HepexError(
      'he-parameters',
      `Ring degree ${ringDegree} is not supported; use ${RING_DEGREES.join(', ')}.${bound !== undefined && ringDegree < RING_DEGREES[0] ? ` At 128-bit security N = ${ringDegree} allows only ${bound} bits of coefficient modulus (${Math.max(0, Math.floor((bound - 2 * MIN_SCALE_BITS) / DEFAULT_SCALE_BITS))} levels of 2^${DEFAULT_SCALE_BITS}), and its ${ringDegree / 2} slots are fewer than a tile needs.` : ''}`,
    );
  }
  return ringDegree as RingDegree;
}

/**
 * Checks a requested parameter set against SEAL's 128-bit table and the chain's shape, and
 * returns it as CkksParameters. Every refusal is a `he-parameters` HepexError that says which
 * bound was broken and what to do instead. SEAL contexts are only ever built from checked sets.
 */
export function checkCkksParameters(request: {
  readonly ringDegree: number;
  readonly coeffModulusBits: readonly number[];
  readonly scaleBits: number;
}): CkksParameters {
  const ringDegree = checkRingDegree(request.ringDegree);
  const scaleBits = checkScaleBits(request.scaleBits);
  const bits = request.coeffModulusBits;
  if (bits.length < 3) {
    throw new HepexError(
      'he-parameters',
      `A CKKS coefficient modulus needs a first prime, at least one ${scaleBits}-bit level prime and a special prime; got ${bits.length} prime${bits.length === 1 ? '' : 's'}.`,
    );
  }
  bits.forEach((b, i) => {
    if (!Number.isInteger(b) || b < MIN_SCALE_BITS || b > MAX_PRIME_BITS) {
      throw new HepexError(
        'he-parameters',
        `Prime ${i + 1} of the coefficient modulus has ${b} bits; SEAL's primes have ${MIN_SCALE_BITS} to ${MAX_PRIME_BITS} bits here.`,
      );
    }
  });
  const middle = bits.slice(1, -1);
  if (middle.some((b) => b !== scaleBits)) {
    throw new HepexError(
      'he-parameters',
      `Every level prime must have the scale's ${scaleBits} bits (a rescale divides by one), got [${middle.join(', ')}].`,
    );
  }
  if (bits[0] <= scaleBits) {
    throw new HepexError(
      'he-parameters',
      `The first prime (${bits[0]} bits) must be larger than the scale (2^${scaleBits}): it holds the decrypted result.`,
    );
  }
  const total = bits.reduce((s, b) => s + b, 0);
  const max = SEAL_MAX_COEFF_BITS_128[ringDegree];
  if (total > max) {
    throw new HepexError(
      'he-parameters',
      `Primes [${bits.join(', ')}] total ${total} bits; at 128-bit security ring degree ${ringDegree} allows at most ${max} (SEAL's table). Use a larger ring degree or fewer levels (this one carries ${maxDepth(ringDegree, scaleBits)}).`,
    );
  }
  return { ringDegree, coeffModulusBits: [...bits], scaleBits, depth: bits.length - 2 };
}

/**
 * The chain [first, scale x depth, special] for a depth at a ring degree, with the tight first
 * prime when only that fits. It may exceed the 128-bit bound (the cost model prices such a
 * choice and reports `fits: false`; `checkCkksParameters` refuses it before SEAL is used).
 */
export function ckksParametersFor(
  depth: number,
  ringDegree: RingDegree,
  scaleBits = DEFAULT_SCALE_BITS,
): CkksParameters {
  checkDepth(depth);
  checkRingDegree(ringDegree);
  checkScaleBits(scaleBits);
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

function checkDepth(depth: number): void {
  if (!Number.isInteger(depth) || depth < 1) {
    throw new HepexError(
      'he-parameters',
      `A network needs a multiplicative depth of at least 1, got ${depth}.`,
    );
  }
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
  scaleBits = DEFAULT_SCALE_BITS,
): CkksParameters {
  checkDepth(depth);
  checkRingDegree(minRingDegree);
  checkScaleBits(scaleBits);
  for (const n of RING_DEGREES) {
    if (n < minRingDegree) continue;
    const params = ckksParametersFor(depth, n, scaleBits);
    if (fitsSecurity(params)) return params;
  }
  throw new HepexError(
    'he-parameters',
    `This network needs ${depth} multiplicative levels; at 128-bit security the largest ring degree (32768) carries ${maxDepth(32768, scaleBits)}. Use fewer layers or linear activations.`,
  );
}
