import { HepexError } from '../model/errors';

/**
 * CKKS ring degrees the studio supports. slots = ringDegree / 2. 8192 is the smallest that
 * leaves room for a useful multiplicative depth at 128-bit security; 32768 the largest SEAL
 * accepts at that level (SEAL's 128-bit limits: at most 218 / 438 / 881 coefficient bits).
 */
export const RING_DEGREES = [8192, 16384, 32768] as const;
export type RingDegree = (typeof RING_DEGREES)[number];

/** The paper's demo: 4x8 tiles, batch 512, N = 2^15. */
export const DEFAULT_RING_DEGREE: RingDegree = 32768;

/**
 * The two fully-connected layouts of docs/method.md section 2:
 *  A: W as [out/t1, in/t2, * /b], sums over tile dim 1 (rotations by multiples of b),
 *     output [out/t1, 1?/t2, n/b] needs mask + duplicate before the next layer;
 *  B: W^T as [in/t1, out/t2, * /b], sums over tile dim 0, output [* /t1, out/t2, n/b] is ready.
 * Layers alternate, so no layer needs a transposition; only the first layer's orientation is a
 * choice (the client packs the input in either layout for free).
 */
export type Orientation = 'A' | 'B';

/**
 * Orientation of layer 0 when none is given. A is the paper's (HElayers') chain. B-first
 * drops the mask + duplicate after layer 0 (one level less) and reduces the wide first layer
 * per output tile-column (log2 t1 rotations) instead of per tile-row plus duplication: for
 * 784-128-10 at 4x8, N = 16384, 41 rotations instead of 196 and 3.8 s predicted instead of
 * 5.6 s; cheaper for every network and shape the studio ships (`hepex cost ... --tile 4x8:A`).
 * The price: the client encrypts ceil(in/t1) input ciphertexts instead of ceil(in/t2).
 */
export const DEFAULT_FIRST_ORIENTATION: Orientation = 'B';

/**
 * How weight matrices are cut: t1 x t2 tiles, and the orientation of layer 0 (later layers
 * alternate, tilePlan.orientationOf). What pruning, permutation and a model file depend on.
 */
export interface TileSides {
  readonly t1: number;
  readonly t2: number;
  readonly first: Orientation;
}

/**
 * Tile sides placed in a CKKS ciphertext: a 3-D tile [t1, t2, batch] filling every slot,
 * t1 * t2 * batch = ringDegree / 2. Weight tiles are duplicated over the batch dim; inputs carry
 * `batch` samples per ciphertext. What the execution plan, the cost model and SEAL depend on.
 */
export interface TileShape extends TileSides {
  readonly batch: number;
  readonly ringDegree: RingDegree;
}

/** The studio's and the CLI's tile when none is given: 4 x 8, layer 0 in the default orientation. */
export const DEFAULT_TILE_SIDES: TileSides = { t1: 4, t2: 8, first: DEFAULT_FIRST_ORIENTATION };

export const isPowerOfTwo = (n: number): boolean =>
  Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

export const tileSlots = (tile: TileShape): number => tile.ringDegree / 2;

/** "4x8", or "4x8:A" when the chain does not start with the default orientation. */
export function tileShapeLabel(tile: TileSides): string {
  return `${tile.t1}x${tile.t2}${tile.first === DEFAULT_FIRST_ORIENTATION ? '' : `:${tile.first}`}`;
}

export function checkOrientation(value: string): Orientation {
  if (value !== 'A' && value !== 'B') {
    throw new HepexError(
      'invalid-tile-shape',
      `The first layer's orientation is "${value}"; it must be A or B.`,
    );
  }
  return value;
}

export interface TileShapeOptions {
  /** Samples per ciphertext. Default: whatever fills the ring degree's slots. */
  batch?: number;
  /** Default: the degree `batch` implies, else DEFAULT_RING_DEGREE. */
  ringDegree?: number;
  /** Orientation of layer 0. Default: DEFAULT_FIRST_ORIENTATION. */
  first?: string;
}

