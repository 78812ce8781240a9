import type { Activation } from '../model/activation';
import type { Mask } from '../model/matrix';
import type { HepexModel } from './model';
import {
  convolutionOf,
  layerSizes,
  type ConvGeometry,
  type Network,
  type Task,
} from '../model/network';
import { checkPermutation, type NetworkPermutation } from '../model/permutation';
import { createTileShape, type TileShape } from '../tiling/tileShape';
import { checkKeys, invalid, isObject, wholeNumber, shown } from './modelFileChecks';
import {
  decodeMask,
  encodeMask,
  parseActivation,
  parseConvRecord,
  parseScalarRecord,
} from './metadataParts';

/**
 * The HE-PEx part of a model file: TF.js LayersModel `userDefinedMetadata.hepex`. Canonical,
 * versioned JSON. Weights are NOT here (they are the LayersModel's own weights); this carries
 * what tfjs does not know:
 *   schemaVersion  2 (1 is still read; a newer file is refused rather than misread)
 *   weightOrder    'data' | 'packing' (version 2; version 1 files are 'packing'): the order of
 *                  the LayersModel's own weights. 'data' (what this studio writes): W_0's columns
 *                  and W_L's rows in the dataset's order, so plain tfjs computes the model's
 *                  function on raw inputs; import folds `permutation` back in (model/clientOrder.ts)
 *                  to the packing order the HE server runs, which the masks below are always in.
 *                  'packing': the weights are already in packing order, and plain tfjs needs
 *                  the client to permute inputs and unpermute outputs itself.
 *   name, task     'classification' | 'reconstruction'
 *   layers         per layer: inputs, outputs and the activation with its coefficients
 *                  (the HE engine evaluates exactly this polynomial); a convolution (first
 *                  layer only) adds kind 'conv' and its geometry {height, width, channels,
 *                  kernel, stride, filters}; inputs/outputs are then its dense form's
 *                  (positions * patchWidth, positions * filters; network.ts ConvLayer)
 *   tile           the tile shape the model was pruned for {t1, t2, batch, ringDegree, first}
 *                  (first: layer 0's orientation, 'A' when absent: files from before it existed)
 *   masks          one per layer, as compact bitsets (base64, bit k of byte k>>3 is LSB-first):
 *                  'tiles': one bit per weight tile (o * inBlocks + i, in the layer's HE
 *                  orientation, see tilePlan.ts), used when every tile is all-kept or all-pruned
 *                  (the HE-PEx result after expansion); 'elements': one bit per weight, row-major
 *                  in W's outputs x inputs frame; 'kernel' (conv layers, and only they): one bit
 *                  per weight of the filters x patchWidth kernel block that every position
 *                  shares, expanded block-diagonally on read; off-block and patch-padding
 *                  entries hold no weights and are 0 (kernelMaskOf). `ones`
 *                  counts the kept weights of what is stored (a checksum).
 *   permutation    client-side input/output orders (permutation.ts)
 *   metrics, provenance  free-form numbers / JSON scalars.
 */
export const HEPEX_SCHEMA_VERSION = 2;

/** The order of a file's weights (see above); masks and the HE plan are always in packing order. */
export type WeightOrder = 'data' | 'packing';

export interface MaskRecord {
  readonly rows: number;
  readonly cols: number;
  readonly ones: number;
  readonly encoding: 'elements' | 'tiles' | 'kernel';
  readonly bits: string;
}

/** A convolution's geometry as files store it (patchWidth follows from it: convGeometry). */
export type ConvRecord = Omit<ConvGeometry, 'patchWidth'>;

export interface LayerRecord {
  /** Absent on dense layers (files from before convolutions have none). */
  readonly kind?: 'conv';
  readonly geometry?: ConvRecord;
  readonly inputs: number;
  readonly outputs: number;
  readonly activation: Activation;
}

export interface HepexMetadata {
  readonly schemaVersion: typeof HEPEX_SCHEMA_VERSION;
  readonly weightOrder: WeightOrder;
  readonly name: string;
  readonly task: Task;
  readonly layers: readonly LayerRecord[];
  readonly tile?: TileShape;
  readonly masks?: readonly MaskRecord[];
  readonly permutation?: { readonly input: readonly number[]; readonly output: readonly number[] };
  readonly metrics?: Readonly<Record<string, number>>;
  readonly provenance?: Readonly<Record<string, string | number | boolean>>;
}

/** Everything of a HepexModel except the weights, as parsed from a file. */
export interface ParsedMetadata {
  readonly weightOrder: WeightOrder;
  readonly name: string;
  readonly task: Task;
  readonly layers: readonly LayerRecord[];
  readonly tile?: TileShape;
  readonly masks?: readonly Mask[];
  readonly permutation?: NetworkPermutation;
  readonly metrics?: Readonly<Record<string, number>>;
  readonly provenance?: Readonly<Record<string, string | number | boolean>>;
}

