import { imagesToFloat, takeSamples, type DatasetSplit } from '../../core/io/dataset';
import type { HepexModel, SourceModel } from '../../core/io/model';
import { fitNetworkActivations, type LayerFit } from '../../core/model/activationFit';
import { isPolynomialActivation } from '../../core/model/activation';
import { HepexError, throwIfAborted } from '../../core/model/errors';
import { validateNetwork, validateSourceNetwork } from '../../core/model/network';
import type { Metric, TrainProgress } from '../../core/model/trainer';
import { setupBackend } from './backend';
import { evaluateNetwork, trainNetwork } from './train';

/**
 * HE-friendly conversion of a model with ReLU, sigmoid or tanh: every such activation becomes
 * the least-squares degree-2 polynomial on its layer's pre-activations (core activationFit.ts,
 * layer by layer on `fitSamples` training digits), then the converted network is fine-tuned
 * with the shared tfjs loop (train.ts), distilled from the original: classifiers learn its
 * outputs (temperature 1) besides the labels, autoencoders its outputs besides the images.
 * The defaults come from the MNIST ReLU MLP: a teacher softened at T = 4 (the pruning
 * default) holds a quadratic student back, so the original's outputs enter at T = 1 with
 * weight 0.3. A polynomial's x^2 can make one batch's gradient huge, so the global gradient
 * norm is clipped (at 5, above what a healthy step has).
 */
export const CONVERT_DEFAULTS = {
  epochs: 6,
  learningRate: 2e-3,
  batchSize: 64,
  fitSamples: 2000,
  clipNorm: 5,
  temperature: 1,
  distillWeight: 0.3,
} as const;

export interface ConvertOptions {
  readonly epochs?: number;
  readonly learningRate?: number;
  readonly batchSize?: number;
  /** Training samples whose pre-activations the fits see; default 2000. */
  readonly fitSamples?: number;
  readonly clipNorm?: number;
  readonly temperature?: number;
  /** Weight of the original model's outputs in the fine-tune loss (0..1); default 0.7. */
  readonly distillWeight?: number;
  readonly seed?: number;
  /** Classifier fine-tune augmentation: pixel shifts; default 1. */
  readonly maxShift?: number;
  /** Denoiser: std of the input noise (train and evaluate); default 0. */
  readonly noise?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: ConvertProgress) => void;
}

export type ConvertProgress =
  | { readonly stage: 'evaluate-original' | 'fit' | 'evaluate-fit' }
  | { readonly stage: 'fine-tune'; readonly progress: TrainProgress };

export interface ConvertReport {
  readonly task: SourceModel['network']['task'];
  readonly metric: Metric['name'];
  readonly original: number;
  readonly fitted: number;
  readonly fineTuned: number;
  readonly layers: readonly LayerFit[];
  readonly epochs: number;
  readonly fitSamples: number;
  readonly seconds: number;
  readonly history: readonly TrainProgress[];
}

export async function convertModel(
  source: SourceModel,
  data: DatasetSplit,
  options: ConvertOptions = {},
): Promise<{ model: HepexModel; report: ConvertReport }> {
  const network = validateSourceNetwork(source.network);
  if (network.layers.every((l) => isPolynomialActivation(l.activation)))
    throw new HepexError(
      'invalid-argument',
      'This model already has only polynomial activations: it is HE-ready and needs no conversion.',
    );
  const epochs = options.epochs ?? CONVERT_DEFAULTS.epochs;
  const fitSamples = Math.min(data.train.count, options.fitSamples ?? CONVERT_DEFAULTS.fitSamples);
  if (!Number.isInteger(fitSamples) || fitSamples < 1)
    throw new HepexError(
      'invalid-argument',
      `The fit needs a whole number of samples of at least 1, got ${fitSamples}.`,
    );
  const seed = options.seed ?? 1;
  const noise = options.noise ?? 0;
  const { signal, onProgress } = options;
  await setupBackend();
  const t0 = performance.now();
  const score = async (n: typeof network): Promise<number> =>
    (await evaluateNetwork(n, data.train, data.test, { noise, seed, signal })).metric.value;

  onProgress?.({ stage: 'evaluate-original' });
  const original = await score(network);
  onProgress?.({ stage: 'fit' });
  throwIfAborted(signal);
  const fitData = takeSamples(data.train, fitSamples);
  const fitted = fitNetworkActivations(network, imagesToFloat(fitData), fitData.count, signal);
  onProgress?.({ stage: 'evaluate-fit' });
  const fittedScore = await score(fitted.network);

  const tuned =
    epochs > 0
      ? await trainNetwork(fitted.network, data.train, data.test, {
          epochs,
          learningRate: options.learningRate ?? CONVERT_DEFAULTS.learningRate,
          batchSize: options.batchSize ?? CONVERT_DEFAULTS.batchSize,
          schedule: 'cosine',
          clipNorm: options.clipNorm ?? CONVERT_DEFAULTS.clipNorm,
          distill: {
            teacher: network,
            temperature: options.temperature ?? CONVERT_DEFAULTS.temperature,
            weight: options.distillWeight ?? CONVERT_DEFAULTS.distillWeight,
          },
          seed,
          maxShift: options.maxShift ?? 1,
          noise,
          evaluateEachEpoch: onProgress !== undefined,
          signal,
          onProgress: (progress) => onProgress?.({ stage: 'fine-tune', progress }),
        })
      : undefined;
  const converted = validateNetwork(tuned?.network ?? fitted.network);
  const fineTuned = tuned ? await score(converted) : fittedScore;
  const metricName: Metric['name'] = network.task === 'classification' ? 'accuracy' : 'mse';
  const seconds = (performance.now() - t0) / 1000;
  const report: ConvertReport = {
    task: network.task,
    metric: metricName,
    original,
    fitted: fittedScore,
    fineTuned,
    layers: fitted.fits,
    epochs,
    fitSamples,
    seconds,
    history: tuned?.history ?? [],
  };
  // The source's own activation entry would now be wrong: the fits replace it.
  const { activation: _sourceActivation, ...sourceProvenance } = source.provenance ?? {};
  const model: HepexModel = {
    name: `${source.name} (converted)`.slice(0, 200),
    network: converted,
    metrics: { ...(source.metrics ?? {}), [metricName]: fineTuned },
    provenance: {
      ...sourceProvenance,
      method: 'convert',
      activation: JSON.stringify(converted.layers.map((l) => l.activation)).slice(0, 1000),
      convertedFrom: source.name.slice(0, 200),
      convertedActivations: fitted.fits.map((f) => `${f.layer + 1}:${f.from}`).join(','),
      convertFitSamples: fitSamples,
      convertEpochs: epochs,
      [`original_${metricName}`]: original,
      [`fitted_${metricName}`]: fittedScore,
    },
  };
  return { model, report };
}
