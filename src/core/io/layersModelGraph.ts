import type { NonPolynomialActivation } from '../model/activation';
import { nonPolynomialNamed, polynomialOnly } from './layersModelActivations';
import { outputSize } from '../model/conv';
import { MAX_LAYER_SIZE, type ConvGeometry } from '../model/network';
import { invalid, isObject, shown } from './modelFileChecks';
import { conv2dGeometry, imageShape } from './layersModelConv';

/**
 * A tensor of the graph as a polynomial c0 + c1 y + c2 y^2 of weighted layer `dense`'s output y
 * (-1: the input). `image`: the tensor is not flat but height x width x channels (NHWC, the
 * input reshaped for a conv, or a conv's output before its Flatten).
 */
export interface Sym {
  readonly dense: number;
  readonly c: readonly [number, number, number];
  readonly image?: readonly [number, number, number];
  /**
   * The tensor is this non-polynomial activation of the layer's output (c is then 0, 1, 0):
   * a model to convert (SourceNetwork). Nothing may transform it further but the next layer.
   */
  readonly nonPolynomial?: NonPolynomialActivation['type'];
}

/** A weighted layer of the chain: Dense, or (first only) Conv2D on `image`. */
export interface DenseNode {
  readonly name: string;
  readonly units: number;
  readonly useBias: boolean;
  /** The polynomial (of the previous dense output) this layer reads: the previous activation. */
  readonly input: Sym;
  readonly softmax: boolean;
  readonly conv?: ConvGeometry;
}

export interface LayerJson {
  readonly className: string;
  readonly name: string;
  readonly config: Record<string, unknown>;
  readonly inbound: string[];
}

export function readLayers(topology: Record<string, unknown>): {
  layers: LayerJson[];
  sequential: boolean;
  inputs: string[];
  outputs: string[];
} {
  const className = topology.class_name;
  const config = topology.config;
  const sequential = className === 'Sequential';
  if (!sequential && className !== 'Model' && className !== 'Functional') {
    throw invalid(`the model is a ${shown(className)}; expected a Sequential or functional Model.`);
  }
  const rawLayers = Array.isArray(config) ? config : isObject(config) ? config.layers : undefined;
  if (!Array.isArray(rawLayers) || rawLayers.length === 0 || rawLayers.length > 1000)
    throw invalid('the topology has no layer list.');
  const layers = rawLayers.map((raw, k): LayerJson => {
    if (!isObject(raw) || typeof raw.class_name !== 'string' || !isObject(raw.config))
      throw invalid(`layer ${k + 1} of the topology is malformed.`);
    const name =
      typeof raw.name === 'string'
        ? raw.name
        : typeof raw.config.name === 'string'
          ? raw.config.name
          : `layer_${k + 1}`;
    const inbound: string[] = [];
    if (!sequential) {
      const nodes = raw.inbound_nodes;
      if (!Array.isArray(nodes)) throw invalid(`layer "${name}" has no inbound_nodes.`);
      if (nodes.length > 1)
        throw invalid(
          `layer "${name}" is shared between several calls; the studio reads simple chains.`,
        );
      for (const node of nodes) {
        if (!Array.isArray(node)) throw invalid(`layer "${name}" has a malformed inbound node.`);
        for (const ref of node) {
          if (!Array.isArray(ref) || typeof ref[0] !== 'string' || ref[1] !== 0 || ref[2] !== 0)
            throw invalid(`layer "${name}" has a malformed inbound reference.`);
          inbound.push(ref[0]);
        }
      }
    }
    return { className: raw.class_name, name, config: raw.config, inbound };
  });
  const refs = (v: unknown, what: string): string[] => {
    if (!Array.isArray(v)) throw invalid(`the model's ${what} are missing.`);
    return v.map((r) => {
      if (!Array.isArray(r) || typeof r[0] !== 'string')
        throw invalid(`the model's ${what} are malformed.`);
      return r[0];
    });
  };
  if (sequential) return { layers, sequential, inputs: [], outputs: [] };
  const cfg = config as Record<string, unknown>;
  return {
    layers,
    sequential,
    inputs: refs(cfg.input_layers, 'inputs'),
    outputs: refs(cfg.output_layers, 'outputs'),
  };
}

export const mulPoly = (a: Sym, b: Sym, where: string): Sym => {
  polynomialOnly([a, b], where);
  if (a.dense !== b.dense || String(a.image) !== String(b.image)) {
    throw invalid(
      `"${where}" multiplies outputs of different layers; only element-wise polynomials of one layer are supported.`,
    );
  }
  const [a0, a1, a2] = a.c;
  const [b0, b1, b2] = b.c;
  if ((a2 !== 0 && (b1 !== 0 || b2 !== 0)) || (b2 !== 0 && a1 !== 0)) {
    throw invalid(
      `"${where}" makes an activation of degree above 2; the HE engine evaluates degree <= 2.`,
    );
  }
  return {
    dense: a.dense,
    c: [a0 * b0, a0 * b1 + a1 * b0, a0 * b2 + a1 * b1 + a2 * b0],
    ...(a.image ? { image: a.image } : {}),
  };
};

