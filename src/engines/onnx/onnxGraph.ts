import type { onnx as Onnx } from 'onnx-proto';
import type { SourceActivation } from '../../core/model/activation';
import { MAX_LAYER_SIZE } from '../../core/model/layers';
import {
  attributesOf,
  constantValue,
  int64,
  onnxInvalid,
  readTensor,
  type ConstTensor,
} from './onnxDecode';
import { addValues, batchNorm, mulValues, reshape, transpose } from './onnxElementwise';
import { convSpec, denseSpec, matmulSpec, type LayerSpec } from './onnxLayers';
import {
  activateSym,
  activationOf,
  foldConstants,
  isIdentity,
  mulSyms,
  scalarOf,
  scaleSym,
  type Const,
  type Sym,
  type Value,
} from './onnxSymbols';

/**
 * Walks an ONNX graph node by node (ONNX requires topological order), tracking every tensor as
 * a constant or as an element-wise function of one weighted layer's output (onnxSymbols.ts).
 * Weighted nodes (Gemm, MatMul, a first Conv) become layers in a chain; the element-wise nodes
 * between two of them become the first one's activation.
 */
export interface GraphLayers {
  readonly layers: readonly LayerSpec[];
  /** The input's per-sample shape, batch dropped: [n], or [channels, height, width]. */
  readonly inputShape: readonly number[];
  /** The output went through a Softmax or LogSoftmax (dropped: argmax unchanged). */
  readonly softmax: boolean;
  /** Some weights were stored as float64 and rounded to float32. */
  readonly fromDouble: boolean;
}

const OPS_READ =
  'Gemm, MatMul (+ Add for the bias), a first Conv, Flatten, Reshape, Transpose (NCHW <-> NHWC), Relu, Sigmoid, Tanh, element-wise polynomials of degree <= 2 (Mul, Add, Sub, Div by a constant, Neg, Pow 2), BatchNormalization right after a layer, Identity, Dropout and a final Softmax';

const NON_POLYNOMIAL = { Relu: 'relu', Sigmoid: 'sigmoid', Tanh: 'tanh' } as const;

const nodeLabel = (node: Onnx.INodeProto, k: number): string =>
  `node "${node.name || `#${k + 1}`}" (${node.opType || 'no op type'})`;

/** The graph's one real input (graph.input minus initializers) and its per-sample shape. */
function graphInput(
  graph: Onnx.IGraphProto,
  initializers: Map<string, Onnx.ITensorProto>,
): { name: string; shape: number[]; batch: number | undefined } {
  const inputs = (graph.input ?? []).filter((i) => !initializers.has(i.name ?? ''));
  if (inputs.length !== 1) {
    throw onnxInvalid(
      `the graph has ${inputs.length} inputs; the studio reads models with exactly one input.`,
    );
  }
  const input = inputs[0];
  const tensor = input.type?.tensorType;
  if (!tensor) throw onnxInvalid(`the input "${input.name}" is not a tensor.`);
  if (tensor.elemType !== 1) {
    throw onnxInvalid(`the input "${input.name}" is not float32; the studio feeds float32 pixels.`);
  }
  const dims = tensor.shape?.dim ?? [];
  if (dims.length < 2) {
    throw onnxInvalid(
      `the input "${input.name}" has ${dims.length} dimensions; expected a batch dimension first, then the sample's shape (e.g. [N, 784] or [N, 1, 28, 28]).`,
    );
  }
  const shape = dims.slice(1).map((d, k) => {
    const v = int64(d.dimValue, `the input's dimension ${k + 2}`);
    if (d.dimParam || v < 1 || v > MAX_LAYER_SIZE) {
      throw onnxInvalid(
        `the input "${input.name}" declares dimension ${k + 2} as ${d.dimParam ? `"${d.dimParam}"` : v}; every dimension but the batch must be a whole number from 1 to ${MAX_LAYER_SIZE}.`,
      );
    }
    return v;
  });
  const width = shape.reduce((n, d) => n * d, 1);
  if (width > MAX_LAYER_SIZE) {
    throw onnxInvalid(
      `the input has ${width} values per sample; the studio accepts at most ${MAX_LAYER_SIZE}.`,
    );
  }
  const batch = dims[0].dimParam ? undefined : int64(dims[0].dimValue, 'the batch dimension');
  return { name: input.name ?? '', shape, batch: batch || undefined };
}

