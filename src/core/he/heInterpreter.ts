import { HepexError, throwIfAborted } from '../model/errors';
import { OP_KINDS, zeroOps, type OpCounts } from '../tiling/executionPlan';
import type { HeModel } from './heModel';

/**
 * The HE runtime as an interpreter of the execution plan (executionPlan.ts, steps 1-6). It
 * walks the plan and calls a backend for every primitive, counting each call under the same
 * name the cost model counts, so measured and predicted counts agree by construction and any
 * drift is a test failure. Backends: SEAL CKKS (src/engines/seal) and an exact slot-vector
 * simulator (heSimulator.ts) that checks the packing without WASM.
 *
 * C is a ciphertext handle, M a model operand (plaintext in the plain-model mode, ciphertext
 * in the encrypted-model mode), P a plaintext.
 */
export interface HeBackend<C, M, P> {
  /** step 1: x * w (plain: multiplyPlain; encrypted: multiply, not yet relinearized). New. */
  multiplyModel(x: C, w: M): C;
  /** step 4: x += bias (plain: addPlain; encrypted: add). */
  addModel(x: C, bias: M): void;
  add(into: C, x: C): void;
  addPlain(into: C, p: P): void;
  /** ct x ct. New, not relinearized. */
  multiply(x: C, y: C): C;
  multiplyPlain(x: C, p: P): C;
  relinearize(x: C): void;
  /** Drops one level; the backend keeps the scale at the nominal 2^scaleBits. */
  rescale(x: C): void;
  /** New ciphertext rotated left by `step` slots. */
  rotate(x: C, step: number): C;
  copy(x: C): C;
  free(x: C): void;
}

/** The model's operands as the backend holds them (weights encoded or encrypted at their level). */
export interface HeOperands<M, P> {
  weight(layer: number, tileIndex: number): M;
  bias(layer: number, outBlock: number): M;
  /** shift (c1 / sqrt(c2)) of a quadratic layer, null when zero. */
  shift(layer: number): P | null;
  /** offset (c0) of a quadratic layer, null when zero. */
  offset(layer: number): P | null;
  /** The tile-column-0 mask of masked layers. */
  mask(layer: number): P;
  /**
   * Called once a weight operand has been used, for backends that encode weights on the fly
   * (a model too big to hold encoded) and free them right after the product.
   */
  releaseWeight?(layer: number, tileIndex: number, operand: M): void;
}

export interface InterpretOptions {
  readonly signal?: AbortSignal;
  /** Called after each output block: (done, total) blocks of this chunk. */
  readonly onBlock?: (done: number, total: number) => void;
  /** Awaited between output blocks so a worker can receive a cancel message. */
  readonly yieldNow?: () => Promise<void>;
  /**
   * Clock in ms (e.g. `() => performance.now()`) for `onLayer`; passed in so the interpreter
   * stays free of timing globals. Without it `onLayer` reports NaN ms.
   */
  readonly now?: () => number;
  /**
   * Called once a layer is done on this chunk (its outputs computed and its inputs freed):
   * layer index, wall time in ms from the layer's first operation to here (including any
   * `yieldNow` waits and on-the-fly weight encodes), and the operations it counted.
   */
  readonly onLayer?: (layer: number, ms: number, ops: OpCounts) => void;
}

/**
 * Runs every layer on one batch chunk. `inputs[i]` is layer 0's input block i (null where the
 * plan does not encrypt it); they stay owned by the caller. Returns the last layer's output
 * blocks (null where the output is a public constant), owned by the caller. Counts into `ops`.
 */
export async function interpretChunk<C, M, P>(
  model: HeModel,
  backend: HeBackend<C, M, P>,
  operands: HeOperands<M, P>,
  inputs: readonly (C | null)[],
  ops: OpCounts = zeroOps(),
  options: InterpretOptions = {},
): Promise<(C | null)[]> {
  const { exec } = model;
  const first = exec.layers[0];
  if (inputs.length !== first.tiling.inBlocks) {
    throw new HepexError(
      'invalid-argument',
      `Layer 1 reads ${first.tiling.inBlocks} input blocks, got ${inputs.length}.`,
    );
  }
  first.liveInputs.forEach((live, i) => {
    if (live && !inputs[i])
      throw new HepexError('invalid-argument', `Input block ${i} is needed but was not encrypted.`);
  });
  const total = exec.layers.reduce((s, l) => s + l.computedOutputs.reduce((a, v) => a + v, 0), 0);
  let done = 0;
  let current: readonly (C | null)[] = inputs;
  const freeAll = (blocks: readonly (C | null)[]) => {
    for (const c of blocks) if (c) backend.free(c);
  };
  const now = options.now ?? (() => Number.NaN);
  for (let l = 0; l < exec.layers.length; l++) {
    // Counts before this layer, so onLayer gets the layer's own operations.
    const opsBefore = options.onLayer ? { ...ops } : null;
    const layerStart = now();
    let outputs: (C | null)[];
    try {
      outputs = await interpretLayer(model, backend, operands, l, current, null, ops, {
        ...options,
        onBlock: () => options.onBlock?.(++done, total),
      });
    } catch (error) {
      if (current !== inputs) freeAll(current);
      throw error;
    }
    if (current !== inputs) freeAll(current);
    current = outputs;
    if (options.onLayer && opsBefore) {
      const layerOps = zeroOps();
      for (const k of OP_KINDS) layerOps[k] = ops[k] - opsBefore[k];
      options.onLayer(l, now() - layerStart, layerOps);
    }
  }
  return current as (C | null)[];
}

/**
 * One layer of the plan on one chunk: output blocks `blocks` (default every computed block;
 * a worker pool gives each worker its share), reading `current`, the layer's input blocks,
 * which stay owned by the caller. Returns the layer's outputs, null where not computed here.
 * Blocks are independent of each other, so any split of them across workers computes the same
 * ciphertexts with the same operations in total. `onBlock` is called with (1, 1) after each.
 */
