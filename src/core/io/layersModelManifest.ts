import { MAX_LAYER_SIZE } from '../model/network';
import { invalid, isObject, MAX_WEIGHT_BYTES, shown } from './modelFileChecks';
import { parseBoundedJson } from './boundedJson';

/** The weightsManifest of a TF.js model.json: entries checked against the bytes of weights.bin. */

export interface WeightEntry {
  readonly shape: readonly number[];
  readonly offset: number;
  readonly size: number;
  used: boolean;
}

/** Reads weightsManifest; checks dtype, shapes and that the byte lengths add up exactly. */
export function readManifest(
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
          `weight "${name}" has dtype ${shown(spec.dtype)}; only float32 is supported.`,
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
            `weight "${name}" has shape ${shown(spec.shape)}; sizes must be whole numbers from 1 to ${MAX_LAYER_SIZE}.`,
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

export function readFloats(weights: Uint8Array, entry: WeightEntry): Float32Array {
  entry.used = true;
  const out = new Float32Array(entry.size);
  const view = new DataView(weights.buffer, weights.byteOffset + entry.offset, entry.size * 4);
  for (let k = 0; k < entry.size; k++) out[k] = view.getFloat32(k * 4, true);
  return out;
}

/**
 * The weight files a model.json's manifest names (tf.io may shard), in order, each checked to
 * be a plain file name next to model.json (no directories, no '..', no absolute paths): what
 * the CLI reads from the model directory and the studio looks for among the files opened.
 * Unreadable JSON gives the default name; the parser then reports the JSON's problem in words.
 */
export function manifestWeightPaths(modelJson: string, defaultName = 'weights.bin'): string[] {
  let manifest: unknown;
  try {
    const parsed = parseBoundedJson(modelJson, (why) => new Error(why));
    manifest = isObject(parsed) ? parsed.weightsManifest : undefined;
  } catch {
    return [defaultName];
  }
  const paths: string[] = [];
  if (Array.isArray(manifest)) {
    for (const group of manifest) {
      const list = isObject(group) ? group.paths : undefined;
      if (!Array.isArray(list)) continue;
      for (const p of list) {
        const name = typeof p === 'string' ? p.replace(/^\.\//, '') : '';
        if (!/^[\w.-]+$/.test(name) || /^\.+$/.test(name) || name.includes('..')) {
          throw invalid(
            `weight path ${shown(p)} must be a plain file name next to model.json (like weights.bin).`,
          );
        }
        paths.push(name);
      }
    }
  }
  return paths.length ? paths : [defaultName];
}
