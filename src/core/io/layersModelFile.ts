import {
  activationCoefficients,
  activationLabel,
  isPolynomialActivation,
  type Activation,
  type NonPolynomialActivation,
  type SourceActivation,
} from '../model/activation';
import { HepexError } from '../model/errors';
import type { HepexModel } from './model';
import { assembleHepexModel, parseHepexMetadata, type ParsedMetadata } from './modelMetadata';
import {
  validateNetwork,
  inputWidth,
  layerSizes,
  validateSourceNetwork,
  type SourceLayer,
  type Network,
  type SourceNetwork,
  type Task,
} from '../model/network';
import { createMatrix, kernelToWeights } from '../model/matrix';
import { readFloats, readManifest } from './layersModelManifest';
import { invalid, isObject, MAX_MODEL_JSON_CHARS, shown } from './modelFileChecks';
import { interpretGraph } from './layersModelGraph';
import { convFromFile } from './layersModelConv';
import { toPackingOrder } from '../model/clientOrder';
import { parseBoundedJson } from './boundedJson';

/**
 * TF.js LayersModel files, as tf.io writes them: model.json (topology, weightsManifest,
 * userDefinedMetadata.hepex) + weights.bin (float32 little-endian, manifest order).
 *
 * Export (engines/tfjs/modelFiles.ts) builds the model from built-in layers only, with the
 * weights in data order (modelMetadata.ts weightOrder), so plain
 * `tf.loadLayersModel('.../model.json')` loads it and computes the model's function on raw inputs.
 * Import does NOT hand the file to tfjs: it parses the JSON strictly and interprets the layer
 * graph symbolically (each tensor = a polynomial of one Dense layer's output), so a hostile file
 * (unknown layer types, wrong shapes, missing or extra weights, NaN, absurd sizes, byte-length
 * mismatches) fails with a HepexError 'invalid-model-file' before anything is allocated or changed.
 */

/** Turns polynomial coefficients back into the activation the metadata names, or the simplest one. */
export function activationFor(
  c: readonly [number, number, number],
  declared: Activation | undefined,
  layer: number,
  nonPolynomial?: NonPolynomialActivation['type'],
): SourceActivation {
  if (nonPolynomial) {
    if (declared)
      throw invalid(
        `layer ${layer + 1}: the graph computes ${nonPolynomial} but the metadata says ${activationCoefficients(declared).join(', ')}.`,
      );
    return { type: nonPolynomial };
  }
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

/**
 * Reads a TF.js LayersModel (model.json text + the concatenated weight files) into a HepexModel.
 * Without `userDefinedMetadata.hepex` (a model made elsewhere), the task is guessed from the
 * shape (outputs = inputs: reconstruction) and a final softmax is dropped (logits keep argmax).
 * A ReLU, sigmoid or tanh layer fails with 'needs-conversion' naming it (sourceModelFromFiles
 * reads such a model for `hepex convert`).
 */
export async function modelFromFiles(modelJson: string, weights: Uint8Array): Promise<HepexModel> {
  const { network, meta, softmax, layerNames } = readLayersModelFiles(modelJson, weights);
  const blocked = network.layers.findIndex((l) => !isPolynomialActivation(l.activation));
  if (blocked >= 0) {
    throw new HepexError(
      'needs-conversion',
      `Layer "${layerNames[blocked]}" uses ${activationLabel(network.layers[blocked].activation)}, which CKKS cannot evaluate. Convert the model to polynomial activations first: hepex convert --model IN --out OUT (or "Convert to polynomial activations" in the studio).`,
    );
  }
  try {
    validateNetwork(network);
  } catch (error) {
    throw invalid((error as Error).message);
  }
  const polynomial = network as Network;
  if (!meta) {
    return {
      name: 'imported model',
      network: polynomial,
      ...(softmax ? { provenance: { importedSoftmaxDropped: true } } : {}),
    };
  }
  return assembleHepexModel(meta, packingOrder(meta, polynomial));
}

/**
 * A 'data'-order file's weights compute on raw inputs; the HepexModel holds the packing order
 * its masks and tiles are in, so the client permutation is folded back in (model/clientOrder.ts).
 */
function packingOrder(meta: ParsedMetadata, network: Network): Network {
  if (meta.weightOrder !== 'data' || !meta.permutation) return network;
  try {
    return toPackingOrder(network, meta.permutation).network;
  } catch (error) {
    throw invalid((error as Error).message);
  }
}

/** What a TF.js LayersModel file holds, read and checked, its activations not yet judged. */
export interface LayersModelContents {
  readonly network: SourceNetwork;
  readonly meta: ParsedMetadata | undefined;
  /** The final layer had a softmax (dropped: logits keep the argmax). */
  readonly softmax: boolean;
  /** The file's name of each weighted layer (Dense or Conv2D), for messages. */
  readonly layerNames: readonly string[];
  /** model.json's userDefinedMetadata (unchecked), when it has one. */
  readonly userDefinedMetadata: Record<string, unknown> | undefined;
}

/** Any HepexError of a file's contents (e.g. a NaN kernel weight) as invalid-model-file. */
function asModelFileError<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof HepexError && error.code !== 'invalid-model-file')
      throw invalid(error.message);
    throw error;
  }
}

