import type { Activation } from '../model/activation';
import {
  chooseCkksParameters,
  ckksParametersFor,
  fitsSecurity,
  type CkksParameters,
} from './ckksParameters';
import { HepexError } from '../model/errors';
import {
  OP_KINDS,
  addOps,
  planExecution,
  zeroOps,
  type ExecutionPlan,
  type HeMode,
  type LayerPhase,
  type OpCounts,
} from '../tiling/executionPlan';
import { fullKernelTileFlags } from '../tiling/convTiling';
import type { ConvGeometry } from '../model/network';
import type { TilePlan } from '../tiling/tilePlan';
import type { RingDegree } from '../tiling/tileShape';

/**
 * Milliseconds per operation, measured at `dataPrimes` data primes (the fresh ciphertext level)
 * for one ring degree. An op at a lower level costs less: p / P of the table for most
 * primitives, and p (p + 5) / (P (P + 5)) for key switching (rotate, relinearize), which is
 * superlinear in the primes (measured with SEAL 4.1 at N = 16384: 0.72 / 0.49 / 0.30 of the
 * top level at 4 / 3 / 2 of 5 primes). Calibration on the running machine (HE engine)
 * replaces the reference tables.
 */
export interface OpTimingTable {
  readonly ringDegree: RingDegree;
  readonly dataPrimes: number;
  readonly ms: Readonly<Record<(typeof OP_KINDS)[number], number>>;
  /**
   * ms of one public-key encryption at the top level (dataPrimes): how a model owner encrypts
   * the weight operands of the encrypted-model mode (the server holds no secret key). About
   * 2.5x `ms.encrypt`, the client's symmetric encryption of its inputs. At p of P primes it
   * costs (p + 1) / (P + 1) of this (SEAL encrypts one level up, then divides the last prime
   * out; measured at N = 16384, 9 primes: 0.90 / 0.76 / 0.53 / 0.29 at 8 / 7 / 5 / 2 primes).
   * Tables from before it was measured lack it: then ms.encrypt x PUBLIC_OVER_SYMMETRIC_ENCRYPT.
   */
  readonly publicEncrypt?: number;
  /** Where the numbers come from: 'calibrated' on this machine, or a reference table. */
  readonly source: string;
}

/** Public-key over symmetric encryption time, SEAL 4.1 at N = 16384 (10 ms / 3.8 ms). */
export const PUBLIC_OVER_SYMMETRIC_ENCRYPT = 10 / 3.8;

const measured = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** ms of a public-key encryption at the table's dataPrimes (stored tables may predate it). */
export const publicEncryptMs = (table: OpTimingTable): number =>
  measured(table.publicEncrypt)
    ? table.publicEncrypt
    : table.ms.encrypt * PUBLIC_OVER_SYMMETRIC_ENCRYPT;

const ms8192 = {
  encode: 0.49,
  encrypt: 1.3,
  decrypt: 0.25,
  decode: 0.83,
  add: 0.05,
  addPlain: 0.05,
  multiplyPlain: 0.29,
  maskMultiply: 0.29,
  multiply: 0.62,
  relinearize: 3.0,
  rescale: 0.73,
  rotate: 3.0,
};
const ms16384 = {
  encode: 1.5,
  encrypt: 3.8,
  decrypt: 0.55,
  decode: 3.2,
  add: 0.07,
  addPlain: 0.07,
  multiplyPlain: 0.96,
  maskMultiply: 0.96,
  multiply: 2.0,
  relinearize: 12.8,
  rescale: 2.6,
  rotate: 12.8,
};
/** The reference table has no N = 32768 row: 16384's per-prime cost x 2 x 15/14 (N log N). */
const ms32768PerPrime = Object.fromEntries(
  Object.entries(ms16384).map(([k, v]) => [k, ((v / 5) * 2 * 15) / 14]),
) as typeof ms16384;

/**
 * Reference timings measured with node-seal 7 on Node 24 on a 2-core server (median ms). Clients
 * encrypt with the secret key (symmetric): 3.8 ms at N = 16384 measured by the HE engine
 * against 10 ms with the public key; N = 8192 scaled by the same ratio.
 */
export const REFERENCE_TIMINGS: readonly OpTimingTable[] = [
  {
    ringDegree: 8192,
    dataPrimes: 3,
    ms: ms8192,
    publicEncrypt: 3.4,
    source: 'reference: Node 24 on a 2-core server (N=8192, 3 primes)',
  },
  {
    ringDegree: 16384,
    dataPrimes: 5,
    ms: ms16384,
    publicEncrypt: 10,
    source: 'reference: Node 24 on a 2-core server (N=16384, 5 primes)',
  },
  {
    ringDegree: 32768,
    dataPrimes: 1,
    ms: ms32768PerPrime,
    // A public-key encryption scales with primes + 1: 10 ms / 6 per unit at N = 16384, x 2 x
    // 15/14 for N = 32768, x (1 + 1) for this table's one prime.
    publicEncrypt: (((10 / 6) * 2 * 15) / 14) * 2,
    source: 'reference: extrapolated from N=16384 (per prime)',
  },
];

