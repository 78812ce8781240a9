import * as onnxProto from 'onnx-proto';
import type { onnx as Onnx } from 'onnx-proto';
import { HepexError } from '../../core/model/errors';
import { MAX_LAYER_SIZE } from '../../core/model/layers';
import { MAX_WEIGHT_BYTES } from '../../core/io/modelFileChecks';

/**
 * The ONNX protobuf as the importer reads it: decoding behind a size check, tensors (initializers
 * and Constant nodes) as flat typed arrays with their shape, node attributes, and the one error
 * every malformed or unsupported file gets.
 */

// onnx-proto is protobufjs-generated CommonJS: Node's ESM loader exposes it as `default`,
// bundlers as named exports.
const proto = onnxProto as unknown as {
  onnx?: typeof Onnx;
  default?: { onnx: typeof Onnx };
};
export const onnx: typeof Onnx = proto.onnx ?? proto.default!.onnx;

/** Largest .onnx file accepted (bytes): the same cap as a TF.js model's weights. */
export const MAX_ONNX_BYTES = MAX_WEIGHT_BYTES;

/** Most values one tensor may hold: MAX_WEIGHT_BYTES of float32. */
const MAX_TENSOR_VALUES = MAX_WEIGHT_BYTES / 4;

/** Most nodes a graph may have: the studio's chains are short, hostile files are not. */
const MAX_NODES = 10_000;

export function onnxInvalid(message: string): HepexError {
  return new HepexError('invalid-model-file', `ONNX file: ${message}`);
}

/** An int64 field as protobufjs hands it (a number, or a Long-like object past 2^31). */
type Int64 = number | { toNumber(): number } | null | undefined;

/** A protobuf int64 as a safe JavaScript integer, or an error naming `what`. */
export function int64(v: Int64, what: string): number {
  const n = v === null || v === undefined ? 0 : typeof v === 'number' ? v : v.toNumber();
  if (!Number.isSafeInteger(n)) throw onnxInvalid(`${what} is not a usable whole number.`);
  return n;
}

/**
 * Decodes a ModelProto. The size is checked before any decoding; protobuf errors (truncated or
 * random bytes) and files that decode but are no ONNX model become plain-words errors.
 */
export function decodeModel(bytes: Uint8Array): Onnx.ModelProto {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) throw onnxInvalid('the file is empty.');
  if (bytes.length > MAX_ONNX_BYTES) {
    throw onnxInvalid(
      `the file is ${bytes.length} bytes; the studio reads models up to ${MAX_ONNX_BYTES} bytes.`,
    );
  }
  let model: Onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    // protobufjs recurses once per nested message: thousands of graphs nested in attributes
    // overflow the stack, which is caught here like any undecodable file.
    if (error instanceof RangeError && /call stack/i.test(error.message))
      throw onnxInvalid(
        'the file nests its messages thousands deep; no model the studio reads does.',
      );
    throw onnxInvalid(
      `the file is not a readable ONNX model (the protobuf does not decode: ${(error as Error).message}). Is it truncated, or another kind of file?`,
    );
  }
  const ir = int64(model.irVersion, 'the IR version');
  if (ir < 1 || !model.graph || !model.graph.node?.length) {
    throw onnxInvalid(
      'the file decodes but holds no ONNX model (no IR version or no graph of nodes). Is it another kind of file?',
    );
  }
  if (model.graph.node.length > MAX_NODES) {
    throw onnxInvalid(
      `the graph has ${model.graph.node.length} nodes; the studio reads up to ${MAX_NODES}.`,
    );
  }
  return model;
}

/** The default-domain opset the model was written for (operator semantics depend on it). */
export function defaultOpset(model: Onnx.IModelProto): number {
  const entry = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  if (!entry) throw onnxInvalid('the model imports no standard ONNX operator set.');
  return int64(entry.version, 'the opset version');
}

/** A constant tensor: shape (row-major) and values as float32; integer tensors also as `ints`. */
export interface ConstTensor {
  readonly dims: readonly number[];
  readonly data: Float32Array;
  readonly ints?: readonly number[];
  /** True when the file stored float64 and the values were rounded to float32. */
  readonly fromDouble?: boolean;
}

const { DataType } = onnx.TensorProto;

const TYPE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(DataType).map(([k, v]) => [v, k.toLowerCase()]),
);

export const dataTypeName = (t: number | null | undefined): string =>
  TYPE_NAMES[t ?? 0] ?? `type ${String(t)}`;

/** Reads a tensor's shape, refusing negative, absurd or too-large shapes before touching data. */
function tensorDims(t: Onnx.ITensorProto, what: string): number[] {
  const dims = (t.dims ?? []).map((d, k) => int64(d, `${what}'s dimension ${k + 1}`));
  dims.forEach((d, k) => {
    if (d < 0 || d > MAX_LAYER_SIZE) {
      throw onnxInvalid(
        `${what} declares dimension ${k + 1} as ${d}; the studio accepts 0 to ${MAX_LAYER_SIZE}.`,
      );
    }
  });
  const count = dims.reduce((n, d) => n * d, 1);
  if (count > MAX_TENSOR_VALUES) {
    throw onnxInvalid(
      `${what} has ${count} values; the studio accepts up to ${MAX_TENSOR_VALUES} per tensor.`,
    );
  }
  return dims;
}