/**
 * The task the metadata names must be one the graph can do, before any engine trusts it: a
 * reconstruction gives back as many values as it reads (pixel for pixel). Otherwise tfjs fails
 * later, deep inside an op (sub), with a shape error. (A classifier may have any number of
 * outputs: scores are compared by argmax only.)
 */
export function checkTaskFitsGraph(network: SourceNetwork): void {
  const inputs = inputWidth(network);
  const outputs = network.layers[network.layers.length - 1].weights.rows;
  if (network.task === 'reconstruction' && outputs !== inputs) {
    throw invalid(
      `the metadata says task "reconstruction" but the graph maps ${inputs} inputs to ${outputs} outputs; a reconstruction gives back as many values as it reads.`,
    );
  }
}

/** Parses and checks a TF.js LayersModel's files into a SourceNetwork (any activation). */
export function readLayersModelFiles(modelJson: string, weights: Uint8Array): LayersModelContents {
  if (typeof modelJson !== 'string' || modelJson.length > MAX_MODEL_JSON_CHARS)
    throw invalid(`model.json is larger than ${MAX_MODEL_JSON_CHARS} characters.`);
  // Depth-bounded before anything recurses into it (boundedJson.ts); a leading BOM is dropped,
  // as the browser's File.text() does, so the CLI and the studio read the same bytes alike.
  const json = parseBoundedJson(modelJson, (why) => invalid(`model.json: ${why}`));
  if (!isObject(json)) throw invalid('model.json is not a JSON object.');
  if (json.format !== undefined && json.format !== 'layers-model')
    throw invalid(
      `model.json has format ${shown(json.format)}; expected a layers-model (graph models are not supported).`,
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

  const layers: SourceLayer[] = [];
  let inputs = inputSize;
  denses.forEach((d, l) => {
    const kernel = entries.get(`${d.name}/kernel`);
    const next = denses[l + 1];
    const read = next ? next.input : output;
    const activation = activationFor(
      read.c as [number, number, number],
      meta?.layers[l].activation,
      l,
      read.nonPolynomial,
    );
    const geometry = d.conv;
    if (geometry) {
      const conv = asModelFileError(() =>
        convFromFile(d, geometry, kernel, entries.get(`${d.name}/bias`), weights, activation),
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

  if (meta) {
    // The metadata's layer sizes are the graph's (modelFromFiles checks it again on assembly;
    // hepex convert reads through here only).
    const fileSizes = layerSizes({ task: meta.task, layers });
    const metaSizes = [meta.layers[0].inputs, ...meta.layers.map((l) => l.outputs)];
    if (fileSizes.join(',') !== metaSizes.join(','))
      throw invalid(
        `the metadata describes layers ${metaSizes.join('-')} but the weights are ${fileSizes.join('-')}.`,
      );
  }
  const sizes = [layers[0].weights.cols, layers[layers.length - 1].weights.rows];
  const task: Task = meta?.task ?? (sizes[0] === sizes[1] ? 'reconstruction' : 'classification');
  const network: SourceNetwork = { task, layers };
  try {
    validateSourceNetwork(network);
  } catch (error) {
    throw invalid((error as Error).message);
  }
  checkTaskFitsGraph(network);
  return {
    network,
    meta,
    softmax: denses[denses.length - 1].softmax,
    layerNames: denses.map((d) => d.name),
    userDefinedMetadata: isObject(json.userDefinedMetadata) ? json.userDefinedMetadata : undefined,
  };
}
