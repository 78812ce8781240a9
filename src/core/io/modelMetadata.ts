import { checkActivation, type Activation } from '../model/activation';
import { convGeometry, expandKernelBlockMask, kernelMaskOf, outputSize } from '../model/conv';
import { HepexError } from '../model/errors';
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
import { countTileNonZeros, tileLayer, type LayerTiling } from '../tiling/tilePlan';
import { createTileShape, type TileShape } from '../tiling/tileShape';

/**
 * The HE-PEx part of a model file: TF.js LayersModel `userDefinedMetadata.hepex`. Canonical,
 * versioned JSON. Weights are NOT here (they are the LayersModel's own weights); this carries
 * what tfjs does not know:
 *   schemaVersion  1 (a newer file is refused rather than misread)
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
export const HEPEX_SCHEMA_VERSION = 1;

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
const MAX_RECORD_ENTRIES = 200;

// ---------- bitsets ----------

/** Packs 0/1 bytes into an LSB-first bitset, base64. */
export function packBits(bits: Uint8Array): string {
  const bytes = new Uint8Array(Math.ceil(bits.length / 8));
  for (let k = 0; k < bits.length; k++) if (bits[k]) bytes[k >> 3] |= 1 << (k & 7);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000)
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/** Unpacks `n` bits; throws when the length is wrong or padding bits are set. */
export function unpackBits(base64: string, n: number, what: string): Uint8Array {
  let text: string;
  try {
    text = atob(base64);
  } catch {
    throw invalid(`${what}: the bitset is not valid base64.`);
  }
  if (text.length !== Math.ceil(n / 8)) {
    throw invalid(
      `${what}: the bitset has ${text.length} bytes; ${n} bits need ${Math.ceil(n / 8)}.`,
    );
  }
  const out = new Uint8Array(n);
  for (let k = 0; k < n; k++) out[k] = (text.charCodeAt(k >> 3) >> (k & 7)) & 1;
  if (n % 8 && text.charCodeAt(text.length - 1) >> (n % 8))
    throw invalid(`${what}: the bitset has stray bits past its end.`);
  return out;
}

// ---------- encode ----------

/** The tile-granular bitset of a mask, or undefined when some tile is partly kept. */
function tileBits(mask: Mask, tiling: LayerTiling): Uint8Array | undefined {
  const counts = countTileNonZeros(mask, tiling);
  const flags = new Uint8Array(tiling.tileCount);
  for (let o = 0; o < tiling.outBlocks; o++) {
    for (let i = 0; i < tiling.inBlocks; i++) {
      const t = o * tiling.inBlocks + i;
      const area =
        (Math.min(tiling.blockOut, tiling.outputs - o * tiling.blockOut) *
          Math.min(tiling.blockIn, tiling.inputs - i * tiling.blockIn)) |
        0;
      if (counts[t] !== 0 && counts[t] !== area) return undefined;
      flags[t] = counts[t] ? 1 : 0;
    }
  }
  return flags;
}

function countOnesOf(data: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < data.length; i++) n += data[i];
  return n;
}

export function encodeMask(
  mask: Mask,
  layerIndex: number,
  tile?: TileShape,
  conv?: ConvGeometry,
): MaskRecord {
  if (conv) {
    const block = kernelMaskOf(conv, mask);
    return {
      rows: block.rows,
      cols: block.cols,
      ones: countOnesOf(block.data),
      encoding: 'kernel',
      bits: packBits(block.data),
    };
  }
  const ones = countOnesOf(mask.data);
  if (tile) {
    const flags = tileBits(mask, tileLayer(layerIndex, mask.cols, mask.rows, tile));
    if (flags)
      return { rows: mask.rows, cols: mask.cols, ones, encoding: 'tiles', bits: packBits(flags) };
  }
  return {
    rows: mask.rows,
    cols: mask.cols,
    ones,
    encoding: 'elements',
    bits: packBits(mask.data),
  };
}

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

function invalid(message: string): HepexError {
  return new HepexError('invalid-model-file', `Model file: ${message}`);
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function checkKeys(value: Record<string, unknown>, allowed: readonly string[], what: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw invalid(`${what} has an unknown field "${key}".`);
  }
}

function wholeNumber(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw invalid(
      `${what} must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}.`,
    );
  }
  return v;
}

