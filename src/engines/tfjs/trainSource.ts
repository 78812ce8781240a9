import type { DatasetSplit } from '../../core/io/dataset';
import { dataProvenance } from '../../core/io/dataIdentity';
import type { SourceModel } from '../../core/io/model';
import type { NonPolynomialActivation } from '../../core/model/activation';
import type { SourceNetwork } from '../../core/model/network';
import { setupBackend } from './backend';
import { createSpec, initNetwork, specName, type ModelSpec } from './models';
import { evaluateNetwork, metricsOf, trainNetwork, type Evaluation } from './train';
import { TRAINING_DEFAULTS, type TrainModelOptions } from './trainer';
import type { TrainProgress } from '../../core/model/trainer';

/**
 * Trains a spec with ReLU, sigmoid or tanh hidden layers: a model as most people bring one,
 * which CKKS cannot evaluate until `hepex convert` fits polynomials to it. The same loop,
 * defaults and seeded start as trainModel (trainer.ts), only the hidden activation differs.
 */
export interface TrainedSourceModel {
  readonly model: SourceModel;
  readonly evaluation: Evaluation;
  readonly history: readonly TrainProgress[];
  readonly msPerEpoch: number;
  readonly totalMs: number;
}

export async function trainSourceModel(
  spec: ModelSpec,
  hidden: NonPolynomialActivation,
  data: DatasetSplit,
  options: TrainModelOptions = {},
): Promise<TrainedSourceModel> {
  const checked = createSpec(spec.arch, spec.layers, undefined, spec.conv);
  const d = TRAINING_DEFAULTS[checked.arch];
  const seed = options.seed ?? 1;
  const settings = {
    epochs: options.epochs ?? d.epochs,
    learningRate: options.learningRate ?? d.learningRate,
    batchSize: options.batchSize ?? d.batchSize,
    maxShift: options.maxShift ?? d.maxShift,
    noise: options.noise ?? d.noise,
  };
  const backend = await setupBackend();
  const t0 = performance.now();
  const start = initNetwork(checked, seed);
  // Every layer but the output gets the non-polynomial activation (the output stays linear).
  const network: SourceNetwork = {
    ...start,
    layers: start.layers.map((l, i) =>
      i < start.layers.length - 1 ? { ...l, activation: hidden } : l,
    ),
  };
  const result = await trainNetwork(network, data.train, data.test, {
    ...settings,
    seed,
    schedule: 'cosine',
    signal: options.signal,
    onProgress: options.onProgress,
  });
  const evaluation = await evaluateNetwork(result.network, data.train, data.test, {
    noise: settings.noise,
    seed,
  });
  const totalMs = performance.now() - t0;
  const metrics = metricsOf(evaluation);
  return {
    model: {
      name: options.name ?? `${specName(checked)} ${hidden.type}`,
      network: result.network,
      metrics,
      provenance: {
        method: 'train',
        arch: checked.arch,
        layers: checked.layers.join(','),
        activation: JSON.stringify(hidden),
        data: data.label,
        // Which data exactly, as trainModel records it (convert, eval and prune check it).
        ...(data.sources ? dataProvenance(data.sources) : {}),
        inputScaling: 'pixel/255',
        splitSeed: data.seed,
        seed,
        ...settings,
        backend,
        msPerEpoch: Math.round(result.msPerEpoch),
      },
    },
    evaluation,
    history: result.history,
    msPerEpoch: result.msPerEpoch,
    totalMs,
  };
}
