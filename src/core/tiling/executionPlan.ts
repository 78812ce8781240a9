import {
  activationCoefficients,
  activationIsQuadratic,
  type Activation,
} from '../model/activation';
import { HepexError } from '../model/errors';
import { orientationOf, type LayerTiling, type TilePlan } from './tilePlan';
import type { TileShape } from './tileShape';

/**
 * What the HE runtime does, decided once from the tile plan and the non-zero tiles. The cost
 * model counts this plan and the SEAL engine executes it, so predicted and measured operation
 * counts agree by construction.
 *
 * Per layer and per batch chunk (b samples in one ciphertext), in order:
 *  1. one product per active weight tile (input ciphertext x weight tile);
 *  2. products of a tile row (A) / tile column (B) added up, relinearized once in the
 *     encrypted-model mode, rescaled once;
 *  3. rotate-and-add over the tile dim being summed: log2(t2) steps of b*2^k in A,
 *     log2(t1) steps of t2*b*2^k in B;
 *  4. bias added (a plaintext, or a ciphertext in the encrypted-model mode);
 *  5. a quadratic activation c0 + c1 x + c2 x^2 as x'(x' + c1/sqrt(c2)) + c0, where the
 *     model preparation has folded sqrt(c2) into W and b: optional addPlain, one multiply,
 *     relinearize, rescale, optional addPlain (one level). Linear activations fold into W, b.
 *  6. in A, when a layer follows and t1, t2 > 1: multiply by a 0/1 mask keeping tile column 0,
 *     rescale, then log2(t2) rotations by -b*2^k with adds to duplicate it over dim 1. With
 *     t1 = 1 the reduction of step 3 wraps around the whole ciphertext (dim 1 is then the
 *     leading dim), so its result is already duplicated: no mask, no level, no rotations.
 *
 * Liveness: an input block is encrypted only if an active tile reads it. An output block is
 * computed only if it is needed downstream and some non-zero tile with a live input feeds it;
 * a needed block with no such tile is the public constant act(bias): the model preparation
 * folds it into the next layer's bias (or, in the last layer, returns it as a constant).
 */

export type HeMode = 'plain-model' | 'encrypted-model';

export const OP_KINDS = [
  'encode',
  'encrypt',
  'decrypt',
  'decode',
  'add',
  'addPlain',
  'multiplyPlain',
  'maskMultiply',
  'multiply',
  'relinearize',
  'rescale',
  'rotate',
] as const;
export type OpKind = (typeof OP_KINDS)[number];
export type OpCounts = Record<OpKind, number>;

export const zeroOps = (): OpCounts => Object.fromEntries(OP_KINDS.map((k) => [k, 0])) as OpCounts;

export function addOps(into: OpCounts, ops: OpCounts, times = 1): OpCounts {
  for (const k of OP_KINDS) into[k] += ops[k] * times;
  return into;
}

export interface LayerExecution {
  readonly tiling: LayerTiling;
  /** 1 per W-frame tile (o * inBlocks + i) that is multiplied at run time. */
  readonly activeTiles: Uint8Array;
  readonly activeTileCount: number;
  /** Non-zero tiles before liveness (a zero tile is never active). */
  readonly nonZeroTileCount: number;
  /** 1 per input block whose ciphertext some active tile reads. */
  readonly liveInputs: Uint8Array;
  /** 1 per output block computed under encryption. */
  readonly computedOutputs: Uint8Array;
  /** 1 per output block that is the public constant act(bias). */
  readonly constantOutputs: Uint8Array;
  /** Active tiles per output block. */
  readonly activePerOutput: Uint32Array;
  /** Rotation steps of the reduction (step 3), slots; positive rotates left. */
  readonly reductionSteps: readonly number[];
  /** Rotation steps of the duplication (step 6), empty when unmasked. */
  readonly duplicationSteps: readonly number[];
  readonly masked: boolean;
  readonly quadraticActivation: boolean;
  /** Levels consumed before this layer starts. */
  readonly levelIn: number;
  /** Levels this layer consumes. */
  readonly depth: number;
  /** Server-side operations for one batch chunk. */
  readonly ops: OpCounts;
  /**
   * The same operations split by the level they run at, as levels past levelIn: products at
   * +0, reduction and bias after the first rescale at +1, and so on. The cost model charges
   * each op at the RNS primes it really works on.
   */
  readonly phases: readonly LayerPhase[];
}

export interface LayerPhase {
  readonly levelOffset: number;
  readonly ops: OpCounts;
}

