import type { Network } from '../core/model/network';
import type { AppState } from './appStore';

/**
 * File names of the studio's downloads. A name says what the file holds (model, what is shown,
 * sparsity, theta, tile shape, weight ciphertexts) and ends in a hash of the weights, so two
 * different models never share a name and the same model always gets the same one:
 *   ae-784-256-64-256-784_hepex-s90-theta0.0625_4x8_4871ct_1a2b3c4d.model.json
 * Pure: plain values in, strings out; exportNamePartsOf reads them off the state.
 */
export interface ExportNameParts {
  /** The model's name as it was given (free text; sanitized here). */
  readonly model: string;
  /** What is shown: 'trained', 'opened' (a model that came with masks), 'twin', or a method. */
  readonly shown: string;
  /** Fraction of zero weights, 0..1. */
  readonly sparsity: number;
  /** HE-PEx's tile density threshold; left out of the name when undefined. */
  readonly theta?: number;
  readonly tile: { readonly t1: number; readonly t2: number };
  /** Weight ciphertexts of what is shown. */
  readonly ciphertexts: number;
  /** 8 hex digits, networkHash of the shown weights. */
  readonly hash: string;
}

/** Longest model part of a name, characters: file names stay readable in a download bar. */
export const MAX_NAME_PART = 48;

/**
 * Lower case without accents, runs of anything but [a-z0-9] as one '-', no '-' at either end;
 * 'model' if nothing is left.
 */
export function sanitizeName(text: string, maxLength = MAX_NAME_PART): string {
  const s = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, maxLength)
    .replace(/^-+|-+$/g, '');
  return s || 'model';
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** 32-bit FNV-1a over bytes, continuing from `hash` (chain calls to hash several buffers). */
export function fnv1a32(bytes: Uint8Array, hash = FNV_OFFSET): number {
  let h = hash;
  for (let k = 0; k < bytes.length; k++) h = Math.imul(h ^ bytes[k], FNV_PRIME);
  return h >>> 0;
}

const bytesOf = (a: Float32Array | Uint32Array): Uint8Array =>
  new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * 8 hex digits identifying a network's weights: FNV-1a over each layer's shape (rows, cols as
 * uint32), weight and bias float32 bytes (platform order: little-endian in every browser). A
 * convolution's matrix is tied over positions, so only position 0's filters x patchWidth block
 * is hashed (a few hundred floats instead of millions).
 */
export function networkHash(network: Network): string {
  let h = FNV_OFFSET;
  for (const layer of network.layers) {
    const { rows, cols, data } = layer.weights;
    h = fnv1a32(bytesOf(new Uint32Array([rows, cols])), h);
    if (layer.kind === 'conv') {
      const g = layer.geometry;
      for (let f = 0; f < g.filters; f++)
        h = fnv1a32(bytesOf(data.subarray(f * cols, f * cols + g.patchWidth)), h);
      h = fnv1a32(bytesOf(layer.bias.subarray(0, g.filters)), h);
    } else {
      h = fnv1a32(bytesOf(data), h);
      h = fnv1a32(bytesOf(layer.bias), h);
    }
  }
  return h.toString(16).padStart(8, '0');
}

/** A number for a file name: at most 4 significant digits, no float noise (0.30000000000000004). */
const num = (x: number) => String(+x.toPrecision(4));

/** The common stem of every export of what is shown (no extension). */
export function exportBaseName(p: ExportNameParts): string {
  const what = sanitizeName(p.shown, 16);
  const theta = p.theta === undefined ? '' : `-theta${num(p.theta)}`;
  const sparsity = `s${num(Math.round(p.sparsity * 1000) / 10)}`;
  const hash = /^[0-9a-f]{8}$/.test(p.hash) ? p.hash : sanitizeName(p.hash, 8);
  return `${sanitizeName(p.model)}_${what}-${sparsity}${theta}_${p.tile.t1}x${p.tile.t2}_${Math.round(p.ciphertexts)}ct_${hash}`;
}

/**
 * The TF.js pair. model.json's weightsManifest must name the weights file exactly like this
 * (tf.loadLayersModel fetches it by that path next to model.json).
 */
export function modelFileNames(base: string): { modelFile: string; weightsFile: string } {
  return { modelFile: `${base}.model.json`, weightsFile: `${base}.weights.bin` };
}

/**
 * The ONNX exports: the function on raw inputs (`.onnx`), and the model the HE server runs with
 * the client permutations beside it (`.server.onnx` + `.server.permutation.json`).
 */
export function onnxFileNames(base: string): {
  functionFile: string;
  serverFile: string;
  permutationFile: string;
} {
  return {
    functionFile: `${base}.onnx`,
    serverFile: `${base}.server.onnx`,
    permutationFile: `${base}.server.permutation.json`,
  };
}

/** The big grid as an image: which layer (1-based), which view, pixels per weight. */
export function gridImageFileName(
  base: string,
  layer: number,
  mode: string,
  scale: number,
): string {
  return `${base}_layer${layer + 1}-${sanitizeName(mode, 16)}-${scale}x.png`;
}

/** 20250314T091500Z: ISO 8601 basic format, UTC, sortable and free of ':' (not allowed on Windows). */
export const fileTimestamp = (at: Date): string =>
  at
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/[-:]/g, '');

/**
 * The history's file name: the model (the current one; "-and-N-more" when the runs span other
 * models too), the number of runs and when it was written.
 */
export function historyFileName(
  model: string,
  runs: number,
  otherModels: number,
  at: Date,
  ext: 'csv' | 'json',
): string {
  const more = otherModels > 0 ? `-and-${otherModels}-more` : '';
  return `hepex-history_${sanitizeName(model)}${more}_${runs}runs_${fileTimestamp(at)}.${ext}`;
}

/** What the shown model's export names are made of, read off the state; null before a model. */
export function exportNamePartsOf(s: AppState): ExportNameParts | null {
  const { shown, analysis } = s;
  if (!shown || !analysis) return null;
  let what: string;
  let theta: number | undefined;
  if (shown.origin === 'dense') {
    what = s.dense?.masks ? 'opened' : 'trained';
  } else if (shown.origin === 'twin') {
    what = 'twin';
    const t = s.twin?.provenance?.theta;
    if (s.twin?.provenance?.method === 'hepex' && typeof t === 'number') theta = t;
  } else {
    what = s.method;
    if (s.method === 'hepex') theta = s.theta;
  }
  return {
    model: s.dense?.name || 'model',
    shown: what,
    sparsity: analysis.sparsity,
    theta,
    tile: s.tile,
    ciphertexts: analysis.cost.total.weightCiphertexts,
    hash: networkHash(shown.network),
  };
}