export function interpretGraph(graph: Onnx.IGraphProto, opset: number): GraphLayers {
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  if ((graph.sparseInitializer ?? []).length)
    throw onnxInvalid('the graph has sparse initializers, which the studio does not read.');
  const input = graphInput(graph, initializers);
  const values = new Map<string, Value>();
  values.set(input.name, { kind: 'sym', layer: -1, c: [0, 1, 0], shape: input.shape });
  const layers: LayerSpec[] = [];
  /** Each layer's activation, fixed when the next weighted node reads its output. */
  const activations: (SourceActivation | undefined)[] = [];
  let fromDouble = false;

  (graph.node ?? []).forEach((node, k) => {
    const where = nodeLabel(node, k);
    if (node.domain && node.domain !== 'ai.onnx') {
      throw onnxInvalid(
        `${where} is from the operator domain "${node.domain}"; the studio reads standard ONNX operators only.`,
      );
    }
    const names = node.input ?? [];
    const value = (i: number): Value | undefined => {
      const name = names[i];
      if (!name) return undefined;
      const known = values.get(name);
      if (known) return known;
      const init = initializers.get(name);
      if (!init) throw onnxInvalid(`${where} reads "${name}", which no earlier node computes.`);
      const tensor = readTensor(init, `initializer "${name}"`);
      fromDouble ||= tensor.fromDouble === true;
      const c: Const = { kind: 'const', tensor };
      values.set(name, c);
      return c;
    };
    const need = (i: number): Value => {
      const v = value(i);
      if (!v) throw onnxInvalid(`${where} is missing input ${i + 1}.`);
      if (v.kind === 'sym' && v.softmax)
        throw onnxInvalid(
          `${where} computes on a Softmax's output; Softmax is only read as the model's last operation.`,
        );
      if (v.kind === 'sym' && v.layer >= 0 && (v.version ?? 0) !== layers[v.layer].version)
        throw onnxInvalid(
          `${where} reads a layer's output from before an Add that a later node folds into its bias; the studio reads each layer's output one way.`,
        );
      return v;
    };
    const sym = (i: number): Sym => {
      const v = need(i);
      if (v.kind !== 'sym')
        throw onnxInvalid(`${where}: input ${i + 1} is a constant where the data should flow.`);
      return v;
    };
    const constant = (i: number, what: string): ConstTensor => {
      const v = need(i);
      if (v.kind !== 'const')
        throw onnxInvalid(
          `${where}: the ${what} must be a constant (an initializer), not computed.`,
        );
      return v.tensor;
    };
    /** Starts a new weighted layer reading `s`; s fixes the activation of the layer before. */
    const chain = (s: Sym): void => {
      if (s.layer !== layers.length - 1) {
        throw onnxInvalid(
          `${where} does not continue the chain of layers (it reads an earlier layer's output); the studio reads simple chains.`,
        );
      }
      if (s.layer === -1 && !isIdentity(s)) {
        throw onnxInvalid(
          `${where}: the input is transformed before the first layer; the studio feeds the raw input (pixels in [0, 1]) straight into it.`,
        );
      }
      if (s.layer >= 0) activations[s.layer] = activationOf(s);
    };
    const attrs = attributesOf(node);
    let out: Value;
    switch (node.opType) {
      case 'Gemm':
      case 'MatMul': {
        const a = sym(0);
        chain(a);
        const spec =
          node.opType === 'Gemm'
            ? denseSpec(a, constant(1, 'weight'), value(2), attrs, layers, where)
            : matmulSpec(a, constant(1, 'weight'), layers, where);
        layers.push(spec);
        out = { kind: 'sym', layer: layers.length - 1, c: [0, 1, 0], shape: [spec.weights.rows] };
        break;
      }
      case 'Conv': {
        const a = sym(0);
        if (a.layer !== -1 || layers.length)
          throw onnxInvalid(
            `${where} is not the first layer; the studio runs one convolution, on the client-packed input image.`,
          );
        chain(a);
        const bias = value(2);
        const spec = convSpec(a, constant(1, 'kernel'), bias, attrs, where);
        layers.push(spec);
        out = { kind: 'sym', layer: 0, c: [0, 1, 0], shape: spec.outputShape! };
        break;
      }
      case 'Relu':
      case 'Sigmoid':
      case 'Tanh':
        out = activateSym(sym(0), NON_POLYNOMIAL[node.opType], where);
        break;
      case 'Identity':
      case 'Dropout':
        if ((node.output ?? []).length > 1 && node.output![1])
          throw onnxInvalid(`${where} asks for its mask output: a training graph.`);
        out = need(0);
        break;
      case 'Constant':
        out = { kind: 'const', tensor: constantValue(node, where) };
        break;
      case 'Add':
      case 'Sub':
        out = addValues(need(0), need(1), node.opType === 'Sub', layers, where);
        break;
      case 'Mul':
      case 'Div':
        out = mulValues(need(0), need(1), node.opType === 'Div', layers, where);
        break;
      case 'Neg': {
        const a = need(0);
        out =
          a.kind === 'sym'
            ? scaleSym(a, -1, where)
            : foldConstants(a.tensor, a.tensor, (x) => -x, where);
        break;
      }
      case 'Pow': {
        const a = sym(0);
        const e = scalarOf({ kind: 'const', tensor: constant(1, 'exponent') });
        if (e === 1) out = a;
        else if (e === 2) out = mulSyms(a, a, where);
        else
          throw onnxInvalid(
            `${where} raises to the power ${e ?? 'of a tensor'}; the HE engine evaluates polynomials of degree at most 2 (exponent 1 or 2).`,
          );
        break;
      }
      case 'Flatten':
      case 'Reshape':
        out = reshape(
          sym(0),
          node.opType === 'Flatten' ? undefined : constant(1, 'target shape'),
          attrs,
          input.batch,
          where,
        );
        break;
      case 'BatchNormalization':
        if ((node.output ?? []).slice(1).some(Boolean))
          throw onnxInvalid(`${where} asks for its running statistics: a training graph.`);
        out = batchNorm(
          sym(0),
          [1, 2, 3, 4].map((i) => constant(i, 'normalisation parameters')),
          attrs,
          layers,
          where,
        );
        break;
      case 'Transpose':
        out = transpose(sym(0), attrs, where);
        break;
      case 'Softmax':
      case 'LogSoftmax': {
        const a = sym(0);
        const axis = int64(attrs.get('axis')?.i ?? (opset >= 13 ? -1 : 1), `${where}'s axis`);
        if (
          a.layer !== layers.length - 1 ||
          a.layer < 0 ||
          !isIdentity(a) ||
          a.shape.length !== 1 ||
          a.convOrder
        )
          throw onnxInvalid(
            `${where} is only read right after the last weighted layer, on its flat output.`,
          );
        if (axis !== 1 && axis !== -1)
          throw onnxInvalid(`${where} normalises over axis ${axis}, not over the classes.`);
        out = { ...a, softmax: true };
        break;
      }
      default:
        throw onnxInvalid(
          `${where}: the studio cannot import ${node.opType} operations. It reads ${OPS_READ}.`,
        );
    }
    const outputs = node.output ?? [];
    if (!outputs[0]) throw onnxInvalid(`${where} has no output.`);
    values.set(outputs[0], out);
  });

  const outputs = graph.output ?? [];
  if (outputs.length !== 1)
    throw onnxInvalid(
      `the graph has ${outputs.length} outputs; the studio reads models with exactly one output.`,
    );
  const result = values.get(outputs[0].name ?? '');
  if (!result || result.kind !== 'sym')
    throw onnxInvalid(`the output "${outputs[0].name}" is not computed from the input.`);
  if (result.layer >= 0 && (result.version ?? 0) !== layers[result.layer].version)
    throw onnxInvalid("the output is read from before an Add that is folded into a layer's bias.");
  if (!layers.length) throw onnxInvalid('the graph has no weighted layer (Gemm, MatMul or Conv).');
  if (result.layer !== layers.length - 1)
    throw onnxInvalid(
      'the output is not computed from the last weighted layer (the graph branches).',
    );
  if (result.shape.length !== 1 || result.convOrder)
    throw onnxInvalid(
      "the output is image-shaped or a convolution's output; the studio reads models whose last layer is a dense one with a flat output.",
    );
  activations[result.layer] = activationOf(result);
  return {
    layers: layers.map((l, i) => ({ ...l, activation: activations[i] })),
    inputShape: input.shape,
    softmax: result.softmax === true,
    fromDouble,
  };
}