export interface CostOptions {
  mode?: HeMode;
  /** Samples to infer; the cost covers ceil(samples / batch) chunks. Default: one full batch. */
  samples?: number;
  /** Timing tables; the one for the plan's ring degree is used. Default REFERENCE_TIMINGS. */
  timings?: readonly OpTimingTable[];
  /**
   * 'streamed': every weight tile is encoded (encrypted-model: and public-key encrypted at its
   * layer's level) right before its product, per chunk, instead of once at set-up; that work
   * is priced into each layer. Default 'resident' (set-up is not priced).
   */
  weights?: 'resident' | 'streamed';
}

/**
 * Operand work of one streamed weight tile of a layer entered at `levelIn` (heServerSide's
 * encodeOperand), ms: an encode at the top level (then a plaintext switch down to levelIn, a
 * truncation: not priced), and in the encrypted-model mode a public-key encryption at levelIn.
 * Its counts (encode, encrypt) are what the session reports as modelOps.
 */
export function streamedWeightMs(
  mode: HeMode,
  levelIn: number,
  table: OpTimingTable,
  dataPrimes: number,
): number {
  const encode = (table.ms.encode * dataPrimes) / table.dataPrimes;
  if (mode !== 'encrypted-model') return encode;
  const primes = dataPrimes - levelIn;
  return encode + (publicEncryptMs(table) * (primes + 1)) / (table.dataPrimes + 1);
}

export interface LayerCost {
  readonly layer: number;
  readonly orientation: 'A' | 'B';
  readonly weightTiles: number;
  readonly nonZeroWeightTiles: number;
  /** Tiles multiplied at run time (non-zero, live input, needed output). */
  readonly activeWeightTiles: number;
  readonly inputCiphertexts: number;
  readonly outputCiphertexts: number;
  readonly levelIn: number;
  readonly depth: number;
  /** All chunks. */
  readonly ops: OpCounts;
  readonly rotations: number;
  readonly multiplications: number;
  readonly additions: number;
  readonly maskMultiplications: number;
  readonly modelBytes: number;
  /**
   * Streamed weights only (else zero): the weight encodes (and public-key encryptions) this
   * layer does during inference, all chunks, and their ms (included in predictedMs).
   */
  readonly streamedOps: OpCounts;
  readonly streamedMs: number;
  readonly predictedMs: number;
}

export interface CostReport {
  readonly tile: {
    t1: number;
    t2: number;
    batch: number;
    ringDegree: number;
    slots: number;
    first: 'A' | 'B';
  };
  readonly mode: HeMode;
  readonly samples: number;
  readonly chunks: number;
  readonly heParameters: CkksParameters & { fits: boolean; totalBits: number };
  readonly layers: readonly LayerCost[];
  readonly total: {
    readonly weightTiles: number;
    readonly nonZeroWeightTiles: number;
    /** The model's ciphertexts (plaintexts in plain-model mode): what HE-PEx reduces. */
    readonly weightCiphertexts: number;
    readonly inputCiphertexts: number;
    readonly outputCiphertexts: number;
    readonly depth: number;
    readonly rotationKeys: number;
    readonly ops: OpCounts;
    readonly rotations: number;
    readonly multiplications: number;
    readonly additions: number;
    readonly maskMultiplications: number;
    readonly modelBytes: number;
    readonly inputBytes: number;
    readonly keyBytes: number;
    readonly workingSetBytes: number;
    /** What stays encoded when weight tiles are streamed (encoded per use): biases, constants, one tile. */
    readonly streamedModelBytes: number;
    readonly peakBytes: number;
    /** Weight encodes (and encryptions) during inference when streamed, all layers and chunks. */
    readonly streamedOps: OpCounts;
    readonly streamedMs: number;
    readonly predictedMs: number;
    readonly timingSource: string;
  };
}

const BYTES_PER_COEFF = 8;

/** Bytes of one ciphertext (2 polynomials) or plaintext (1) holding `primes` RNS primes. */
export const polyBytes = (ringDegree: number, primes: number, polys: number): number =>
  polys * primes * ringDegree * BYTES_PER_COEFF;

export function timingFor(
  ringDegree: RingDegree,
  timings: readonly OpTimingTable[],
): OpTimingTable {
  const table = timings.find((t) => t.ringDegree === ringDegree);
  if (!table)
    throw new HepexError('invalid-argument', `No operation timings for ring degree ${ringDegree}.`);
  return table;
}

