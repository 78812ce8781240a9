import { activationCoefficients, activationIsQuadratic } from '../model/activation';
import { chooseCkksParameters, maxDepth, type CkksParameters } from './ckksParameters';
import { costOfExecution } from './costModel';
import { HepexError } from '../model/errors';
import {
  needsMaskAndDuplicate,
  planExecution,
  type ExecutionPlan,
  type HeMode,
  type OpCounts,
} from '../tiling/executionPlan';
import { packInputBlock, unpackOutputBlock, type FloatMatrix } from './hePacking';
import { im2col } from '../model/conv';
import {
  convolutionOf,
  forwardDenseView,
  inputWidth,
  layerSizes,
  validateNetwork,
  type ConvGeometry,
  type Network,
  type Task,
} from '../model/network';
import {
  checkPermutation,
  permuteRows,
  unpermuteRows,
  type NetworkPermutation,
  type Permutation,
} from '../model/permutation';
import { countTileNonZeros, nonZeroTileFlags, planTiles } from '../tiling/tilePlan';
import {
  createTileShape,
  DEFAULT_FIRST_ORIENTATION,
  RING_DEGREES,
  type Orientation,
  type RingDegree,
  type TileShape,
} from '../tiling/tileShape';

/**
 * A network prepared for the HE runtime (pure: no SEAL). What preparation does, so the
 * runtime only executes the plan (executionPlan.ts, steps 1-6):
 *  - activations folded into W and b: a linear c0 + c1 z becomes W' = c1 W, b' = c1 b + c0;
 *    a quadratic c0 + c1 z + c2 z^2 (c2 > 0) becomes W' = sqrt(c2) W, b' = sqrt(c2) b, evaluated
 *    as z'(z' + shift) + offset with shift = c1 / sqrt(c2), offset = c0 (one level);
 *  - tile flags from the folded weights (a tile is skipped iff all its weights are 0);
 *  - constant folding: an output block the runtime does not compute is the public constant
 *    act(b'); its contribution W'[:, block] * act(b') is added to the next layer's bias, and in
 *    the last layer it is returned as a constant;
 *  - CKKS parameters for the plan's depth at the tile's ring degree (or a clear error).
 */
export interface QuadraticStep {
  /** c1 / sqrt(c2): added before the square (an addPlain when non-zero). */
  readonly shift: number;
  /** c0: added after (an addPlain when non-zero). */
  readonly offset: number;
}

export interface HeLayer {
  /** Folded weights, outputs x inputs (float64: folding must not lose float32 precision). */
  readonly weights: FloatMatrix & { readonly data: Float64Array };
  /** Folded bias plus the constants of dead input blocks, length outputs. */
  readonly bias: Float64Array;
  readonly quadratic: QuadraticStep | null;
}

export interface HeModel {
  readonly task: Task;
  readonly tile: TileShape;
  readonly mode: HeMode;
  /** [inputs, h1, ..., outputs] in the dense view (inputs: im2col patch values for a conv-first network). */
  readonly sizes: readonly number[];
  /** Values per sample the client gives: raw NHWC pixels for a conv-first network, else sizes[0]. */
  readonly inputWidth: number;
  /** A conv-first network's geometry: the client packs im2col patches before the input order. */
  readonly conv: ConvGeometry | null;
  readonly layers: readonly HeLayer[];
  readonly exec: ExecutionPlan;
  readonly params: CkksParameters;
  /** Client-side input order (applied before encryption), or null for identity. */
  readonly inputOrder: Permutation | null;
  /** Client-side output order (undone after decryption), or null for identity. */
  readonly outputOrder: Permutation | null;
  /** Last layer: the public constant of each output unit not computed under HE, else NaN. */
  readonly constantOutputs: Float64Array;
}

export interface PrepareOptions {
  readonly mode?: HeMode;
  readonly permutation?: NetworkPermutation;
}

/** Evaluates the runtime's form of the activation on a folded pre-activation z'. */
export const runtimeActivation = (q: QuadraticStep | null, z: number): number =>
  q ? z * (z + q.shift) + q.offset : z;

function foldLayer(network: Network, l: number): HeLayer {
  const layer = network.layers[l];
  const { rows, cols, data } = layer.weights;
  const c = activationCoefficients(layer.activation);
  let scale: number;
  let add = 0;
  let quadratic: QuadraticStep | null = null;
  if (activationIsQuadratic(layer.activation)) {
    scale = Math.sqrt(c[2]);
    quadratic = { shift: (c[1] ?? 0) / scale, offset: c[0] ?? 0 };
  } else {
    scale = c[1] ?? 0;
    add = c[0] ?? 0;
  }
  const w = new Float64Array(data.length);
  for (let k = 0; k < w.length; k++) w[k] = data[k] * scale;
  const bias = new Float64Array(rows);
  for (let r = 0; r < rows; r++) bias[r] = layer.bias[r] * scale + add;
  return { weights: { rows, cols, data: w }, bias, quadratic };
}

