import { checkActivation, type Activation } from '../model/activation';
import { convGeometry, outputSize } from '../model/conv';
import { expandKernelBlockMask, kernelMaskOf } from '../model/convMasks';
import { HepexError } from '../model/errors';
import type { Mask } from '../model/matrix';
import type { ConvGeometry } from '../model/network';
import { countTileNonZeros, tileLayer, type LayerTiling } from '../tiling/tilePlan';
import type { TileShape } from '../tiling/tileShape';
import { checkKeys, invalid, isObject, wholeNumber, shown } from './modelFileChecks';
import type { ConvRecord, LayerRecord, MaskRecord } from './modelMetadata';

/** Entries a scalar record (metrics, provenance) may hold: a guard against hostile files. */
const MAX_RECORD_ENTRIES = 200;

/**
 * The parts of a model file's layer records: keep-masks as bitsets (per weight, or per tile when
 * whole tiles are kept or dropped), a convolution's geometry and kernel mask, activations and
 * scalar records, each encoded or parsed strictly.
 */

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
export function tileBits(mask: Mask, tiling: LayerTiling): Uint8Array | undefined {
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

export function countOnesOf(data: Uint8Array): number {
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

export function parseActivation(v: unknown, what: string): Activation {
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

export function parseScalarRecord<T extends 'number' | 'scalar'>(
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

export function decodeMask(
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
      `${what} has unknown encoding ${shown(v.encoding)} (expected "elements" or "tiles").`,
    );
  }
  const counted = countOnesOf(data);
  if (counted !== ones)
    throw invalid(`${what} says it keeps ${ones} weights but its bits keep ${counted}.`);
  return { rows, cols, data };
}

/** A conv layer's mask: the shared filters x patchWidth kernel block, expanded. */
export function decodeKernelMask(
  v: Record<string, unknown>,
  what: string,
  rows: number,
  cols: number,
  shape: LayerRecord,
): Mask {
  const g = convGeometry(shape.geometry as ConvRecord);
  if (v.encoding !== 'kernel')
    throw invalid(
      `${what} belongs to a convolution and must be stored as its kernel mask (encoding "kernel"), not ${shown(v.encoding)}.`,
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
export function parseConvRecord(
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
    throw invalid(`${what} has unknown kind ${shown(v.kind)} (expected "dense" or "conv").`);
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
