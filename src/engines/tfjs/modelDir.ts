import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HepexError } from '../../core/model/errors';
import type { HepexModel, SourceModel } from '../../core/io/model';
import { sourceModelFromFiles } from '../../core/io/sourceModelFile';
import { sourceModelToFiles } from './sourceModelFiles';
import { modelFromFiles } from '../../core/io/layersModelFile';
import { MAX_MODEL_JSON_CHARS, MAX_WEIGHT_BYTES } from '../../core/io/modelFileChecks';
import { MODEL_FILE, WEIGHTS_FILE, modelToFiles } from './modelFiles';

/**
 * Node only: a model directory DIR/model.json + DIR/weights.bin, the layout
 * tf.loadLayersModel('.../model.json') expects (the manifest's path is ./weights.bin).
 */
export async function readModelDir(dir: string): Promise<HepexModel> {
  const { modelJson, weights } = await readModelDirFiles(dir);
  return modelFromFiles(modelJson, weights);
}

/** A model directory read as a SourceModel: ReLU, sigmoid and tanh accepted (hepex convert). */
export async function readSourceModelDir(dir: string): Promise<SourceModel> {
  const { modelJson, weights } = await readModelDirFiles(dir);
  return sourceModelFromFiles(modelJson, weights);
}

/** model.json's text and the manifest's weight files concatenated, size-checked. */
export async function readModelDirFiles(
  dir: string,
): Promise<{ modelJson: string; weights: Uint8Array }> {
  const jsonPath = join(dir, MODEL_FILE);
  const read = async (path: string, limit: number): Promise<Buffer> => {
    try {
      const info = await stat(path);
      if (info.size > limit)
        throw new HepexError(
          'invalid-model-file',
          `Model file: ${path} is larger than ${limit} bytes.`,
        );
      return await readFile(path);
    } catch (error) {
      if (error instanceof HepexError) throw error;
      throw new HepexError(
        'invalid-model-file',
        `Cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); a model directory holds model.json and weights.bin.`,
      );
    }
  };
  const json = (await read(jsonPath, MAX_MODEL_JSON_CHARS)).toString('utf8');
  const manifestPaths = weightPaths(json);
  const parts = await Promise.all(manifestPaths.map((p) => read(join(dir, p), MAX_WEIGHT_BYTES)));
  const weights = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    weights.set(p, at);
    at += p.length;
  }
  return { modelJson: json, weights };
}

/** The weight file paths the manifest names (tf.io may shard), checked to stay inside the dir. */
function weightPaths(json: string): string[] {
  let manifest: unknown;
  try {
    manifest = (JSON.parse(json) as { weightsManifest?: unknown }).weightsManifest;
  } catch {
    return [WEIGHTS_FILE]; // modelFromFiles reports the JSON error in words
  }
  if (!Array.isArray(manifest)) return [WEIGHTS_FILE];
  const paths: string[] = [];
  for (const group of manifest) {
    const list = (group as { paths?: unknown })?.paths;
    if (!Array.isArray(list)) continue;
    for (const p of list) {
      if (typeof p !== 'string' || !/^(\.\/)?[\w.-]+$/.test(p) || p.includes('..')) {
        throw new HepexError(
          'invalid-model-file',
          `Model file: weight path ${JSON.stringify(p)} must be a plain file name in the model directory.`,
        );
      }
      paths.push(p.replace(/^\.\//, ''));
    }
  }
  return paths.length ? paths : [WEIGHTS_FILE];
}

/** Writes both files (to temporary names first, so a failed write leaves an old model intact). */
export async function writeModelDir(dir: string, model: HepexModel): Promise<void> {
  await writeModelDirFiles(dir, await modelToFiles(model));
}

/**
 * Writes a SourceModel (ReLU, sigmoid or tanh allowed) as a plain TF.js model: what
 * `hepex train --activation relu` saves and `hepex convert` reads.
 */
export async function writeSourceModelDir(dir: string, model: SourceModel): Promise<void> {
  await writeModelDirFiles(dir, await sourceModelToFiles(model));
}

async function writeModelDirFiles(
  dir: string,
  { modelJson, weights }: { modelJson: string; weights: Uint8Array },
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const weightsPath = join(dir, WEIGHTS_FILE);
  const jsonPath = join(dir, MODEL_FILE);
  await writeFile(`${weightsPath}.tmp`, weights);
  await writeFile(`${jsonPath}.tmp`, modelJson);
  await rename(`${weightsPath}.tmp`, weightsPath);
  await rename(`${jsonPath}.tmp`, jsonPath);
}