/** Multiplicative depth of a network under a tile shape (independent of the ring degree). */
export function heDepth(network: Network, tile: Pick<TileShape, 't1' | 't2' | 'first'>): number {
  const L = network.layers.length;
  let depth = 0;
  network.layers.forEach((layer, l) => {
    const masked = needsMaskAndDuplicate(l, L, tile);
    depth += 1 + (activationIsQuadratic(layer.activation) ? 1 : 0) + (masked ? 1 : 0);
  });
  return depth;
}

/**
 * The t1 x t2 tile at the smallest ring degree whose 128-bit modulus chain carries the
 * network's depth (at least `minRingDegree`). Throws `he-parameters` when none does.
 */
export function chooseHeTile(
  network: Network,
  sides: Pick<TileShape, 't1' | 't2'> & { readonly first?: Orientation },
  minRingDegree: RingDegree = 8192,
): TileShape {
  const { t1, t2 } = sides;
  const first = sides.first ?? DEFAULT_FIRST_ORIENTATION;
  const params = chooseCkksParameters(heDepth(network, { t1, t2, first }), minRingDegree);
  return createTileShape(t1, t2, { ringDegree: params.ringDegree, first });
}

/** A ring degree as a person chooses it: a fixed one, or the smallest that is secure for the depth. */
export type RingChoice = 'auto' | RingDegree;

export interface ResolvedRing {
  /** What the cost model prices: the choice, or the smallest secure one for 'auto'. */
  readonly ringDegree: RingDegree;
  /** The smallest ring degree carrying the depth at 128-bit security; null when none does. */
  readonly secure: RingDegree | null;
  readonly depth: number;
}

/**
 * The ring degree of a choice for a network and tile sides. An explicit choice is kept even when
 * it is too small for the depth (the studio prices it and says why it is insecure); an encrypted
 * run then uses `runRingDegree`.
 */
export function resolveRing(
  network: Network,
  sides: Pick<TileShape, 't1' | 't2' | 'first'>,
  choice: RingChoice,
): ResolvedRing {
  const depth = heDepth(network, sides);
  let secure: RingDegree | null;
  try {
    secure = chooseCkksParameters(depth).ringDegree;
  } catch {
    secure = null;
  }
  const ringDegree = choice === 'auto' ? (secure ?? RING_DEGREES[RING_DEGREES.length - 1]) : choice;
  return { ringDegree, secure, depth };
}

/** The ring degree an encrypted run uses for a choice: never below what the depth needs. */
export function runRingDegree(ring: ResolvedRing): RingDegree | null {
  if (ring.secure === null) return null;
  return ring.secure > ring.ringDegree ? ring.secure : ring.ringDegree;
}

/** Prepares a network for the HE runtime under a tile shape. */
export function prepareHeModel(
  network: Network,
  tile: TileShape,
  options: PrepareOptions = {},
): HeModel {
  validateNetwork(network);
  const mode = options.mode ?? 'plain-model';
  const sizes = layerSizes(network);
  const L = network.layers.length;
  const plan = planTiles(sizes, tile);
  const folded = network.layers.map((_, l) => foldLayer(network, l));
  const flags = folded.map((f, l) => {
    const w = f.weights.data;
    const mask = { rows: f.weights.rows, cols: f.weights.cols, data: new Uint8Array(w.length) };
    for (let k = 0; k < w.length; k++) mask.data[k] = w[k] !== 0 ? 1 : 0;
    return nonZeroTileFlags(countTileNonZeros(mask, plan.layers[l]));
  });
  const exec = planExecution(
    plan,
    flags,
    network.layers.map((layer) => layer.activation),
    mode,
  );
  const params = chooseCkksParameters(exec.depth, tile.ringDegree);
  if (params.ringDegree !== tile.ringDegree) {
    throw new HepexError(
      'he-parameters',
      `This network needs ${exec.depth} multiplicative levels; ring degree ${tile.ringDegree} carries at most ${maxDepth(tile.ringDegree)} at 128-bit security. Use a tile for ring degree ${params.ringDegree} (batch ${params.ringDegree / 2 / (tile.t1 * tile.t2)} for ${tile.t1}x${tile.t2}).`,
    );
  }

  // Constant folding, first layer to last: bias += W'[:, dead] * const(dead).
  let previous: Float64Array | null = null; // constants of the previous layer's dead units (NaN: computed)
  const layers: HeLayer[] = [];
  for (let l = 0; l < L; l++) {
    const f = folded[l];
    const t = exec.layers[l].tiling;
    const bias = Float64Array.from(f.bias);
    if (previous) {
      const { cols, data } = f.weights;
      for (let c = 0; c < cols; c++) {
        const v = previous[c];
        if (Number.isNaN(v) || v === 0) continue;
        for (let r = 0; r < f.weights.rows; r++) bias[r] += data[r * cols + c] * v;
      }
    }
    const constants = new Float64Array(t.outputs).fill(Number.NaN);
    const computed = exec.layers[l].computedOutputs;
    for (let o = 0; o < t.outBlocks; o++) {
      if (computed[o]) continue;
      const end = Math.min(t.outputs, (o + 1) * t.blockOut);
      for (let u = o * t.blockOut; u < end; u++)
        constants[u] = runtimeActivation(f.quadratic, bias[u]);
    }
    layers.push({ weights: f.weights, bias, quadratic: f.quadratic });
    previous = constants;
  }

  const perm = options.permutation;
  return {
    task: network.task,
    tile,
    mode,
    sizes,
    inputWidth: inputWidth(network),
    conv: convolutionOf(network) ?? null,
    layers,
    exec,
    params,
    inputOrder: perm ? checkPermutation(perm.input, sizes[0], 'The input permutation') : null,
    outputOrder: perm ? checkPermutation(perm.output, sizes[L], 'The output permutation') : null,
    constantOutputs: previous ?? new Float64Array(0),
  };
}