export interface ExecutionPlan {
  readonly plan: TilePlan;
  readonly mode: HeMode;
  readonly layers: readonly LayerExecution[];
  /** Every rotation step any layer uses: the Galois keys to generate. */
  readonly rotationSteps: readonly number[];
  readonly depth: number;
  /** Client side, per chunk: ciphertexts encrypted (layer 0 live inputs). */
  readonly inputCiphertexts: number;
  /** Client side, per chunk: ciphertexts decrypted (last layer computed outputs). */
  readonly outputCiphertexts: number;
  /** Weight tiles stored and multiplied: the model's ciphertext count. */
  readonly weightCiphertexts: number;
  /** Client-side operations per chunk (encode/encrypt inputs, decrypt/decode outputs). */
  readonly clientOps: OpCounts;
}

const log2 = (n: number): number => Math.round(Math.log2(n));

/**
 * Whether layer `layerIndex` of `layerCount` needs step 6 (mask and duplicate): an A layer
 * (output summed over dim 1 leaves unknowns) that feeds another layer, with t1, t2 > 1.
 */
export function needsMaskAndDuplicate(
  layerIndex: number,
  layerCount: number,
  tile: Pick<TileShape, 't1' | 't2' | 'first'>,
): boolean {
  return (
    orientationOf(layerIndex, tile.first) === 'A' &&
    layerIndex < layerCount - 1 &&
    tile.t1 > 1 &&
    tile.t2 > 1
  );
}
const powerSteps = (count: number, stride: number, sign: 1 | -1): number[] =>
  Array.from({ length: count }, (_, k) => sign * stride * 2 ** k);

/**
 * Builds the execution plan. nonZeroTiles[l][t] is 1 when tile t of layer l (W frame) holds
 * any non-zero weight; activations[l] is layer l's activation.
 */
export function planExecution(
  plan: TilePlan,
  nonZeroTiles: readonly Uint8Array[],
  activations: readonly Activation[],
  mode: HeMode = 'plain-model',
): ExecutionPlan {
  const L = plan.layers.length;
  if (nonZeroTiles.length !== L || activations.length !== L) {
    throw new HepexError(
      'invalid-argument',
      `Expected tile flags and activations for ${L} layers.`,
    );
  }
  plan.layers.forEach((t, l) => {
    if (nonZeroTiles[l].length !== t.tileCount) {
      throw new HepexError(
        'invalid-mask',
        `Layer ${l + 1} has ${t.tileCount} tiles but ${nonZeroTiles[l].length} flags were given.`,
      );
    }
  });
  const { t1, t2, batch } = plan.tile;

  // Forward: which blocks carry encrypted data. Layer 0 inputs are all encryptable.
  const liveIn: Uint8Array[] = [];
  const liveOut: Uint8Array[] = [];
  for (let l = 0; l < L; l++) {
    const t = plan.layers[l];
    const inLive = l === 0 ? new Uint8Array(t.inBlocks).fill(1) : liveOut[l - 1];
    const outLive = new Uint8Array(t.outBlocks);
    const nz = nonZeroTiles[l];
    for (let o = 0; o < t.outBlocks; o++) {
      for (let i = 0; i < t.inBlocks; i++) {
        if (nz[o * t.inBlocks + i] && inLive[i]) {
          outLive[o] = 1;
          break;
        }
      }
    }
    liveIn.push(inLive);
    liveOut.push(outLive);
  }

  // Backward: which output blocks someone downstream reads. The last layer's are all read.
  const needed: Uint8Array[] = new Array(L);
  needed[L - 1] = new Uint8Array(plan.layers[L - 1].outBlocks).fill(1);
  for (let l = L - 1; l > 0; l--) {
    const t = plan.layers[l];
    const prev = new Uint8Array(t.inBlocks);
    const nz = nonZeroTiles[l];
    for (let o = 0; o < t.outBlocks; o++) {
      if (!needed[l][o]) continue;
      for (let i = 0; i < t.inBlocks; i++) if (nz[o * t.inBlocks + i]) prev[i] = 1;
    }
    needed[l - 1] = prev;
  }

  const layers: LayerExecution[] = [];
  let level = 0;
  for (let l = 0; l < L; l++) {
    const tiling = plan.layers[l];
    const nz = nonZeroTiles[l];
    const activeTiles = new Uint8Array(tiling.tileCount);
    const activePerOutput = new Uint32Array(tiling.outBlocks);
    const liveInputs = new Uint8Array(tiling.inBlocks);
    const computedOutputs = new Uint8Array(tiling.outBlocks);
    const constantOutputs = new Uint8Array(tiling.outBlocks);
    let activeTileCount = 0;
    let nonZeroTileCount = 0;
    for (let o = 0; o < tiling.outBlocks; o++) {
      for (let i = 0; i < tiling.inBlocks; i++) {
        const k = o * tiling.inBlocks + i;
        if (!nz[k]) continue;
        nonZeroTileCount++;
        if (needed[l][o] && liveIn[l][i]) {
          activeTiles[k] = 1;
          activePerOutput[o]++;
          liveInputs[i] = 1;
          activeTileCount++;
        }
      }
      if (activePerOutput[o] > 0) computedOutputs[o] = 1;
      else if (needed[l][o]) constantOutputs[o] = 1;
    }
    const quadraticActivation = activationIsQuadratic(activations[l]);
    const masked = needsMaskAndDuplicate(l, L, plan.tile);
    const reductionSteps =
      tiling.orientation === 'A'
        ? powerSteps(log2(t2), batch, 1)
        : powerSteps(log2(t1), t2 * batch, 1);
    const duplicationSteps = masked ? powerSteps(log2(t2), batch, -1) : [];
    const depth = 1 + (quadraticActivation ? 1 : 0) + (masked ? 1 : 0);
    const phases = countLayerOps({
      mode,
      activeTileCount,
      computed: computedOutputs.reduce((s, v) => s + v, 0),
      reductionRotations: reductionSteps.length,
      duplicationRotations: duplicationSteps.length,
      activation: quadraticActivation ? activationCoefficients(activations[l]) : null,
      masked,
    });
    const ops = phases.reduce((sum, phase) => addOps(sum, phase.ops), zeroOps());
    layers.push({
      tiling,
      activeTiles,
      activeTileCount,
      nonZeroTileCount,
      liveInputs,
      computedOutputs,
      constantOutputs,
      activePerOutput,
      reductionSteps,
      duplicationSteps,
      masked,
      quadraticActivation,
      levelIn: level,
      depth,
      ops,
      phases,
    });
    level += depth;
  }

  const rotationSteps = [
    ...new Set(layers.flatMap((l) => [...l.reductionSteps, ...l.duplicationSteps])),
  ].sort((a, b) => a - b);
  const inputCiphertexts = layers[0].liveInputs.reduce((s, v) => s + v, 0);
  const outputCiphertexts = layers[L - 1].computedOutputs.reduce((s, v) => s + v, 0);
  const clientOps = zeroOps();
  clientOps.encode = inputCiphertexts;
  clientOps.encrypt = inputCiphertexts;
  clientOps.decrypt = outputCiphertexts;
  clientOps.decode = outputCiphertexts;
  return {
    plan,
    mode,
    layers,
    rotationSteps,
    depth: level,
    inputCiphertexts,
    outputCiphertexts,
    weightCiphertexts: layers.reduce((s, l) => s + l.activeTileCount, 0),
    clientOps,
  };
}

