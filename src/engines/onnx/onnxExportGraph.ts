import * as onnxProto from 'onnx-proto';
import type { onnx as proto } from 'onnx-proto';

/**
 * A small builder over onnx-proto's protobufjs classes for the graphs onnxExport writes: float32
 * initializers (raw_data, little-endian), int64 shape constants, nodes with int / ints
 * attributes, one input and one output of shape [N, width] with a symbolic batch N.
 */

// onnx-proto is CommonJS: Node's ESM loader exposes it as `default`, bundlers as named exports.
const loaded = onnxProto as unknown as {
  onnx?: typeof onnxProto.onnx;
  default?: { onnx: typeof onnxProto.onnx };
};
export const onnx: typeof onnxProto.onnx = loaded.onnx ?? loaded.default!.onnx;

/** The ONNX operator set the export targets, and the IR version that goes with it (ONNX 1.8). */
export const OPSET = 13;
export const IR_VERSION = 7;

/** The ops HElayers' documented ONNX subset accepts; the export uses nothing else. */
export const ALLOWED_OPS: readonly string[] = [
  'Gemm',
  'MatMul',
  'Conv',
  'Add',
  'Mul',
  'Pow',
  'Flatten',
  'Reshape',
];

/** A decoded node, as tests and readers see it. */
export type OnnxNode = proto.INodeProto;

export type OnnxOp = 'Gemm' | 'MatMul' | 'Conv' | 'Add' | 'Mul' | 'Flatten' | 'Reshape';

type Attributes = Readonly<Record<string, number | readonly number[]>>;

function floatBytes(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let k = 0; k < values.length; k++) view.setFloat32(k * 4, values[k], true);
  return bytes;
}

function int64Bytes(values: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((v, k) => view.setBigInt64(k * 8, BigInt(v), true));
  return bytes;
}

function attribute(name: string, value: number | readonly number[]): proto.IAttributeProto {
  const { AttributeType } = onnx.AttributeProto;
  return typeof value === 'number'
    ? { name, type: AttributeType.INT, i: value }
    : { name, type: AttributeType.INTS, ints: [...value] };
}

function tensorValue(name: string, width: number): proto.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [{ dimParam: 'N' }, { dimValue: width }] },
      },
    },
  };
}

export class OnnxGraph {
  private readonly nodes: proto.INodeProto[] = [];
  private readonly initializers: proto.ITensorProto[] = [];
  private readonly names = new Set<string>();

  constructor(readonly inputName = 'input') {
    this.names.add(inputName);
  }

  private fresh(stem: string): string {
    let name = stem;
    for (let k = 1; this.names.has(name); k++) name = `${stem}_${k}`;
    this.names.add(name);
    return name;
  }

  /** A float32 constant of shape `dims` (row-major `values`); returns its name. */
  float(stem: string, dims: readonly number[], values: Float32Array): string {
    const name = this.fresh(stem);
    this.initializers.push({
      name,
      dims: [...dims],
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: floatBytes(values),
    });
    return name;
  }

  /** A scalar float32 constant (broadcasts against any tensor). */
  scalar(stem: string, value: number): string {
    return this.float(stem, [], Float32Array.of(value));
  }

  /** An int64 vector constant, e.g. the target shape of a Reshape. */
  int64(stem: string, values: readonly number[]): string {
    const name = this.fresh(stem);
    this.initializers.push({
      name,
      dims: [values.length],
      dataType: onnx.TensorProto.DataType.INT64,
      rawData: int64Bytes(values),
    });
    return name;
  }

  /** Appends a node; returns the name of its (single) output. */
  node(op: OnnxOp, inputs: readonly string[], stem: string, attributes: Attributes = {}): string {
    const output = this.fresh(stem);
    this.nodes.push({
      opType: op,
      name: this.fresh(`${stem}_node`),
      input: [...inputs],
      output: [output],
      attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
    });
    return output;
  }

  /**
   * The whole model, encoded: `output` (the last node's output) becomes the graph output,
   * renamed `output` so callers of the model see input -> output.
   */
  encode(opts: {
    readonly graphName: string;
    readonly inputWidth: number;
    readonly output: string;
    readonly outputWidth: number;
    readonly docString: string;
    readonly metadata: Readonly<Record<string, string>>;
  }): Uint8Array {
    let output = opts.output;
    const last = this.nodes[this.nodes.length - 1];
    if (last?.output?.[0] === output && !this.names.has('output')) {
      output = 'output';
      last.output = [output];
    }
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: 'hepex-studio',
      producerVersion: '0.1.0',
      docString: opts.docString,
      graph: {
        name: opts.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: [tensorValue(this.inputName, opts.inputWidth)],
        output: [tensorValue(output, opts.outputWidth)],
      },
      metadataProps: Object.entries(opts.metadata).map(([key, value]) => ({ key, value })),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