/** Cost of a key switch at `primes` of `tablePrimes` primes, relative to the table's level. */
export function keySwitchScale(primes: number, tablePrimes: number): number {
  return (primes * (primes + 5)) / (tablePrimes * (tablePrimes + 5));
}

/** ms of `ops` run at `primes` RNS primes. */
export function opsMs(ops: OpCounts, table: OpTimingTable, primes: number): number {
  let ms = 0;
  for (const k of OP_KINDS) {
    const keySwitch = k === 'rotate' || k === 'relinearize';
    const scale = keySwitch ? keySwitchScale(primes, table.dataPrimes) : primes / table.dataPrimes;
    ms += ops[k] * table.ms[k] * scale;
  }
  return ms;
}

/** Cost of an execution plan; the plan fixes the tile shape, liveness and mode. */
export function costOfExecution(exec: ExecutionPlan, options: CostOptions = {}): CostReport {
  const { tile } = exec.plan;
  const N = tile.ringDegree;
  const samples = options.samples ?? tile.batch;
  if (!Number.isInteger(samples) || samples < 1) {
    throw new HepexError(
      'invalid-argument',
      `The sample count must be a whole number of at least 1, got ${samples}.`,
    );
  }
  const chunks = Math.ceil(samples / tile.batch);
  const params = ckksParametersFor(exec.depth, N);
  const dataPrimes = exec.depth + 1;
  const primesAt = (level: number) => dataPrimes - level;
  const table = timingFor(N, options.timings ?? REFERENCE_TIMINGS);
  const modelPolys = exec.mode === 'encrypted-model' ? 2 : 1;

  // One phase of a layer at its level. In the encrypted-model mode the products are
  // 3-polynomial ciphertexts until their sum is relinearized, so the accumulating additions of
  // the product phase (offset 0) move 1.5x the data of the 2-polynomial addition timed.
  const phaseMs = (levelIn: number, phase: LayerPhase): number => {
    const primes = primesAt(levelIn + phase.levelOffset);
    const sizeThree = exec.mode === 'encrypted-model' && phase.levelOffset === 0;
    const extraAdds = sizeThree ? 0.5 * phase.ops.add : 0;
    return opsMs(phase.ops, table, primes) + (extraAdds * table.ms.add * primes) / table.dataPrimes;
  };

  let workingSetBytes = 0;
  let streamedModelBytes = 0;
  const layers: LayerCost[] = exec.layers.map((l, index) => {
    const ops = addOps(zeroOps(), l.ops, chunks);
    const primes = primesAt(l.levelIn);
    const computed = l.computedOutputs.reduce((s, v) => s + v, 0);
    const inputs = l.liveInputs.reduce((s, v) => s + v, 0);
    // Stored model: weight tiles, bias blocks and the activation's / mask's constants, encoded
    // at the level the layer reads them. Streamed weights keep all but the weight tiles
    // resident, plus the one tile being multiplied.
    const constants = (l.quadraticActivation ? 2 : 0) + (l.masked ? 1 : 0);
    const modelBytes =
      (l.activeTileCount + computed + constants) * polyBytes(N, primes, modelPolys);
    streamedModelBytes += (computed + constants + 1) * polyBytes(N, primes, modelPolys);
    // Live at once while a layer runs (heInterpreter): its input ciphertexts (layer 1's are the
    // client's, already in inputBytes), its outputs so far, and at most three temporaries (the
    // accumulator, a product or rotation, a copy for the activation) of up to 3 polynomials
    // before relinearization. Stored ciphertexts are relinearized: 2 polynomials.
    const heldInputs = index === 0 ? 0 : inputs;
    workingSetBytes = Math.max(
      workingSetBytes,
      chunks * ((heldInputs + computed) * polyBytes(N, primes, 2) + 3 * polyBytes(N, primes, 3)),
    );
    const streamedUses = options.weights === 'streamed' ? chunks * l.activeTileCount : 0;
    const streamedOps = zeroOps();
    streamedOps.encode = streamedUses;
    if (exec.mode === 'encrypted-model') streamedOps.encrypt = streamedUses;
    const streamedMs = streamedUses * streamedWeightMs(exec.mode, l.levelIn, table, dataPrimes);
    return {
      layer: index,
      orientation: l.tiling.orientation,
      weightTiles: l.tiling.tileCount,
      nonZeroWeightTiles: l.nonZeroTileCount,
      activeWeightTiles: l.activeTileCount,
      inputCiphertexts: inputs * chunks,
      outputCiphertexts: computed * chunks,
      levelIn: l.levelIn,
      depth: l.depth,
      ops,
      ...summarise(ops),
      modelBytes,
      streamedOps,
      streamedMs,
      predictedMs:
        streamedMs + chunks * l.phases.reduce((ms, phase) => ms + phaseMs(l.levelIn, phase), 0),
    };
  });

  const ops = layers.reduce((acc, l) => addOps(acc, l.ops), zeroOps());
  const clientOps = addOps(zeroOps(), exec.clientOps, chunks);
  addOps(ops, clientOps);
  // Inputs are encoded and encrypted at the top level; outputs decrypted at the last one.
  const { encode, encrypt, decrypt, decode } = clientOps;
  const clientMs =
    opsMs({ ...zeroOps(), encode, encrypt }, table, dataPrimes) +
    opsMs({ ...zeroOps(), decrypt, decode }, table, primesAt(exec.depth));
  // Key-switching keys: relinearization + one Galois key per rotation step, each
  // 2 x dataPrimes x (dataPrimes + 1) x N coefficients.
  const keyCount = exec.rotationSteps.length + 1;
  const keyBytes = keyCount * 2 * dataPrimes * (dataPrimes + 1) * N * BYTES_PER_COEFF;
  const inputBytes = exec.inputCiphertexts * chunks * polyBytes(N, dataPrimes, 2);
  const modelBytes = layers.reduce((s, l) => s + l.modelBytes, 0);
  const predictedMs = layers.reduce((s, l) => s + l.predictedMs, 0) + clientMs;

  return {
    tile: {
      t1: tile.t1,
      t2: tile.t2,
      batch: tile.batch,
      ringDegree: N,
      slots: N / 2,
      first: tile.first,
    },
    mode: exec.mode,
    samples,
    chunks,
    heParameters: {
      ...params,
      fits: fitsSecurity(params),
      totalBits: params.coeffModulusBits.reduce((s, b) => s + b, 0),
    },
    layers,
    total: {
      weightTiles: exec.plan.weightTiles,
      nonZeroWeightTiles: exec.layers.reduce((s, l) => s + l.nonZeroTileCount, 0),
      weightCiphertexts: exec.weightCiphertexts,
      inputCiphertexts: exec.inputCiphertexts * chunks,
      outputCiphertexts: exec.outputCiphertexts * chunks,
      depth: exec.depth,
      rotationKeys: exec.rotationSteps.length,
      ops,
      ...summarise(ops),
      modelBytes,
      inputBytes,
      keyBytes,
      workingSetBytes,
      streamedModelBytes,
      peakBytes: modelBytes + keyBytes + inputBytes + workingSetBytes,
      streamedOps: layers.reduce((acc, l) => addOps(acc, l.streamedOps), zeroOps()),
      streamedMs: layers.reduce((s, l) => s + l.streamedMs, 0),
      predictedMs,
      timingSource: table.source,
    },
  };
}

