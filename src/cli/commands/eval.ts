import { HepexError } from '../../core/model/errors';
import { createMask } from '../../core/model/matrix';
import { unfoldClientPermutation } from '../../core/prune/clientPermutation';
import type { Dataset } from '../../core/io/dataset';
import { checkTrainedData, identifyDataset } from '../../core/io/dataIdentity';
import {
  loadDataSplit,
  loadIdxPair,
  mnistIdentity,
  parseIdxPairArg,
} from '../../engines/tfjs/mnistNode';
import { readHeModel } from '../readModel';
import { evaluateNetwork } from '../../engines/tfjs/train';
import { optionalNumber, parseFlags, requireString } from '../args';
import type { Command } from '../command';
import { networkLabel } from '../format';

export const command: Command = {
  summary:
    'Evaluate a saved model: test accuracy (classifier) or reconstruction MSE with the mean-image baseline (autoencoder).',
  usage: [
    'npm run hepex -- eval --model DIR|FILE.onnx [--data IMAGES,LABELS] [--seed S] [--noise STD] [--json]',
    'Without --data: the held-out part of the built-in MNIST split the model was trained on (its seed, else 1);',
    'a model trained on IDX files stops and asks for them (--data naming other data than it records: a warning).',
    'With one IDX pair: all of it is evaluated. A denoiser is evaluated with the noise it was trained with (override with --noise).',
  ].join('\n'),
  async run(argv) {
    const flags = parseFlags(argv, {
      model: 'string',
      data: 'string',
      seed: 'string',
      noise: 'string',
    });
    const dir = requireString(flags, 'model');
    const model = await readHeModel(dir);
    // Default: the split the model was trained on, so its training digits are never scored.
    const trainedSplit = model.provenance?.splitSeed ?? model.provenance?.seed;
    const seed = optionalNumber(flags, 'seed', typeof trainedSplit === 'number' ? trainedSplit : 1);
    let train: Dataset | undefined;
    let test: Dataset;
    if (typeof flags.data === 'string') {
      // The whole given set is the test set; the mean-image baseline then uses it too.
      const [images, labels] = parseIdxPairArg(flags.data, 'data');
      test = await loadIdxPair(images, labels);
    } else {
      ({ train, test } = await loadDataSplit({ seed }));
    }
    // A model trained on other data is not scored on the built-in MNIST by default.
    const dataWarning = checkTrainedData(
      model.provenance,
      typeof flags.data === 'string' ? identifyDataset(test) : await mnistIdentity(),
      typeof flags.data === 'string',
    );
    const trainedNoise = model.provenance?.noise;
    const noise = optionalNumber(
      flags,
      'noise',
      typeof trainedNoise === 'number' ? trainedNoise : 0,
    );
    if (noise < 0 || noise > 10)
      throw new HepexError('invalid-argument', `--noise must be between 0 and 10, got ${noise}.`);
    // A permuted model expects its inputs permuted and returns permuted outputs (the client
    // does both around encryption); put that back so plain pixels and labels line up.
    const network = model.permutation
      ? unfoldClientPermutation(
          model.network,
          model.masks ??
            model.network.layers.map((l) => createMask(l.weights.rows, l.weights.cols)),
          model.permutation,
        ).network
      : model.network;
    const { metric, meanImageMse } = await evaluateNetwork(network, train, test, { noise, seed });
    const json = {
      model: dir,
      name: model.name,
      network: networkLabel(model.network),
      task: model.network.task,
      data: test.name,
      samples: test.count,
      [metric.name]: metric.value,
      ...(meanImageMse !== undefined
        ? { meanImageMse, baselineRatio: meanImageMse / metric.value }
        : {}),
      ...(noise ? { noise } : {}),
      clientPermutation: model.permutation !== undefined,
      ...(dataWarning ? { warning: dataWarning } : {}),
    };
    const text = `${dataWarning ? `${dataWarning}\n` : ''}network ${networkLabel(model.network)}\n${
      metric.name === 'accuracy'
        ? `${model.name}: accuracy ${(metric.value * 100).toFixed(2)}% on ${test.count} samples (${test.name})`
        : `${model.name}: MSE ${metric.value.toExponential(3)} on ${test.count} samples (${test.name}); mean-image baseline ${meanImageMse?.toExponential(3)} (${((meanImageMse ?? 0) / metric.value).toFixed(1)}x)`
    }`;
    return { json, text };
  },
};