export async function interpretLayer<C, M, P>(
  model: HeModel,
  backend: HeBackend<C, M, P>,
  operands: HeOperands<M, P>,
  l: number,
  current: readonly (C | null)[],
  blocks: readonly number[] | null,
  ops: OpCounts,
  options: InterpretOptions = {},
): Promise<(C | null)[]> {
  const layer = model.exec.layers[l];
  const t = layer.tiling;
  const outputs: (C | null)[] = new Array<C | null>(t.outBlocks).fill(null);
  const order = blocks ?? Array.from({ length: t.outBlocks }, (_, o) => o);
  try {
    for (const o of order) {
      if (!layer.computedOutputs[o]) continue;
      throwIfAborted(options.signal);
      const acc = accumulateBlock(model, backend, operands, l, o, current, null, ops);
      if (acc === null)
        throw new HepexError('he-runtime', `Layer ${l + 1} output block ${o} has no active tile.`);
      outputs[o] = finishBlock(model, backend, operands, l, o, acc, ops);
      options.onBlock?.(1, 1);
      if (options.yieldNow) await options.yieldNow();
    }
  } catch (error) {
    for (const c of outputs) if (c) backend.free(c);
    throw error;
  }
  return outputs;
}

/**
 * Steps 1-2 for output block o: the products of its active tiles whose input block passes
 * `inputs` (default all), added up; not yet relinearized or rescaled. Null when no tile is
 * taken. The sum is exact modular arithmetic, so partial sums over disjoint input sets added
 * later give the same ciphertext with the same number of additions in total.
 */
export function accumulateBlock<C, M, P>(
  model: HeModel,
  backend: HeBackend<C, M, P>,
  operands: HeOperands<M, P>,
  l: number,
  o: number,
  current: readonly (C | null)[],
  inputs: ((i: number) => boolean) | null,
  ops: OpCounts,
): C | null {
  const layer = model.exec.layers[l];
  const t = layer.tiling;
  const encrypted = model.mode === 'encrypted-model';
  let acc: C | null = null;
  try {
    for (let i = 0; i < t.inBlocks; i++) {
      const k = o * t.inBlocks + i;
      if (!layer.activeTiles[k] || (inputs && !inputs(i))) continue;
      const x = current[i];
      if (!x)
        throw new HepexError(
          'he-runtime',
          `Layer ${l + 1} tile ${k} reads input block ${i}, which was not computed.`,
        );
      const w = operands.weight(l, k);
      let product: C;
      try {
        product = backend.multiplyModel(x, w);
      } finally {
        operands.releaseWeight?.(l, k, w);
      }
      if (encrypted) ops.multiply++;
      else ops.multiplyPlain++;
      if (acc === null) acc = product;
      else {
        backend.add(acc, product);
        ops.add++;
        backend.free(product);
      }
    }
  } catch (error) {
    if (acc !== null) backend.free(acc);
    throw error;
  }
  return acc;
}

/**
 * Steps 2-6 for output block o from its accumulated products `acc` (consumed): relinearize
 * (encrypted-model), rescale, rotate-and-add, bias, activation, mask and duplicate.
 */
export function finishBlock<C, M, P>(
  model: HeModel,
  backend: HeBackend<C, M, P>,
  operands: HeOperands<M, P>,
  l: number,
  o: number,
  start: C,
  ops: OpCounts,
): C {
  const layer = model.exec.layers[l];
  const encrypted = model.mode === 'encrypted-model';
  let acc: C | null = start;
  try {
    if (encrypted) {
      backend.relinearize(acc);
      ops.relinearize++;
    }
    backend.rescale(acc);
    ops.rescale++;
    // 3: rotate-and-add over the summed tile dim.
    acc = rotateAndAdd(backend, acc, layer.reductionSteps, ops);
    // 4: bias.
    backend.addModel(acc, operands.bias(l, o));
    if (encrypted) ops.add++;
    else ops.addPlain++;
    // 5: quadratic activation x'(x' + shift) + offset.
    if (layer.quadraticActivation) {
      const shifted = backend.copy(acc);
      try {
        const shift = operands.shift(l);
        if (shift) {
          backend.addPlain(shifted, shift);
          ops.addPlain++;
        }
        const squared = backend.multiply(acc, shifted);
        ops.multiply++;
        backend.free(acc);
        acc = squared;
      } finally {
        backend.free(shifted);
      }
      backend.relinearize(acc);
      ops.relinearize++;
      backend.rescale(acc);
      ops.rescale++;
      const offset = operands.offset(l);
      if (offset) {
        backend.addPlain(acc, offset);
        ops.addPlain++;
      }
    }
    // 6: keep tile column 0, then duplicate it over dim 1.
    if (layer.masked) {
      const masked = backend.multiplyPlain(acc, operands.mask(l));
      ops.maskMultiply++;
      backend.free(acc);
      acc = masked;
      backend.rescale(acc);
      ops.rescale++;
      acc = rotateAndAdd(backend, acc, layer.duplicationSteps, ops);
    }
    const done = acc;
    acc = null;
    return done;
  } finally {
    if (acc !== null) backend.free(acc);
  }
}

/** acc + rot(acc, s1), then + rot(., s2), ...: one rotation and one addition per step. */
function rotateAndAdd<C>(
  backend: HeBackend<C, unknown, unknown>,
  acc: C,
  steps: readonly number[],
  ops: OpCounts,
): C {
  for (const step of steps) {
    const rotated = backend.rotate(acc, step);
    ops.rotate++;
    backend.add(acc, rotated);
    ops.add++;
    backend.free(rotated);
  }
  return acc;
}