const MAX_NAME_LENGTH = 200;

const convRecord = (g: ConvGeometry): ConvRecord => ({
  height: g.height,
  width: g.width,
  channels: g.channels,
  kernel: g.kernel,
  stride: g.stride,
  filters: g.filters,
});

/** The metadata of a model, ready for JSON.stringify (keys in a fixed order). */
export function encodeHepexMetadata(model: HepexModel): HepexMetadata {
  const { network } = model;
  return {
    schemaVersion: HEPEX_SCHEMA_VERSION,
    weightOrder: 'data',
    name: model.name,
    task: network.task,
    layers: network.layers.map((l) => ({
      ...(l.kind === 'conv' ? { kind: l.kind, geometry: convRecord(l.geometry) } : {}),
      inputs: l.weights.cols,
      outputs: l.weights.rows,
      activation: l.activation,
    })),
    ...(model.tile
      ? {
          tile: {
            t1: model.tile.t1,
            t2: model.tile.t2,
            batch: model.tile.batch,
            ringDegree: model.tile.ringDegree,
            first: model.tile.first,
          },
        }
      : {}),
    ...(model.masks
      ? {
          masks: model.masks.map((m, l) =>
            encodeMask(m, l, model.tile, l === 0 ? convolutionOf(network) : undefined),
          ),
        }
      : {}),
    ...(model.permutation
      ? {
          permutation: {
            input: Array.from(model.permutation.input),
            output: Array.from(model.permutation.output),
          },
        }
      : {}),
    ...(model.metrics ? { metrics: { ...model.metrics } } : {}),
    ...(model.provenance ? { provenance: { ...model.provenance } } : {}),
  };
}

// ---------- strict parse ----------

/**
 * Strictly parses `userDefinedMetadata.hepex`. Throws `invalid-model-file` with the first
 * problem in words: wrong version, unknown fields, masks of the wrong shape or length, bad
 * permutations, non-finite metrics.
 */
export function parseHepexMetadata(value: unknown): ParsedMetadata {
  if (!isObject(value)) throw invalid('userDefinedMetadata.hepex is not an object.');
  checkKeys(
    value,
    [
      'schemaVersion',
      'weightOrder',
      'name',
      'task',
      'layers',
      'tile',
      'masks',
      'permutation',
      'metrics',
      'provenance',
    ],
    'hepex metadata',
  );
  if (value.schemaVersion !== 1 && value.schemaVersion !== HEPEX_SCHEMA_VERSION) {
    throw invalid(
      typeof value.schemaVersion === 'number' && value.schemaVersion > HEPEX_SCHEMA_VERSION
        ? `schema version ${value.schemaVersion} was written by a newer studio; this one reads versions 1 to ${HEPEX_SCHEMA_VERSION}.`
        : `schemaVersion must be 1 or ${HEPEX_SCHEMA_VERSION}, got ${shown(value.schemaVersion)}.`,
    );
  }
  const weightOrder = parseWeightOrder(value.schemaVersion, value.weightOrder);
  if (typeof value.name !== 'string' || value.name.length > MAX_NAME_LENGTH)
    throw invalid(`name must be a string of at most ${MAX_NAME_LENGTH} characters.`);
  if (value.task !== 'classification' && value.task !== 'reconstruction') {
    throw invalid(`task must be "classification" or "reconstruction", got ${shown(value.task)}.`);
  }
  if (!Array.isArray(value.layers) || value.layers.length < 1 || value.layers.length > 64)
    throw invalid('layers must list 1 to 64 layers.');
  const layers = value.layers.map((v, l): LayerRecord => {
    const what = `layer ${l + 1}`;
    if (!isObject(v)) throw invalid(`${what} is not an object.`);
    checkKeys(v, ['kind', 'geometry', 'inputs', 'outputs', 'activation'], what);
    const inputs = wholeNumber(v.inputs, `${what}.inputs`, 1, 1 << 16);
    const outputs = wholeNumber(v.outputs, `${what}.outputs`, 1, 1 << 16);
    const geometry = parseConvRecord(v, what, l === 0, inputs, outputs);
    return {
      ...(geometry ? { kind: 'conv' as const, geometry } : {}),
      inputs,
      outputs,
      activation: parseActivation(v.activation, `${what}.activation`),
    };
  });
  layers.forEach((l, i) => {
    if (i > 0 && l.inputs !== layers[i - 1].outputs)
      throw invalid(
        `layer ${i + 1} takes ${l.inputs} inputs but layer ${i} gives ${layers[i - 1].outputs}.`,
      );
  });
  let tile: TileShape | undefined;
  if (value.tile !== undefined) {
    const t = value.tile;
    if (!isObject(t)) throw invalid('tile must be an object {t1, t2, batch, ringDegree, first}.');
    checkKeys(t, ['t1', 't2', 'batch', 'ringDegree', 'first'], 'tile');
    try {
      // Files written before the chain could start with B carry no `first`: they were A-first.
      const first = t.first === undefined ? 'A' : String(t.first);
      tile = createTileShape(Number(t.t1), Number(t.t2), {
        batch: Number(t.batch),
        ringDegree: Number(t.ringDegree),
        first,
      });
    } catch (error) {
      throw invalid(`tile: ${(error as Error).message}`);
    }
  }
  let masks: Mask[] | undefined;
  if (value.masks !== undefined) {
    if (!Array.isArray(value.masks) || value.masks.length !== layers.length) {
      throw invalid(`masks must list one mask per layer (${layers.length}).`);
    }
    masks = value.masks.map((m, l) => decodeMask(m, l, layers[l], tile));
  }
  let permutation: NetworkPermutation | undefined;
  if (value.permutation !== undefined) {
    const p = value.permutation;
    if (!isObject(p) || !Array.isArray(p.input) || !Array.isArray(p.output))
      throw invalid('permutation must be {input: [...], output: [...]}.');
    checkKeys(p, ['input', 'output'], 'permutation');
    try {
      permutation = {
        input: checkPermutation(p.input as number[], layers[0].inputs, 'The input permutation'),
        output: checkPermutation(
          p.output as number[],
          layers[layers.length - 1].outputs,
          'The output permutation',
        ),
      };
    } catch (error) {
      throw invalid((error as Error).message);
    }
  }
  return {
    weightOrder,
    name: value.name,
    task: value.task,
    layers,
    ...(tile ? { tile } : {}),
    ...(masks ? { masks } : {}),
    ...(permutation ? { permutation } : {}),
    ...(value.metrics !== undefined
      ? { metrics: parseScalarRecord(value.metrics, 'metrics', 'number') }
      : {}),
    ...(value.provenance !== undefined
      ? { provenance: parseScalarRecord(value.provenance, 'provenance', 'scalar') }
      : {}),
  };
}