interface LayerOpInputs {
  mode: HeMode;
  activeTileCount: number;
  computed: number;
  reductionRotations: number;
  duplicationRotations: number;
  /** Ascending coefficients of a quadratic activation, or null for none/linear. */
  activation: readonly number[] | null;
  masked: boolean;
}

/**
 * Server operations of one layer for one batch chunk, following steps 1-6 above, grouped by
 * the level they run at (each rescale moves the accumulator one level down).
 */
function countLayerOps(x: LayerOpInputs): LayerPhase[] {
  const O = x.computed;
  const encrypted = x.mode === 'encrypted-model';
  const phases: LayerPhase[] = [];
  let levelOffset = 0;
  let ops = zeroOps();
  const rescale = () => {
    ops.rescale += O;
    phases.push({ levelOffset, ops });
    levelOffset++;
    ops = zeroOps();
  };
  // 1-2: products, accumulation, (relinearize), rescale.
  if (encrypted) {
    ops.multiply += x.activeTileCount;
    ops.relinearize += O;
  } else {
    ops.multiplyPlain += x.activeTileCount;
  }
  ops.add += x.activeTileCount - O;
  rescale();
  // 3: rotate-and-add.
  ops.rotate += O * x.reductionRotations;
  ops.add += O * x.reductionRotations;
  // 4: bias.
  if (encrypted) ops.add += O;
  else ops.addPlain += O;
  // 5: activation x'(x' + c1/sqrt(c2)) + c0.
  if (x.activation) {
    const [c0 = 0, c1 = 0] = x.activation;
    if (c1 !== 0) ops.addPlain += O;
    ops.multiply += O;
    ops.relinearize += O;
    rescale();
    if (c0 !== 0) ops.addPlain += O;
  }
  // 6: mask and duplicate.
  if (x.masked) {
    ops.maskMultiply += O;
    rescale();
    ops.rotate += O * x.duplicationRotations;
    ops.add += O * x.duplicationRotations;
  }
  phases.push({ levelOffset, ops });
  return phases;
}