/**
 * A tensor's values. float32 as is; float64 rounded to float32 (fromDouble); int32/int64 as
 * integers (shapes, exponents). Anything else, external data or a value count that disagrees
 * with the shape is refused naming the tensor. Non-finite floats are refused here, since a NaN
 * weight would silently poison every output.
 */
export function readTensor(t: Onnx.ITensorProto, what: string): ConstTensor {
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || t.externalData?.length) {
    throw onnxInvalid(
      `${what} keeps its values in a separate file (external data); save the model with all weights inside it (onnx.save_model(model, path, save_as_external_data=False)).`,
    );
  }
  const dims = tensorDims(t, what);
  const count = dims.reduce((n, d) => n * d, 1);
  const raw = t.rawData?.length ? t.rawData : undefined;
  const type = t.dataType ?? 0;
  const wrongCount = (got: number): HepexError =>
    onnxInvalid(`${what} has shape [${dims.join(', ')}] = ${count} values but holds ${got}.`);
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  let data: Float32Array;
  let ints: number[] | undefined;
  let fromDouble = false;
  switch (type) {
    case DataType.FLOAT:
    case DataType.DOUBLE: {
      const width = type === DataType.FLOAT ? 4 : 8;
      const list = type === DataType.FLOAT ? t.floatData : t.doubleData;
      const n = view ? view.byteLength / width : (list?.length ?? 0);
      if (n !== count) throw wrongCount(n);
      data = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        data[i] = view
          ? width === 4
            ? view.getFloat32(i * 4, true)
            : view.getFloat64(i * 8, true)
          : list![i];
      }
      fromDouble = type === DataType.DOUBLE;
      break;
    }
    case DataType.INT32:
    case DataType.INT64: {
      const width = type === DataType.INT32 ? 4 : 8;
      const list: Int64[] = (type === DataType.INT32 ? t.int32Data : t.int64Data) ?? [];
      const n = view ? view.byteLength / width : list.length;
      if (n !== count) throw wrongCount(n);
      ints = [];
      for (let i = 0; i < count; i++) {
        const v = view
          ? width === 4
            ? view.getInt32(i * 4, true)
            : Number(view.getBigInt64(i * 8, true))
          : int64(list[i], `${what}'s value ${i + 1}`);
        if (!Number.isSafeInteger(v)) throw onnxInvalid(`${what}'s value ${i + 1} is too large.`);
        ints.push(v);
      }
      data = Float32Array.from(ints);
      break;
    }
    default:
      throw onnxInvalid(
        `${what} holds ${dataTypeName(type)} values; the studio reads float32 (or float64, rounded to float32) weights.`,
      );
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]))
      throw onnxInvalid(`${what}'s value ${i + 1} is ${data[i]}; weights must be finite numbers.`);
  }
  return { dims, data, ...(ints ? { ints } : {}), ...(fromDouble ? { fromDouble } : {}) };
}

/** A node's attributes by name. */
export function attributesOf(node: Onnx.INodeProto): Map<string, Onnx.IAttributeProto> {
  return new Map((node.attribute ?? []).map((a) => [a.name ?? '', a]));
}

/** An integer attribute, or `fallback` when absent. */
export function intAttribute(
  attrs: Map<string, Onnx.IAttributeProto>,
  name: string,
  fallback: number,
  where: string,
): number {
  const a = attrs.get(name);
  return a ? int64(a.i, `${where}'s ${name}`) : fallback;
}

export function floatAttribute(
  attrs: Map<string, Onnx.IAttributeProto>,
  name: string,
  fallback: number,
): number {
  const a = attrs.get(name);
  return a && typeof a.f === 'number' ? a.f : fallback;
}

export function intsAttribute(
  attrs: Map<string, Onnx.IAttributeProto>,
  name: string,
  where: string,
): number[] | undefined {
  const a = attrs.get(name);
  return a ? (a.ints ?? []).map((v, k) => int64(v, `${where}'s ${name}[${k}]`)) : undefined;
}

export function stringAttribute(
  attrs: Map<string, Onnx.IAttributeProto>,
  name: string,
): string | undefined {
  const s = attrs.get(name)?.s;
  return s ? new TextDecoder().decode(s) : undefined;
}

/** The value a Constant node produces: its `value` tensor or one of the value_* shorthands. */
export function constantValue(node: Onnx.INodeProto, where: string): ConstTensor {
  const attrs = attributesOf(node);
  const value = attrs.get('value');
  if (value?.t) return readTensor(value.t, `${where}'s value`);
  const vf = attrs.get('value_float');
  if (vf) return readTensor({ dataType: DataType.FLOAT, floatData: [vf.f ?? 0] }, where);
  const vfs = attrs.get('value_floats');
  if (vfs) {
    const f = vfs.floats ?? [];
    return readTensor({ dataType: DataType.FLOAT, dims: [f.length], floatData: f }, where);
  }
  const vi = attrs.get('value_int');
  if (vi) return readTensor({ dataType: DataType.INT64, int64Data: [vi.i ?? 0] }, where);
  const vis = attrs.get('value_ints');
  if (vis) {
    const i = vis.ints ?? [];
    return readTensor({ dataType: DataType.INT64, dims: [i.length], int64Data: i }, where);
  }
  throw onnxInvalid(`${where} is a Constant without a numeric value the studio can read.`);
}