/** Version 1 files predate the field and hold packing-order weights; version 2 must say. */
function parseWeightOrder(version: 1 | 2, v: unknown): WeightOrder {
  if (version === 1) {
    if (v !== undefined) throw invalid('weightOrder needs schema version 2, not 1.');
    return 'packing';
  }
  if (v !== 'data' && v !== 'packing')
    throw invalid(`weightOrder must be "data" or "packing", got ${shown(v)}.`);
  return v;
}

/**
 * Joins parsed metadata with the network read from the file's weights, in packing order (a
 * 'data'-order file's weights already folded: layersModelFile.ts): shapes must agree and every
 * pruned weight must be exactly zero (the promise a HepexModel makes).
 */
export function assembleHepexModel(meta: ParsedMetadata, network: Network): HepexModel {
  const sizes = layerSizes(network);
  const metaSizes = [meta.layers[0].inputs, ...meta.layers.map((l) => l.outputs)];
  if (sizes.join(',') !== metaSizes.join(',')) {
    throw invalid(
      `the metadata describes layers ${metaSizes.join('-')} but the weights are ${sizes.join('-')}.`,
    );
  }
  if (network.task !== meta.task)
    throw invalid(`the metadata says task "${meta.task}" but the network is "${network.task}".`);
  meta.layers.forEach((record, l) => {
    const layer = network.layers[l];
    const conv = layer.kind === 'conv' ? convRecord(layer.geometry) : undefined;
    if (JSON.stringify(conv) !== JSON.stringify(record.geometry)) {
      const say = (g: ConvRecord | undefined): string =>
        g
          ? `a ${g.kernel} x ${g.kernel} stride-${g.stride} convolution with ${g.filters} filters on ${g.height} x ${g.width} x ${g.channels} images`
          : 'a dense layer';
      throw invalid(
        `layer ${l + 1}: the metadata describes ${say(record.geometry)} but the weights are ${say(conv)}.`,
      );
    }
  });
  meta.masks?.forEach((mask, l) => {
    const w = network.layers[l].weights.data;
    for (let k = 0; k < w.length; k++) {
      if (!mask.data[k] && w[k] !== 0) {
        throw invalid(`layer ${l + 1}: weight ${k} is pruned by the mask but is ${w[k]}, not 0.`);
      }
    }
  });
  return {
    name: meta.name,
    network,
    ...(meta.masks ? { masks: meta.masks } : {}),
    ...(meta.permutation ? { permutation: meta.permutation } : {}),
    ...(meta.tile ? { tile: meta.tile } : {}),
    ...(meta.metrics ? { metrics: meta.metrics } : {}),
    ...(meta.provenance ? { provenance: meta.provenance } : {}),
  };
}