/**
 * Walks the graph in topological order (tfjs lists layers so), tracking each tensor as a
 * polynomial of the last Dense output. Returns the Dense layers in order and the output
 * polynomial (the last layer's activation).
 */
export function interpretGraph(topology: Record<string, unknown>): {
  denses: DenseNode[];
  output: Sym;
  inputSize: number | undefined;
} {
  const { layers, sequential, inputs, outputs } = readLayers(topology);
  const values = new Map<string, Sym>();
  const denses: DenseNode[] = [];
  const consumed = new Set<string>();
  let inputSize: number | undefined;
  let previous: Sym = { dense: -1, c: [0, 1, 0] };
  const identityOf = (dense: number): Sym => ({ dense, c: [0, 1, 0] });
  /** The input's shape, from an InputLayer or a first layer's batch_input_shape: flat or an image. */
  let inputImage: [number, number, number] | undefined;
  const shapeFrom = (config: Record<string, unknown>): void => {
    const shape = config.batch_input_shape ?? config.batchInputShape;
    if (Array.isArray(shape) && shape.length === 2 && typeof shape[1] === 'number')
      inputSize = shape[1];
    if (Array.isArray(shape) && shape.length === 4) {
      inputImage = imageShape(shape.slice(1), 'the input shape');
      inputSize = inputImage[0] * inputImage[1] * inputImage[2];
    }
  };
  for (const layer of layers) {
    const args = sequential
      ? [previous]
      : layer.inbound.map((n) => {
          const v = values.get(n);
          if (!v)
            throw invalid(
              `layer "${layer.name}" reads "${n}", which comes later or does not exist.`,
            );
          return v;
        });
    const one = (): Sym => {
      if (args.length !== 1)
        throw invalid(`layer "${layer.name}" (${layer.className}) needs exactly one input.`);
      return args[0];
    };
    let out: Sym;
    switch (layer.className) {
      case 'InputLayer':
        if (!sequential && layer.inbound.length)
          throw invalid(`input layer "${layer.name}" has inputs.`);
        shapeFrom(layer.config);
        out = inputImage ? { ...identityOf(-1), image: inputImage } : identityOf(-1);
        break;
      case 'Reshape': {
        // Only the studio's own use: the flat input viewed as an image for the conv.
        const input = one();
        if (input.dense !== -1 || input.c.join() !== '0,1,0' || input.image)
          throw invalid(
            `Reshape layer "${layer.name}" is only accepted on the flat input, right before a convolution.`,
          );
        const image = imageShape(
          layer.config.target_shape ?? layer.config.targetShape,
          `Reshape layer "${layer.name}"`,
        );
        if (inputSize !== undefined && image[0] * image[1] * image[2] !== inputSize) {
          throw invalid(
            `Reshape layer "${layer.name}" views ${inputSize} inputs as ${image.join(' x ')} = ${image[0] * image[1] * image[2]} values.`,
          );
        }
        inputSize = image[0] * image[1] * image[2];
        out = { ...input, image };
        break;
      }
      case 'Conv2D': {
        shapeFrom(layer.config);
        let input = one();
        if (sequential && input.dense === -1 && !input.image && inputImage)
          input = { ...input, image: inputImage };
        if (input.dense !== -1 || denses.length)
          throw invalid(
            `Conv2D layer "${layer.name}" is not the first layer; the studio runs one convolution, on the client-packed image.`,
          );
        if (input.c.join() !== '0,1,0' || !input.image)
          throw invalid(
            `Conv2D layer "${layer.name}" must read the image itself (shape height x width x channels).`,
          );
        const conv = conv2dGeometry(layer, input.image);
        const { outHeight, outWidth } = outputSize(conv);
        denses.push({
          name: layer.name,
          units: conv.filters,
          useBias: layer.config.use_bias !== false,
          input,
          softmax: false,
          conv,
        });
        const convActivation = nonPolynomialNamed(layer.config.activation);
        out = {
          ...identityOf(0),
          image: [outHeight, outWidth, conv.filters],
          ...(convActivation ? { nonPolynomial: convActivation } : {}),
        };
        break;
      }
      case 'Flatten': {
        const input = one();
        if (!input.image)
          throw invalid(`Flatten layer "${layer.name}" reads a tensor that is already flat.`);
        out = {
          dense: input.dense,
          c: input.c,
          ...(input.nonPolynomial ? { nonPolynomial: input.nonPolynomial } : {}),
        };
        break;
      }
      case 'Dense': {
        shapeFrom(layer.config);
        const input = one();
        if (input.image)
          throw invalid(
            `Dense layer "${layer.name}" reads an image-shaped tensor; flatten it first (Flatten layer).`,
          );
        if (input.dense !== denses.length - 1)
          throw invalid(`Dense layer "${layer.name}" does not continue the chain of Dense layers.`);
        if (input.dense === -1 && input.c.join() !== '0,1,0') {
          throw invalid(
            `the input is rescaled or transformed before the first Dense layer "${layer.name}"; the studio feeds pixels scaled to [0, 1] straight into it.`,
          );
        }
        if (!sequential) {
          const key = `dense-input-of-${input.dense}`;
          if (consumed.has(key))
            throw invalid(
              `two Dense layers read the output of one layer; the studio reads simple chains.`,
            );
          consumed.add(key);
        }
        const units = layer.config.units;
        if (
          typeof units !== 'number' ||
          !Number.isInteger(units) ||
          units < 1 ||
          units > MAX_LAYER_SIZE
        ) {
          throw invalid(`Dense layer "${layer.name}" has ${shown(units)} units.`);
        }
        const activation = layer.config.activation ?? 'linear';
        const nonPolynomial = nonPolynomialNamed(activation);
        if (activation !== 'linear' && activation !== 'softmax' && !nonPolynomial) {
          throw invalid(
            `Dense layer "${layer.name}" uses activation ${shown(activation)}, which the studio does not read; use linear, relu, sigmoid, tanh or polynomial activations (square, or Multiply/Rescaling/Add layers).`,
          );
        }
        denses.push({
          name: layer.name,
          units,
          useBias: layer.config.use_bias !== false,
          input,
          softmax: activation === 'softmax',
        });
        out = nonPolynomial
          ? { ...identityOf(denses.length - 1), nonPolynomial }
          : identityOf(denses.length - 1);
        break;
      }
      case 'Multiply':
        if (args.length !== 2)
          throw invalid(`Multiply layer "${layer.name}" must multiply exactly two tensors.`);
        out = mulPoly(args[0], args[1], layer.name);
        break;
      case 'Add': {
        if (args.length < 2) throw invalid(`Add layer "${layer.name}" needs at least two inputs.`);
        polynomialOnly(args, layer.name);
        const { dense, image } = args[0];
        if (args.some((a) => a.dense !== dense || String(a.image) !== String(image)))
          throw invalid(`Add layer "${layer.name}" adds outputs of different layers.`);
        out = {
          dense,
          c: [0, 1, 2].map((k) => args.reduce((s, a) => s + a.c[k], 0)) as unknown as [
            number,
            number,
            number,
          ],
          ...(image ? { image } : {}),
        };
        break;
      }
      case 'Rescaling': {
        const scale = layer.config.scale;
        const offset = layer.config.offset ?? 0;
        if (
          typeof scale !== 'number' ||
          typeof offset !== 'number' ||
          !Number.isFinite(scale) ||
          !Number.isFinite(offset)
        ) {
          throw invalid(`Rescaling layer "${layer.name}" needs a finite numeric scale and offset.`);
        }
        const a = one();
        polynomialOnly([a], layer.name);
        out = {
          dense: a.dense,
          c: [a.c[0] * scale + offset, a.c[1] * scale, a.c[2] * scale],
          ...(a.image ? { image: a.image } : {}),
        };
        break;
      }
      case 'Activation': {
        const a = layer.config.activation;
        const nonPolynomial = nonPolynomialNamed(a);
        if (a !== 'linear' && a !== 'softmax' && !nonPolynomial)
          throw invalid(
            `Activation layer "${layer.name}" uses ${shown(a)}, which the studio does not read (it reads linear, softmax, relu, sigmoid and tanh).`,
          );
        out = one();
        if (nonPolynomial) {
          // ReLU & co. act on a layer's raw output only; a polynomial of it has no single activation.
          if (out.nonPolynomial || out.c.join() !== '0,1,0' || out.dense < 0)
            throw invalid(
              `Activation layer "${layer.name}" (${shown(a)}) must follow a Dense or Conv2D layer directly.`,
            );
          out = { ...out, nonPolynomial };
          break;
        }
        if (a === 'softmax') {
          const last = denses[denses.length - 1];
          if (
            !last ||
            out.dense !== denses.length - 1 ||
            out.c.join() !== '0,1,0' ||
            out.nonPolynomial
          )
            throw invalid(`softmax is only accepted right after the final Dense layer.`);
          denses[denses.length - 1] = { ...last, softmax: true };
        }
        break;
      }
      case 'Dropout':
        out = one(); // identity at inference
        break;
      default:
        throw invalid(
          `layer "${layer.name}" is of type ${layer.className}, which the studio does not read (it reads Dense layers with polynomial activations built from Multiply, Rescaling and Add).`,
        );
    }
    values.set(layer.name, out);
    previous = out;
  }
  if (!denses.length) throw invalid('the model has no Dense layers.');
  let output = previous;
  if (!sequential) {
    if (inputs.length !== 1 || outputs.length !== 1)
      throw invalid('the model must have exactly one input and one output.');
    const o = values.get(outputs[0]);
    if (!o) throw invalid(`the output layer "${outputs[0]}" does not exist.`);
    output = o;
  }
  if (output.dense !== denses.length - 1)
    throw invalid('the model output is not computed from its last Dense layer.');
  if (output.image)
    throw invalid(
      'the model output is image-shaped; the studio reads models whose output is a flat vector.',
    );
  denses.forEach((d, l) => {
    if (d.softmax && l !== denses.length - 1)
      throw invalid(`softmax is only accepted on the final layer, not "${d.name}".`);
  });
  return { denses, output, inputSize };
}