/** Batch chunks of `samples`: b samples per ciphertext. */
export function chunksOf(model: HeModel, samples: number): { start: number; count: number }[] {
  const b = model.tile.batch;
  return Array.from({ length: Math.ceil(samples / b) }, (_, k) => ({
    start: k * b,
    count: Math.min(b, samples - k * b),
  }));
}

/**
 * Client side, before encryption: checks the input (samples x inputWidth, finite), packs
 * im2col patches for a conv-first network (samples x sizes[0]) and applies the input
 * permutation to those columns. Returns the rows in the network's input order.
 */
export function orderInputs(model: HeModel, inputs: Float32Array, samples: number): Float32Array {
  const width = model.inputWidth;
  if (!Number.isInteger(samples) || samples < 1) {
    throw new HepexError(
      'invalid-argument',
      `The sample count must be a whole number of at least 1, got ${samples}.`,
    );
  }
  if (inputs.length !== samples * width) {
    throw new HepexError(
      'invalid-argument',
      `The model takes ${width} inputs per sample: ${samples} samples need ${samples * width} values, got ${inputs.length}.`,
    );
  }
  for (let k = 0; k < inputs.length; k++) {
    if (!Number.isFinite(inputs[k]))
      throw new HepexError(
        'invalid-argument',
        `Input value ${k} is ${inputs[k]}; inputs must be finite numbers.`,
      );
  }
  const patched = model.conv ? im2col(model.conv, inputs, samples) : inputs;
  return model.inputOrder ? permuteRows(patched, model.inputOrder, samples) : patched;
}

/** Slot vectors to encrypt for one chunk: one per live input block of layer 0 (null: skipped). */
export function packChunkInputs(
  model: HeModel,
  ordered: Float32Array,
  chunk: { start: number; count: number },
): (Float64Array | null)[] {
  const first = model.exec.layers[0];
  return Array.from(first.liveInputs, (live, i) =>
    live ? packInputBlock(first.tiling, model.tile, ordered, chunk.start, chunk.count, i) : null,
  );
}

/**
 * Client side, after decryption: decoded slot vectors per chunk and last-layer output block
 * (null where not computed) into samples x outputs, constants filled in, output order undone.
 */
export function unpackOutputs(
  model: HeModel,
  decoded: readonly (readonly (ArrayLike<number> | null)[])[],
  samples: number,
): Float32Array {
  const last = model.exec.layers[model.exec.layers.length - 1];
  const width = last.tiling.outputs;
  const y = new Float32Array(samples * width);
  chunksOf(model, samples).forEach((chunk, k) => {
    for (let s = 0; s < chunk.count; s++) {
      for (let u = 0; u < width; u++) {
        const v = model.constantOutputs[u];
        if (!Number.isNaN(v)) y[(chunk.start + s) * width + u] = v;
      }
    }
    decoded[k].forEach((slots, o) => {
      if (slots) unpackOutputBlock(last.tiling, model.tile, slots, o, y, chunk.start, chunk.count);
    });
  });
  return model.outputOrder ? unpermuteRows(y, model.outputOrder, samples) : y;
}

/** The operation counts one inference of `samples` must produce: the cost model's total. */
export function expectedOps(model: HeModel, samples: number): OpCounts {
  return costOfExecution(model.exec, { samples }).total.ops;
}

/**
 * The plaintext reference of what the client gets back: forward pass of the network on the
 * client-packed (patched, permuted) inputs, output order undone. Compare decrypted outputs with this.
 */
export function referenceOutputs(
  model: HeModel,
  network: Network,
  inputs: Float32Array,
  samples: number,
): Float32Array {
  const y = forwardDenseView(network, orderInputs(model, inputs, samples), samples);
  return model.outputOrder ? unpermuteRows(y, model.outputOrder, samples) : y;
}
