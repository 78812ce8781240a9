import os from 'node:os';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DatasetSplit } from '../src/core/io/dataset';
import { layerSizes, type Network } from '../src/core/model/network';
import { readModelDir } from '../src/engines/tfjs/modelDir';
import { createSpec, type Architecture } from '../src/engines/tfjs/models';
import { TRAINING_DEFAULTS, trainModel } from '../src/engines/tfjs/trainer';

/** Helpers the benchmarks share (bench/prune.ts, bench/paper.ts, bench/main.ts). */

/** The machine a benchmark ran on, as every results file records it. */
export function machineInfo() {
  return {
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: process.platform,
  };
}

/** --models DIR when given, else the shipped public/models when it is there (a fresh clone has it). */
export function defaultModelsDir(given: string | undefined): string | undefined {
  return given ?? (existsSync('public/models/mlp/model.json') ? 'public/models' : undefined);
}

export interface LoadedModel {
  readonly network: Network;
  /** Where the weights come from, for people. */
  readonly source: string;
  /** The model's provenance (shipped) or how this run trained it. */
  readonly provenance: Readonly<Record<string, unknown>>;
}

/**
 * The trained model `dir`/`arch` when it exists (and has `layers`, when given), else one trained
 * here, seeded (seed 1, the architecture's default training: MLP 40 epochs, autoencoders 30;
 * quick: 8 and 3).
 */
export async function loadOrTrain(
  arch: Architecture,
  dir: string | undefined,
  data: DatasetSplit,
  quick: boolean,
  progress: (m: string) => void,
  layers?: readonly number[],
): Promise<LoadedModel> {
  if (dir && existsSync(join(dir, arch, 'model.json'))) {
    const model = await readModelDir(join(dir, arch));
    // A conv network's layer sizes are its dense view's; its provenance keeps the spec's layers.
    const spec = [String(model.provenance?.layers), layerSizes(model.network).join(',')];
    if (!layers || spec.includes(layers.join(','))) {
      const p = model.provenance ?? {};
      const how = ['arch', 'layers', 'epochs', 'seed', 'data']
        .map((k) => `${k} ${String(p[k])}`)
        .join(', ');
      return { network: model.network, source: `${join(dir, arch)} (${how})`, provenance: p };
    }
  }
  const epochs = quick ? (arch === 'mlp' ? 8 : 3) : TRAINING_DEFAULTS[arch].epochs;
  const spec = createSpec(arch, layers);
  progress(`training ${arch} ${spec.layers.join('-')} (${epochs} epochs): no trained model given`);
  const trained = await trainModel(spec, data, { epochs, seed: 1 });
  return {
    network: trained.model.network,
    source: `trained in this bench run: ${epochs} epochs, seed 1, default spec`,
    provenance: { ...trained.model.provenance, trainedInBench: true },
  };
}