/** Validates and completes a tile shape. Throws `invalid-tile-shape` in plain words. */
export function createTileShape(t1: number, t2: number, options: TileShapeOptions = {}): TileShape {
  for (const [name, v] of [
    ['t1', t1],
    ['t2', t2],
  ] as const) {
    if (!isPowerOfTwo(v)) {
      throw new HepexError(
        'invalid-tile-shape',
        `Tile dimension ${name} is ${v}; tile dimensions must be powers of two (1, 2, 4, 8, ...) so rotations can sum them.`,
      );
    }
  }
  const { batch } = options;
  if (batch !== undefined && !isPowerOfTwo(batch)) {
    throw new HepexError('invalid-tile-shape', `The batch is ${batch}; it must be a power of two.`);
  }
  let ringDegree = options.ringDegree;
  if (ringDegree === undefined)
    ringDegree = batch === undefined ? DEFAULT_RING_DEGREE : 2 * t1 * t2 * batch;
  if (!(RING_DEGREES as readonly number[]).includes(ringDegree)) {
    const slotsWanted = ringDegree / 2;
    throw new HepexError(
      'invalid-tile-shape',
      batch !== undefined && options.ringDegree === undefined
        ? `A ${t1}x${t2} tile with batch ${batch} needs ${slotsWanted} slots, but a ciphertext has ${RING_DEGREES.map((n) => n / 2).join(', ')} slots (ring degree ${RING_DEGREES.join(', ')}).`
        : `Ring degree ${ringDegree} is not supported; use one of ${RING_DEGREES.join(', ')}.`,
    );
  }
  const slots = ringDegree / 2;
  const b = batch ?? slots / (t1 * t2);
  if (t1 * t2 * b !== slots || !Number.isInteger(b) || b < 1) {
    throw new HepexError(
      'invalid-tile-shape',
      `A ${t1}x${t2} tile with batch ${b} uses ${t1 * t2 * b} slots; it must fill exactly ${slots} slots (ring degree ${ringDegree}).`,
    );
  }
  const first = checkOrientation(options.first ?? DEFAULT_FIRST_ORIENTATION);
  return { t1, t2, batch: b, ringDegree: ringDegree as RingDegree, first };
}

/**
 * Parses "4x8" (or "4x8x512": t1 x t2 x batch), optionally followed by ":A" or ":B", the
 * orientation of layer 0, into a tile shape.
 */
export function parseTileShape(text: string, options: TileShapeOptions = {}): TileShape {
  const m = /^\s*(\d+)\s*[xX*]\s*(\d+)(?:\s*[xX*]\s*(\d+))?\s*(?::\s*([ABab]))?\s*$/.exec(text);
  if (!m) {
    throw new HepexError(
      'invalid-tile-shape',
      `"${text}" is not a tile shape; write it as T1xT2, like 4x8 (or 4x8:B to start the chain with orientation B).`,
    );
  }
  const batch = m[3] !== undefined ? Number(m[3]) : options.batch;
  const first = m[4] !== undefined ? m[4].toUpperCase() : options.first;
  return createTileShape(Number(m[1]), Number(m[2]), { ...options, batch, first });
}

/** Every valid [t1, t2] for a ring degree, with t1, t2 >= 1 and batch >= 1. */
export function allTileShapes(
  ringDegree: RingDegree,
  maxTileSide = 256,
  first: Orientation = DEFAULT_FIRST_ORIENTATION,
): TileShape[] {
  const slots = ringDegree / 2;
  const shapes: TileShape[] = [];
  for (let t1 = 1; t1 <= Math.min(slots, maxTileSide); t1 *= 2) {
    for (let t2 = 1; t1 * t2 <= slots && t2 <= maxTileSide; t2 *= 2) {
      shapes.push({ t1, t2, batch: slots / (t1 * t2), ringDegree, first });
    }
  }
  return shapes;
}

/** Validated tile sides (powers of two, orientation A or B). Throws `invalid-tile-shape`. */
export function createTileSides(
  t1: number,
  t2: number,
  first: string = DEFAULT_FIRST_ORIENTATION,
): TileSides {
  const {
    t1: a,
    t2: b,
    first: f,
  } = createTileShape(t1, t2, { ringDegree: DEFAULT_RING_DEGREE, first });
  return { t1: a, t2: b, first: f };
}

/** Parses "4x8" or "4x8:A" into tile sides (a batch, "4x8x512", is not sides: refused). */
export function parseTileSides(text: string): TileSides {
  const m = /^\s*(\d+)\s*[xX*]\s*(\d+)\s*(?::\s*([ABab]))?\s*$/.exec(text);
  if (!m) {
    throw new HepexError(
      'invalid-tile-shape',
      `"${text}" is not a tile shape; write it as T1xT2, like 4x8 (or 4x8:A to start the chain with orientation A).`,
    );
  }
  return createTileSides(Number(m[1]), Number(m[2]), m[3]?.toUpperCase());
}

/**
 * Tile sides placed in a ciphertext of `ringDegree` (default: the one `batch` implies, else
 * DEFAULT_RING_DEGREE). Throws `invalid-tile-shape` when they do not fill it exactly.
 */
export function placeTile(
  sides: TileSides,
  options: Omit<TileShapeOptions, 'first'> = {},
): TileShape {
  return createTileShape(sides.t1, sides.t2, { ...options, first: sides.first });
}

/** A tile shape from elsewhere (a worker message, a caller) checked field by field. */
export function checkTileShape(tile: TileShape): TileShape {
  if (!tile || typeof tile !== 'object') {
    throw new HepexError(
      'invalid-tile-shape',
      'A tile shape {t1, t2, batch, ringDegree, first} is required.',
    );
  }
  return createTileShape(tile.t1, tile.t2, {
    batch: tile.batch,
    ringDegree: tile.ringDegree,
    first: tile.first,
  });
}
