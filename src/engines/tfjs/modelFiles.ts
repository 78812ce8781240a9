import { activationCoefficients, type Activation } from '../../core/model/activation';
import { convGeometry, convLayer, outputSize } from '../../core/model/conv';
import { HepexError } from '../../core/model/errors';
import { createMatrix } from '../../core/model/matrix';
import type { HepexModel } from '../../core/io/model';
import {
  assembleHepexModel,
  encodeHepexMetadata,
  parseHepexMetadata,
  type ParsedMetadata,
} from '../../core/io/modelMetadata';
import {
  MAX_LAYER_SIZE,
  validateNetwork,
  type ConvGeometry,
  type ConvLayer,
  type Layer,
  type Network,
  type Task,
} from '../../core/model/network';
import { setupBackend, tf } from './backend';
import { kernelToWeights, networkToLayersModel } from './convert';

/**
 * TF.js LayersModel files, as tf.io writes them: model.json (topology, weightsManifest,
 * userDefinedMetadata.hepex) + weights.bin (float32 little-endian, manifest order).
 *
 * Export builds the model from built-in layers only (convert.ts), so plain
 * `tf.loadLayersModel('.../model.json')` loads it and computes the same outputs.
 * Import does NOT hand the file to tfjs: it parses the JSON strictly and interprets the layer
 * graph symbolically (each tensor = a polynomial of one Dense layer's output), so a hostile file
 * (unknown layer types, wrong shapes, missing or extra weights, NaN, absurd sizes, byte-length
 * mismatches) fails with a HepexError 'invalid-model-file' before anything is allocated or changed.
 */
export const WEIGHTS_FILE = 'weights.bin';
export const MODEL_FILE = 'model.json';

/** Largest model.json accepted (characters) and largest weights.bin (bytes): 64 MiB / 1 GiB. */
export const MAX_MODEL_JSON_CHARS = 64 * 2 ** 20;
export const MAX_WEIGHT_BYTES = 2 ** 30;

/**
 * `weightsFile` is the name model.json's manifest gives the weights (tf.loadLayersModel fetches
 * it next to model.json): a download must be saved under exactly that name.
 */
export async function modelToFiles(
  model: HepexModel,
  weightsFile = WEIGHTS_FILE,
): Promise<{ modelJson: string; weights: Uint8Array }> {
  if (!/^[\w.-]+$/.test(weightsFile) || weightsFile.includes('..')) {
    throw new HepexError(
      'invalid-argument',
      `Cannot export this model: the weights file name ${JSON.stringify(weightsFile)} must be a plain file name.`,
    );
  }
  validateNetwork(model.network);
  // tfjs refuses ops until a backend is ready (memoised; a caller's earlier choice stands).
  const hepex = encodeHepexMetadata(model);
  // Never write a file this studio cannot read back (NaN metrics, over-long names, non-zero
  // weights under a mask, ...): the same checks import makes, before anything is built.
  try {
    assembleHepexModel(parseHepexMetadata(JSON.parse(JSON.stringify(hepex))), model.network);
  } catch (error) {
    throw new HepexError(
      'invalid-argument',
      `Cannot export this model: ${(error as Error).message.replace(/^Model file: /, '')}`,
    );
  }
  await setupBackend();
  const layersModel = networkToLayersModel(model.network);
  try {
    layersModel.setUserDefinedMetadata({ hepex });
    let artifacts: tf.io.ModelArtifacts | undefined;
    await layersModel.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    if (!artifacts?.weightData || !artifacts.weightSpecs)
      throw new HepexError('invalid-model-file', 'tfjs produced no weights.');
    const weights = new Uint8Array(
      tf.io.concatenateArrayBuffers(artifacts.weightData as ArrayBuffer | ArrayBuffer[]),
    );
    // The same fields, in the same order, as tf.io's getModelJSONForModelArtifacts writes.
    const json = {
      modelTopology: artifacts.modelTopology,
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy,
      weightsManifest: [{ paths: [`./${weightsFile}`], weights: artifacts.weightSpecs }],
      userDefinedMetadata: artifacts.userDefinedMetadata,
    };
    return { modelJson: JSON.stringify(json), weights };
  } finally {
    layersModel.dispose();
  }
}

// ---------- import ----------