function parseActivation(v: unknown, what: string): Activation {
  if (!isObject(v) || typeof v.type !== 'string') throw invalid(`${what} is not an activation.`);
  try {
    if (v.type === 'linear' || v.type === 'square') {
      checkKeys(v, ['type'], what);
      return { type: v.type };
    }
    if (v.type === 'poly') {
      checkKeys(v, ['type', 'coefficients'], what);
      const c = v.coefficients;
      if (!Array.isArray(c) || !c.every((x) => typeof x === 'number'))
        throw invalid(`${what}: coefficients must be numbers.`);
      return checkActivation({ type: 'poly', coefficients: [...(c as number[])] });
    }
  } catch (error) {
    if (error instanceof HepexError && error.code !== 'invalid-model-file')
      throw invalid(`${what}: ${error.message}`);
    throw error;
  }
  throw invalid(`${what} has unknown type "${v.type}" (expected linear, square or poly).`);
}

function parseScalarRecord<T extends 'number' | 'scalar'>(
  v: unknown,
  what: string,
  kind: T,
): Record<string, T extends 'number' ? number : string | number | boolean> {
  if (!isObject(v)) throw invalid(`${what} must be an object.`);
  const entries = Object.entries(v);
  if (entries.length > MAX_RECORD_ENTRIES)
    throw invalid(`${what} has more than ${MAX_RECORD_ENTRIES} entries.`);
  const out: Record<string, string | number | boolean> = {};
  for (const [key, value] of entries) {
    const ok =
      kind === 'number'
        ? typeof value === 'number' && Number.isFinite(value)
        : (typeof value === 'number' && Number.isFinite(value)) ||
          typeof value === 'boolean' ||
          (typeof value === 'string' && value.length <= 1000);
    if (!ok)
      throw invalid(
        `${what}.${key} must be ${kind === 'number' ? 'a finite number' : 'a number, boolean or short string'}.`,
      );
    out[key] = value as string | number | boolean;
  }
  return out as Record<string, T extends 'number' ? number : string | number | boolean>;
}

function decodeMask(
  v: unknown,
  layer: number,
  shape: LayerRecord,
  tile: TileShape | undefined,
): Mask {
  const what = `mask of layer ${layer + 1}`;
  if (!isObject(v)) throw invalid(`${what} is not an object.`);
  checkKeys(v, ['rows', 'cols', 'ones', 'encoding', 'bits'], what);
  const rows = wholeNumber(v.rows, `${what}.rows`, 1, 1 << 16);
  const cols = wholeNumber(v.cols, `${what}.cols`, 1, 1 << 16);
  if (shape.geometry) return decodeKernelMask(v, what, rows, cols, shape);
  if (v.encoding === 'kernel')
    throw invalid(
      `${what} is stored as a convolution kernel mask but layer ${layer + 1} is not a convolution.`,
    );
  if (rows !== shape.outputs || cols !== shape.inputs) {
    throw invalid(
      `${what} is ${rows} x ${cols} but the layer's weights are ${shape.outputs} x ${shape.inputs}.`,
    );
  }
  const ones = wholeNumber(v.ones, `${what}.ones`, 0, rows * cols);
  if (typeof v.bits !== 'string') throw invalid(`${what}.bits must be a base64 string.`);
  let data: Uint8Array;
  if (v.encoding === 'elements') {
    data = unpackBits(v.bits, rows * cols, what);
  } else if (v.encoding === 'tiles') {
    if (!tile) throw invalid(`${what} is stored per tile but the file has no tile shape.`);
    const tiling = tileLayer(layer, cols, rows, tile);
    const flags = unpackBits(v.bits, tiling.tileCount, what);
    data = new Uint8Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const base = ((r / tiling.blockOut) | 0) * tiling.inBlocks;
      for (let c = 0; c < cols; c++) data[r * cols + c] = flags[base + ((c / tiling.blockIn) | 0)];
    }
  } else {
    throw invalid(
      `${what} has unknown encoding ${JSON.stringify(v.encoding)} (expected "elements" or "tiles").`,
    );
  }
  const counted = countOnesOf(data);
  if (counted !== ones)
    throw invalid(`${what} says it keeps ${ones} weights but its bits keep ${counted}.`);
  return { rows, cols, data };
}

