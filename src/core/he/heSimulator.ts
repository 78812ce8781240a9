import { zeroOps, type OpCounts } from '../tiling/executionPlan';
import { interpretChunk, type HeBackend, type HeOperands } from './heInterpreter';
import { chunksOf, orderInputs, packChunkInputs, unpackOutputs, type HeModel } from './heModel';
import { packBias, packColumnMask, packConstant, packWeightTile } from './hePacking';

/**
 * Slot vectors of the model's operands, computed on demand (a 784-wide layer has thousands of
 * tiles; nobody should hold them all as float64 at once). The SEAL engine encodes from these.
 */
export function operandVectors(model: HeModel): HeOperands<Float64Array, Float64Array> {
  const { tile } = model;
  return {
    weight: (l, k) => packWeightTile(model.exec.layers[l].tiling, tile, model.layers[l].weights, k),
    bias: (l, o) => packBias(model.exec.layers[l].tiling, tile, model.layers[l].bias, o),
    shift: (l) => {
      const q = model.layers[l].quadratic;
      return q && q.shift !== 0 ? packConstant(tile, q.shift) : null;
    },
    offset: (l) => {
      const q = model.layers[l].quadratic;
      return q && q.offset !== 0 ? packConstant(tile, q.offset) : null;
    },
    mask: () => packColumnMask(tile),
  };
}

/**
 * Exact arithmetic on plain slot vectors with CKKS's rotation semantics (cyclic over all
 * slots, positive steps rotate left). Running the interpreter on it checks the packing and
 * the plan without encryption noise: its outputs equal the forward pass to float64 rounding.
 */
export const simulatorBackend: HeBackend<Float64Array, Float64Array, Float64Array> = {
  multiplyModel: (x, w) => x.map((v, j) => v * w[j]),
  addModel: (x, b) => addInto(x, b),
  add: (into, x) => addInto(into, x),
  addPlain: (into, p) => addInto(into, p),
  multiply: (x, y) => x.map((v, j) => v * y[j]),
  multiplyPlain: (x, p) => x.map((v, j) => v * p[j]),
  relinearize: () => {},
  rescale: () => {},
  rotate: (x, step) => {
    const n = x.length;
    const out = new Float64Array(n);
    const s = ((step % n) + n) % n;
    for (let j = 0; j < n; j++) out[j] = x[(j + s) % n];
    return out;
  },
  copy: (x) => Float64Array.from(x),
  free: () => {},
};

function addInto(into: Float64Array, x: Float64Array): void {
  for (let j = 0; j < into.length; j++) into[j] += x[j];
}

/** Runs the whole client + server pipeline on the simulator. */
export async function simulateInference(
  model: HeModel,
  inputs: Float32Array,
  samples: number,
): Promise<{ outputs: Float32Array; ops: OpCounts }> {
  const ops = zeroOps();
  const ordered = orderInputs(model, inputs, samples);
  const operands = operandVectors(model);
  const decoded: (Float64Array | null)[][] = [];
  for (const chunk of chunksOf(model, samples)) {
    const packed = packChunkInputs(model, ordered, chunk);
    for (const p of packed) {
      if (p) {
        ops.encode++;
        ops.encrypt++;
      }
    }
    const out = await interpretChunk(model, simulatorBackend, operands, packed, ops);
    for (const c of out) {
      if (c) {
        ops.decrypt++;
        ops.decode++;
      }
    }
    decoded.push(out);
  }
  return { outputs: unpackOutputs(model, decoded, samples), ops };
}