function invalid(message: string): HepexError {
  return new HepexError('invalid-model-file', `Model file: ${message}`);
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

interface WeightEntry {
  readonly shape: readonly number[];
  readonly offset: number;
  readonly size: number;
  used: boolean;
}

/** Reads weightsManifest; checks dtype, shapes and that the byte lengths add up exactly. */
function readManifest(
  json: Record<string, unknown>,
  weightBytes: number,
): Map<string, WeightEntry> {
  const manifest = json.weightsManifest;
  if (!Array.isArray(manifest) || manifest.length === 0)
    throw invalid('model.json has no weightsManifest.');
  const entries = new Map<string, WeightEntry>();
  let offset = 0;
  for (const group of manifest) {
    if (!isObject(group) || !Array.isArray(group.weights))
      throw invalid('a weightsManifest group has no weights list.');
    for (const spec of group.weights) {
      if (!isObject(spec) || typeof spec.name !== 'string')
        throw invalid('a weight entry has no name.');
      const name = spec.name;
      if (spec.dtype !== 'float32')
        throw invalid(
          `weight "${name}" has dtype ${JSON.stringify(spec.dtype)}; only float32 is supported.`,
        );
      if (spec.quantization !== undefined)
        throw invalid(`weight "${name}" is quantized; only plain float32 weights are supported.`);
      // Dense kernels are 2-D, biases 1-D, conv kernels 4-D (k x k x C x filters).
      if (!Array.isArray(spec.shape) || spec.shape.length > 4)
        throw invalid(`weight "${name}" has an invalid shape.`);
      let size = 1;
      for (const n of spec.shape) {
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_LAYER_SIZE) {
          throw invalid(
            `weight "${name}" has shape ${JSON.stringify(spec.shape)}; sizes must be whole numbers from 1 to ${MAX_LAYER_SIZE}.`,
          );
        }
        size *= n;
      }
      if (entries.has(name)) throw invalid(`weight "${name}" appears twice in the manifest.`);
      entries.set(name, { shape: spec.shape as number[], offset, size, used: false });
      offset += size * 4;
      if (offset > MAX_WEIGHT_BYTES)
        throw invalid(`the manifest describes more than ${MAX_WEIGHT_BYTES} bytes of weights.`);
    }
  }
  if (offset !== weightBytes) {
    throw invalid(
      `the manifest describes ${offset} bytes of weights but weights.bin has ${weightBytes} bytes.`,
    );
  }
  return entries;
}

/**
 * A tensor of the graph as a polynomial c0 + c1 y + c2 y^2 of weighted layer `dense`'s output y
 * (-1: the input). `image`: the tensor is not flat but height x width x channels (NHWC, the
 * input reshaped for a conv, or a conv's output before its Flatten).
 */
interface Sym {
  readonly dense: number;
  readonly c: readonly [number, number, number];
  readonly image?: readonly [number, number, number];
}

/** A weighted layer of the chain: Dense, or (first only) Conv2D on `image`. */
interface DenseNode {
  readonly name: string;
  readonly units: number;
  readonly useBias: boolean;
  /** The polynomial (of the previous dense output) this layer reads: the previous activation. */
  readonly input: Sym;
  readonly softmax: boolean;
  readonly conv?: ConvGeometry;
}

interface LayerJson {
  readonly className: string;
  readonly name: string;
  readonly config: Record<string, unknown>;
  readonly inbound: string[];
}