/** A conv layer's mask: the shared filters x patchWidth kernel block, expanded. */
function decodeKernelMask(
  v: Record<string, unknown>,
  what: string,
  rows: number,
  cols: number,
  shape: LayerRecord,
): Mask {
  const g = convGeometry(shape.geometry as ConvRecord);
  if (v.encoding !== 'kernel')
    throw invalid(
      `${what} belongs to a convolution and must be stored as its kernel mask (encoding "kernel"), not ${JSON.stringify(v.encoding)}.`,
    );
  if (rows !== g.filters || cols !== g.patchWidth) {
    throw invalid(
      `${what} is ${rows} x ${cols} but the convolution's kernel block is ${g.filters} filters x ${g.patchWidth} patch entries.`,
    );
  }
  const ones = wholeNumber(v.ones, `${what}.ones`, 0, rows * cols);
  if (typeof v.bits !== 'string') throw invalid(`${what}.bits must be a base64 string.`);
  const block = unpackBits(v.bits, rows * cols, what);
  const taps = g.kernel * g.kernel * g.channels;
  for (let k = 0; k < block.length; k++) {
    if (block[k] && k % g.patchWidth >= taps)
      throw invalid(
        `${what} keeps patch padding entry ${(k % g.patchWidth) + 1} of filter ${Math.floor(k / g.patchWidth) + 1}, which holds no weight (a kernel has ${taps} entries).`,
      );
  }
  const counted = countOnesOf(block);
  if (counted !== ones)
    throw invalid(`${what} says it keeps ${ones} weights but its bits keep ${counted}.`);
  return expandKernelBlockMask(g, { rows, cols, data: block });
}

/** A layer record's conv fields: kind 'conv' + a geometry whose dense form has the record's sizes. */
function parseConvRecord(
  v: Record<string, unknown>,
  what: string,
  first: boolean,
  inputs: number,
  outputs: number,
): ConvRecord | undefined {
  if (v.kind === undefined || v.kind === 'dense') {
    if (v.geometry !== undefined)
      throw invalid(`${what} has a geometry but is not a convolution (kind "conv").`);
    return undefined;
  }
  if (v.kind !== 'conv')
    throw invalid(
      `${what} has unknown kind ${JSON.stringify(v.kind)} (expected "dense" or "conv").`,
    );
  if (!first)
    throw invalid(
      `${what} is a convolution; only the first layer may be one (its patches are packed by the client).`,
    );
  const g = v.geometry;
  if (!isObject(g))
    throw invalid(
      `${what} is a convolution but has no geometry {height, width, channels, kernel, stride, filters}.`,
    );
  const keys = ['height', 'width', 'channels', 'kernel', 'stride', 'filters'] as const;
  checkKeys(g, keys, `${what}.geometry`);
  const missing = keys.filter((k) => g[k] === undefined);
  if (missing.length) throw invalid(`${what}.geometry lacks ${missing.join(', ')}.`);
  const [height, width, channels, kernel, stride, filters] = keys.map((k) =>
    wholeNumber(g[k], `${what}.geometry.${k}`, 1, 1 << 16),
  );
  const record: ConvRecord = { height, width, channels, kernel, stride, filters };
  let full: ConvGeometry;
  try {
    full = convGeometry(record);
  } catch (error) {
    throw invalid(`${what}.geometry: ${(error as Error).message}`);
  }
  const { positions } = outputSize(full);
  if (outputs !== positions * filters || inputs !== positions * full.patchWidth) {
    throw invalid(
      `${what}: a ${height} x ${width} x ${channels} image under a ${kernel} x ${kernel} kernel (stride ${stride}, ${filters} filters) has ${positions} positions, so ${positions * full.patchWidth} inputs and ${positions * filters} outputs, but the record says ${inputs} and ${outputs}.`,
    );
  }
  return record;
}

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
  if (value.schemaVersion !== HEPEX_SCHEMA_VERSION) {
    throw invalid(
      typeof value.schemaVersion === 'number' && value.schemaVersion > HEPEX_SCHEMA_VERSION
        ? `schema version ${value.schemaVersion} was written by a newer studio; this one reads version ${HEPEX_SCHEMA_VERSION}.`
        : `schemaVersion must be ${HEPEX_SCHEMA_VERSION}, got ${JSON.stringify(value.schemaVersion)}.`,
    );
  }
  if (typeof value.name !== 'string' || value.name.length > MAX_NAME_LENGTH)
    throw invalid(`name must be a string of at most ${MAX_NAME_LENGTH} characters.`);
  if (value.task !== 'classification' && value.task !== 'reconstruction') {
    throw invalid(
      `task must be "classification" or "reconstruction", got ${JSON.stringify(value.task)}.`,
    );
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

/**
 * Joins parsed metadata with the network read from the file's weights: shapes must agree and
 * every pruned weight must be exactly zero (the promise a HepexModel makes).
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