function summarise(ops: OpCounts) {
  return {
    rotations: ops.rotate,
    multiplications: ops.multiplyPlain + ops.multiply + ops.maskMultiply,
    additions: ops.add + ops.addPlain,
    maskMultiplications: ops.maskMultiply,
  };
}

/** Tile flags of a dense (unpruned) network: every tile non-zero. */
export function denseTileFlags(plan: TilePlan): Uint8Array[] {
  return plan.layers.map((t) => new Uint8Array(t.tileCount).fill(1));
}

/**
 * Tile flags of an unpruned network: every tile, except that a first-layer convolution pays only
 * for its full kernel's copies (the tiles between positions are structural zeros).
 */
export function unprunedTileFlags(plan: TilePlan, conv: ConvGeometry | undefined): Uint8Array[] {
  const flags = denseTileFlags(plan);
  if (conv) flags[0] = fullKernelTileFlags(conv, plan.layers[0]);
  return flags;
}

/** One-call cost of a plan with the given non-zero tiles (default: dense). */
export function costOf(
  plan: TilePlan,
  activations: readonly Activation[],
  nonZeroTiles: readonly Uint8Array[] = denseTileFlags(plan),
  options: CostOptions = {},
): CostReport {
  return costOfExecution(planExecution(plan, nonZeroTiles, activations, options.mode), options);
}

/** The parameters a plan's depth needs at its tile's ring degree, or an error saying why not. */
export function requireFittingParameters(exec: ExecutionPlan): CkksParameters {
  const params = chooseCkksParameters(exec.depth, exec.plan.tile.ringDegree);
  if (params.ringDegree !== exec.plan.tile.ringDegree) {
    throw new HepexError(
      'he-parameters',
      `This network needs ${exec.depth} levels, more than ring degree ${exec.plan.tile.ringDegree} carries at 128-bit security; choose a tile shape for ring degree ${params.ringDegree}.`,
    );
  }
  return params;
}