function readLayers(topology: Record<string, unknown>): {
  layers: LayerJson[];
  sequential: boolean;
  inputs: string[];
  outputs: string[];
} {
  const className = topology.class_name;
  const config = topology.config;
  const sequential = className === 'Sequential';
  if (!sequential && className !== 'Model' && className !== 'Functional') {
    throw invalid(
      `the model is a ${JSON.stringify(className)}; expected a Sequential or functional Model.`,
    );
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

const mulPoly = (a: Sym, b: Sym, where: string): Sym => {
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
function interpretGraph(topology: Record<string, unknown>): {
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
        out = { ...identityOf(0), image: [outHeight, outWidth, conv.filters] };
        break;
      }
      case 'Flatten': {
        const input = one();
        if (!input.image)
          throw invalid(`Flatten layer "${layer.name}" reads a tensor that is already flat.`);
        out = { dense: input.dense, c: input.c };
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
          throw invalid(`Dense layer "${layer.name}" has ${JSON.stringify(units)} units.`);
        }
        const activation = layer.config.activation ?? 'linear';
        if (activation !== 'linear' && activation !== 'softmax') {
          throw invalid(
            `Dense layer "${layer.name}" uses activation "${String(activation)}", which CKKS cannot compute; use polynomial activations (square, or Multiply/Rescaling/Add layers).`,
          );
        }
        denses.push({
          name: layer.name,
          units,
          useBias: layer.config.use_bias !== false,
          input,
          softmax: activation === 'softmax',
        });
        out = identityOf(denses.length - 1);
        break;
      }
      case 'Multiply':
        if (args.length !== 2)
          throw invalid(`Multiply layer "${layer.name}" must multiply exactly two tensors.`);
        out = mulPoly(args[0], args[1], layer.name);
        break;
      case 'Add': {
        if (args.length < 2) throw invalid(`Add layer "${layer.name}" needs at least two inputs.`);
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
        out = {
          dense: a.dense,
          c: [a.c[0] * scale + offset, a.c[1] * scale, a.c[2] * scale],
          ...(a.image ? { image: a.image } : {}),
        };
        break;
      }
      case 'Activation': {
        const a = layer.config.activation;
        if (a !== 'linear' && a !== 'softmax')
          throw invalid(
            `Activation layer "${layer.name}" uses "${String(a)}", which CKKS cannot compute.`,
          );
        out = one();
        if (a === 'softmax') {
          const last = denses[denses.length - 1];
          if (!last || out.dense !== denses.length - 1 || out.c.join() !== '0,1,0')
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

/** A [height, width, channels] shape of whole numbers. */
function imageShape(v: unknown, what: string): [number, number, number] {
  if (
    !Array.isArray(v) ||
    v.length !== 3 ||
    !v.every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_LAYER_SIZE)
  ) {
    throw invalid(
      `${what} must be an image shape [height, width, channels] of whole numbers, got ${JSON.stringify(v)}.`,
    );
  }
  return v as [number, number, number];
}

/** A Conv2D config's geometry on `image`; the HE engine runs square kernels and strides, 'valid', channels last, linear. */
function conv2dGeometry(layer: LayerJson, image: readonly [number, number, number]): ConvGeometry {
  const c = layer.config;
  const where = `Conv2D layer "${layer.name}"`;
  const pair = (v: unknown, what: string): number => {
    const [a, b] = Array.isArray(v) ? v : [v, v];
    if (typeof a !== 'number' || a !== b || !Number.isInteger(a) || a < 1 || a > MAX_LAYER_SIZE)
      throw invalid(`${where} needs a square ${what} of whole numbers, got ${JSON.stringify(v)}.`);
    return a;
  };
  const filters = c.filters;
  if (
    typeof filters !== 'number' ||
    !Number.isInteger(filters) ||
    filters < 1 ||
    filters > MAX_LAYER_SIZE
  )
    throw invalid(`${where} has ${JSON.stringify(filters)} filters.`);
  const kernel = pair(c.kernel_size, 'kernel');
  const stride = pair(c.strides ?? 1, 'stride');
  if ((c.padding ?? 'valid') !== 'valid')
    throw invalid(
      `${where} uses padding ${JSON.stringify(c.padding)}; the client packs 'valid' patches only.`,
    );
  if ((c.data_format ?? 'channels_last') !== 'channels_last')
    throw invalid(
      `${where} uses data format ${JSON.stringify(c.data_format)}; only channels_last (NHWC) is read.`,
    );
  if (pair(c.dilation_rate ?? 1, 'dilation rate') !== 1)
    throw invalid(`${where} is dilated; only dilation 1 is read.`);
  if ((c.activation ?? 'linear') !== 'linear')
    throw invalid(
      `${where} uses activation "${String(c.activation)}", which CKKS cannot compute; use polynomial activations.`,
    );
  const [height, width, channels] = image;
  try {
    return convGeometry({ height, width, channels, kernel, stride, filters });
  } catch (error) {
    throw invalid(`${where}: ${(error as Error).message}`);
  }
}

/** Turns polynomial coefficients back into the activation the metadata names, or the simplest one. */
function activationFor(
  c: readonly [number, number, number],
  declared: Activation | undefined,
  layer: number,
): Activation {
  const trimmed = [...c];
  while (trimmed.length > 1 && trimmed[trimmed.length - 1] === 0) trimmed.pop();
  if (declared) {
    const want = activationCoefficients(declared);
    const same = [0, 1, 2].every(
      (k) => Math.abs((want[k] ?? 0) - c[k]) <= 1e-12 * Math.max(1, Math.abs(c[k])),
    );
    if (!same) {
      throw invalid(
        `layer ${layer + 1}: the graph computes the activation ${c.join(', ')} but the metadata says ${want.join(', ')}.`,
      );
    }
    return declared;
  }
  if (c.join() === '0,1,0') return { type: 'linear' };
  if (c.join() === '0,0,1') return { type: 'square' };
  if (c[2] < 0)
    throw invalid(
      `layer ${layer + 1}: a quadratic activation needs a non-negative x^2 coefficient.`,
    );
  return { type: 'poly', coefficients: trimmed };
}

/** A Conv2D node's HWIO kernel (k x k x C x filters) and bias as the core's tied ConvLayer. */
function convFromFile(
  d: DenseNode,
  g: ConvGeometry,
  kernel: WeightEntry | undefined,
  bias: WeightEntry | undefined,
  weights: Uint8Array,
  activation: Activation,
): ConvLayer {
  const want = [g.kernel, g.kernel, g.channels, g.filters];
  if (!kernel)
    throw invalid(`the weights of Conv2D layer "${d.name}" (${d.name}/kernel) are missing.`);
  if (kernel.shape.join() !== want.join()) {
    throw invalid(
      `${d.name}/kernel has shape [${kernel.shape.join(', ')}] but a ${g.kernel} x ${g.kernel} convolution of ${g.channels}-channel images into ${g.filters} filters needs [${want.join(', ')}].`,
    );
  }
  if (d.useBias && !bias)
    throw invalid(`the bias of Conv2D layer "${d.name}" (${d.name}/bias) is missing.`);
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== d.units))
    throw invalid(
      `${d.name}/bias has shape [${bias.shape.join(', ')}] but the layer has ${d.units} filters.`,
    );
  const taps = g.kernel * g.kernel * g.channels;
  // HWIO flattened is (k*k*C) x filters; the core's kernel is filters x (k*k*C).
  const filterBias = bias && d.useBias ? readFloats(weights, bias) : new Float32Array(d.units);
  return convLayer(
    g,
    kernelToWeights(readFloats(weights, kernel), taps, d.units),
    filterBias,
    activation,
  );
}

function readFloats(weights: Uint8Array, entry: WeightEntry): Float32Array {
  entry.used = true;
  const out = new Float32Array(entry.size);
  const view = new DataView(weights.buffer, weights.byteOffset + entry.offset, entry.size * 4);
  for (let k = 0; k < entry.size; k++) out[k] = view.getFloat32(k * 4, true);
  return out;
}

/**
 * Reads a TF.js LayersModel (model.json text + the concatenated weight files) into a HepexModel.
 * Without `userDefinedMetadata.hepex` (a model made elsewhere), the task is guessed from the
 * shape (outputs = inputs: reconstruction) and a final softmax is dropped (logits keep argmax).
 */
export async function modelFromFiles(modelJson: string, weights: Uint8Array): Promise<HepexModel> {
  if (typeof modelJson !== 'string' || modelJson.length > MAX_MODEL_JSON_CHARS)
    throw invalid(`model.json is larger than ${MAX_MODEL_JSON_CHARS} characters.`);
  let json: unknown;
  try {
    json = JSON.parse(modelJson);
  } catch (error) {
    throw invalid(`model.json is not valid JSON (${(error as Error).message}).`);
  }
  if (!isObject(json)) throw invalid('model.json is not a JSON object.');
  if (json.format !== undefined && json.format !== 'layers-model')
    throw invalid(
      `model.json has format ${JSON.stringify(json.format)}; expected a layers-model (graph models are not supported).`,
    );
  if (!isObject(json.modelTopology)) throw invalid('model.json has no modelTopology.');
  const topology = isObject(json.modelTopology.model_config)
    ? json.modelTopology.model_config
    : json.modelTopology;
  const entries = readManifest(json, weights.length);
  const { denses, output, inputSize } = interpretGraph(topology);

  const hepex = isObject(json.userDefinedMetadata) ? json.userDefinedMetadata.hepex : undefined;
  const meta: ParsedMetadata | undefined =
    hepex === undefined ? undefined : parseHepexMetadata(hepex);
  if (meta && meta.layers.length !== denses.length) {
    throw invalid(
      `the metadata lists ${meta.layers.length} layers but the graph has ${denses.length} Dense layers.`,
    );
  }

  const layers: Layer[] = [];
  let inputs = inputSize;
  denses.forEach((d, l) => {
    const kernel = entries.get(`${d.name}/kernel`);
    const next = denses[l + 1];
    const activation = activationFor(
      (next ? next.input.c : output.c) as [number, number, number],
      meta?.layers[l].activation,
      l,
    );
    if (d.conv) {
      const conv = convFromFile(
        d,
        d.conv,
        kernel,
        entries.get(`${d.name}/bias`),
        weights,
        activation,
      );
      layers.push(conv);
      inputs = conv.weights.rows;
      return;
    }
    if (!kernel)
      throw invalid(`the weights of Dense layer "${d.name}" (${d.name}/kernel) are missing.`);
    if (kernel.shape.length !== 2 || kernel.shape[1] !== d.units) {
      throw invalid(
        `${d.name}/kernel has shape [${kernel.shape.join(', ')}] but the layer has ${d.units} units.`,
      );
    }
    const fanIn = kernel.shape[0];
    if (inputs !== undefined && fanIn !== inputs)
      throw invalid(`${d.name}/kernel takes ${fanIn} inputs but the layer before gives ${inputs}.`);
    const bias = entries.get(`${d.name}/bias`);
    if (d.useBias && !bias)
      throw invalid(`the bias of Dense layer "${d.name}" (${d.name}/bias) is missing.`);
    if (bias && (bias.shape.length !== 1 || bias.shape[0] !== d.units)) {
      throw invalid(
        `${d.name}/bias has shape [${bias.shape.join(', ')}] but the layer has ${d.units} units.`,
      );
    }
    layers.push({
      kind: 'dense',
      weights: createMatrix(
        d.units,
        fanIn,
        kernelToWeights(readFloats(weights, kernel), fanIn, d.units),
      ),
      bias: bias && d.useBias ? readFloats(weights, bias) : new Float32Array(d.units),
      activation,
    });
    inputs = d.units;
  });
  const unused = [...entries.entries()].filter(([, e]) => !e.used).map(([n]) => n);
  if (unused.length)
    throw invalid(`weights.bin holds weights no layer uses: ${unused.slice(0, 5).join(', ')}.`);

  const sizes = [layers[0].weights.cols, layers[layers.length - 1].weights.rows];
  const task: Task = meta?.task ?? (sizes[0] === sizes[1] ? 'reconstruction' : 'classification');
  const network: Network = { task, layers };
  try {
    validateNetwork(network);
  } catch (error) {
    throw invalid((error as Error).message);
  }
  if (!meta) {
    const softmax = denses[denses.length - 1].softmax;
    return {
      name: 'imported model',
      network,
      ...(softmax ? { provenance: { importedSoftmaxDropped: true } } : {}),
    };
  }
  return assembleHepexModel(meta, network);
}

/** A live tfjs LayersModel (e.g. built or trained elsewhere in tfjs) as a HepexModel, via its files. */
export async function modelFromLayersModel(model: tf.LayersModel): Promise<HepexModel> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!artifacts?.weightSpecs || !artifacts.weightData)
    throw invalid('the tfjs model has no weights.');
  const json = {
    modelTopology: artifacts.modelTopology,
    format: 'layers-model',
    weightsManifest: [{ paths: [`./${WEIGHTS_FILE}`], weights: artifacts.weightSpecs }],
    userDefinedMetadata: artifacts.userDefinedMetadata,
  };
  return modelFromFiles(
    JSON.stringify(json),
    new Uint8Array(
      tf.io.concatenateArrayBuffers(artifacts.weightData as ArrayBuffer | ArrayBuffer[]),
    ),
  );
}
