import { HepexError } from '../../core/model/errors';
import { parseLayerSizes } from '../../core/model/network';
import { loadDataSplit } from '../../engines/tfjs/mnistNode';
import { writeModelDir, writeSourceModelDir } from '../../engines/tfjs/modelDir';
import { nonPolynomialNamed } from '../../core/io/layersModelActivations';
import type { TrainProgress } from '../../core/model/trainer';
import { trainSourceModel, type TrainedSourceModel } from '../../engines/tfjs/trainSource';
import {
  ARCHITECTURES,
  DEFAULT_CONV,
  DEFAULT_LAYERS,
  createSpec,
  parseActivation,
  specName,
  type Architecture,
} from '../../engines/tfjs/models';
import { TRAINING_DEFAULTS, trainModel, type TrainedModel } from '../../engines/tfjs/trainer';
import { optionalChoice, optionalNumber, parseFlags, requireString } from '../args';
import type { Command } from '../command';
import { formatMs } from '../format';
import { convFlags, convFromFlags } from '../networkOptions';

export const command: Command = {
  summary:
    'Train an HE-friendly MLP, CNN, autoencoder or denoising autoencoder on MNIST (or IDX files) and save it as a TF.js model.',
  usage: [
    'npm run hepex -- train --arch mlp|cnn|ae|dae [--layers 784,128,10] --out DIR',
    '  [--activation poly|square|poly:c0,c1,c2|relu|sigmoid|tanh] [--epochs E] [--lr R] [--batch-size B] [--seed S]',
    '  [--shift PX] [--noise STD] [--data IMAGES,LABELS [--test-data IMAGES,LABELS]] [--json]',
    '  cnn only: [--filters F] [--kernel K] [--stride S]',
    'Defaults: mlp 784-128-10 (40 epochs, lr 0.002, shifts of 2 px), ae/dae 784-256-64-256-784 (30 epochs, lr 0.002;',
    'dae noise std 0.3), activation 0.5x + 0.25x^2, batch 64, Adam with cosine decay, seed 1, the built-in MNIST 10k',
    'split 8000/2000 (seeded, stratified). IDX files may be gzipped; one pair is split by the seed, two are train,test.',
    `cnn: conv ${DEFAULT_CONV.filters} filters ${DEFAULT_CONV.kernel}x${DEFAULT_CONV.kernel} stride ${DEFAULT_CONV.stride} ('valid') on the image, then --layers`,
    `(default ${DEFAULT_LAYERS.cnn.join(',')}: the pixels, then the dense layers after the conv; ${TRAINING_DEFAULTS.cnn.epochs} epochs, shifts of ${TRAINING_DEFAULTS.cnn.maxShift} px).`,
  ].join('\n'),
  async run(argv, io) {
    const flags = parseFlags(argv, {
      arch: 'string',
      layers: 'string',
      activation: 'string',
      epochs: 'string',
      lr: 'string',
      'batch-size': 'string',
      seed: 'string',
      shift: 'string',
      noise: 'string',
      data: 'string',
      'test-data': 'string',
      out: 'string',
      ...convFlags,
    });
    const arch = optionalChoice<Architecture>(flags, 'arch', ARCHITECTURES, 'mlp');
    const out = requireString(flags, 'out');
    const layers =
      typeof flags.layers === 'string' ? parseLayerSizes(flags.layers) : [...DEFAULT_LAYERS[arch]];
    // relu / sigmoid / tanh train a model as most are brought: to be made HE-ready by convert.
    const source = nonPolynomialNamed(flags.activation);
    const activation =
      typeof flags.activation === 'string' && !source
        ? parseActivation(flags.activation)
        : undefined;
    const spec = createSpec(arch, layers, activation, convFromFlags(flags, arch === 'cnn'));
    const seed = optionalNumber(flags, 'seed', 1);
    const d = TRAINING_DEFAULTS[arch];
    // Every option is read before the data loads, so a typo fails at once.
    const options = {
      epochs: optionalNumber(flags, 'epochs', d.epochs),
      learningRate: optionalNumber(flags, 'lr', d.learningRate),
      batchSize: optionalNumber(flags, 'batch-size', d.batchSize),
      maxShift: optionalNumber(flags, 'shift', d.maxShift),
      noise: optionalNumber(flags, 'noise', d.noise),
    };
    if (!Number.isInteger(seed))
      throw new HepexError(
        'invalid-argument',
        `Option --seed must be a whole number, got ${seed}.`,
      );
    if (options.noise < 0 || options.noise > 10)
      throw new HepexError(
        'invalid-argument',
        `Option --noise must be between 0 and 10, got ${options.noise}.`,
      );
    if (!Number.isInteger(options.maxShift) || options.maxShift < 0 || options.maxShift > 8) {
      throw new HepexError(
        'invalid-argument',
        `Option --shift must be a whole number of pixels from 0 to 8, got ${options.maxShift}.`,
      );
    }
    const data = await loadDataSplit({
      data: typeof flags.data === 'string' ? flags.data : undefined,
      testData: typeof flags['test-data'] === 'string' ? flags['test-data'] : undefined,
      seed,
    });
    io.progress(`training ${specName(spec)} on ${data.label}`);
    const trainOptions = {
      ...options,
      seed,
      signal: io.signal,
      onProgress: (p: TrainProgress) =>
        io.progress(
          `epoch ${p.epoch}/${p.epochs}  loss ${p.loss.toFixed(4)}  test ${p.metric.name} ${p.metric.name === 'accuracy' ? p.metric.value.toFixed(4) : p.metric.value.toExponential(3)}`,
        ),
    };
    const trainAndWrite = async (): Promise<TrainedModel | TrainedSourceModel> => {
      if (source) {
        const t = await trainSourceModel(spec, { type: source }, data, trainOptions);
        await writeSourceModelDir(out, t.model);
        return t;
      }
      const t = await trainModel(spec, data, trainOptions);
      await writeModelDir(out, t.model);
      return t;
    };
    const trained = await trainAndWrite();
    const { metric, meanImageMse } = trained.evaluation;
    const json = {
      out,
      arch,
      layers,
      ...(spec.conv
        ? {
            conv: {
              filters: spec.conv.filters,
              kernel: spec.conv.kernel,
              stride: spec.conv.stride,
            },
          }
        : {}),
      activation: source ? { type: source } : spec.activation,
      data: data.label,
      [metric.name]: metric.value,
      ...(meanImageMse !== undefined
        ? { meanImageMse, baselineRatio: meanImageMse / metric.value }
        : {}),
      epochs: trained.history.length,
      msPerEpoch: trained.msPerEpoch,
      totalMs: trained.totalMs,
      history: trained.history.map((h) => ({
        epoch: h.epoch,
        loss: h.loss,
        [h.metric.name]: h.metric.value,
      })),
    };
    const figure =
      metric.name === 'accuracy'
        ? `test accuracy ${(metric.value * 100).toFixed(2)}%`
        : `test MSE ${metric.value.toExponential(3)} (mean-image baseline ${meanImageMse?.toExponential(3)}, ${((meanImageMse ?? 0) / metric.value).toFixed(1)}x better)`;
    const text = [
      `${specName(spec)} trained on ${data.label}`,
      `${figure}; ${trained.history.length} epochs, ${formatMs(trained.msPerEpoch)} per epoch, ${formatMs(trained.totalMs)} in all`,
      `saved ${out}/model.json + weights.bin${source ? ` (${source}: make it HE-ready with hepex convert --model ${out} --out DIR)` : ''}`,
    ].join('\n');
    return { json, text };
  },
};
