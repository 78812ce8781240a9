import { writeFile } from 'node:fs/promises';
import { writeDirAtomic } from '../node/atomicDir';
import { readBoundedFile } from '../node/boundedFile';
import { join } from 'node:path';
import type { HepexModel, SourceModel } from '../../core/io/model';
import { sourceModelFromFiles } from '../../core/io/sourceModelFile';
import { sourceModelToFiles } from './sourceModelFiles';
import { modelFromFiles } from '../../core/io/layersModelFile';
import { MAX_MODEL_JSON_CHARS, MAX_WEIGHT_BYTES } from '../../core/io/modelFileChecks';
import { manifestWeightPaths } from '../../core/io/layersModelManifest';
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
  const hint = 'a model directory holds model.json and weights.bin';
  const read = (path: string, limit: number): Promise<Uint8Array> =>
    readBoundedFile(path, {
      limit,
      what: 'Model file',
      code: 'invalid-model-file',
      noun: 'models',
      hint,
    });
  // Characters <= bytes in UTF-8, so the byte limit bounds the text too.
  const json = new TextDecoder().decode(await read(jsonPath, MAX_MODEL_JSON_CHARS));
  const manifestPaths = manifestWeightPaths(json, WEIGHTS_FILE);
  const parts = await Promise.all(manifestPaths.map((p) => read(join(dir, p), MAX_WEIGHT_BYTES)));
  const weights = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    weights.set(p, at);
    at += p.length;
  }
  return { modelJson: json, weights };
}

/** Writes both files at once: a failed or concurrent write leaves the old model intact. */
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

/**
 * model.json + weights.bin into `dir` all at once (node/atomicDir.ts): written to a temporary
 * sibling, then swapped in, under a lock, so a failed or concurrent run never leaves a mix.
 */
async function writeModelDirFiles(
  dir: string,
  { modelJson, weights }: { modelJson: string; weights: Uint8Array },
): Promise<void> {
  await writeDirAtomic(dir, async (tmp) => {
    await writeFile(join(tmp, WEIGHTS_FILE), weights);
    await writeFile(join(tmp, MODEL_FILE), modelJson);
    return [WEIGHTS_FILE, MODEL_FILE];
  });
}
