import { checkTrainedData } from '../../core/io/dataIdentity';
import { HepexError } from '../../core/model/errors';
import { loadDataSplit } from '../../engines/tfjs/mnistNode';
import { writeModelDir } from '../../engines/tfjs/modelDir';
import { checkOutDir } from '../../engines/node/atomicDir';
import { readSourceModel } from '../readModel';
import { CONVERT_DEFAULTS, convertModel } from '../../engines/tfjs/convertModel';
import { optionalNumber, parseFlags, requireString } from '../args';
import type { Command } from '../command';
import { formatMs, networkLabel } from '../format';

const percent = (v: number): string => `${(v * 100).toFixed(2)}%`;

export const command: Command = {
  summary:
    'Make a ReLU, sigmoid or tanh model HE-friendly: fit a degree-2 polynomial to each activation, fine-tune distilled from the original, save a HE-ready TF.js model.',
  usage: [
    'npm run hepex -- convert --model DIR|FILE.onnx --out OUT [--epochs E] [--lr R] [--batch-size B] [--fit-samples N]',
    '  [--clip-norm C] [--distill-weight W] [--temperature T] [--shift PX] [--seed S]',
    '  [--data IMAGES,LABELS [--test-data IMAGES,LABELS]] [--json]',
    `Defaults: ${CONVERT_DEFAULTS.epochs} epochs at lr ${CONVERT_DEFAULTS.learningRate} (cosine decay, gradient norm clipped at ${CONVERT_DEFAULTS.clipNorm}), batch ${CONVERT_DEFAULTS.batchSize},`,
    `fits on ${CONVERT_DEFAULTS.fitSamples} training samples, distillation weight ${CONVERT_DEFAULTS.distillWeight} at temperature ${CONVERT_DEFAULTS.temperature}, shifts of 1 px;`,
    'the data split the model was trained on (its split seed, else 1). --epochs 0 keeps the fit as it is.',
    'Each activation c0 + c1 x + c2 x^2 has c2 >= 0 (the HE engine needs it); the output is a normal HE-ready model.',
  ].join('\n'),
  async run(argv, io) {
    const flags = parseFlags(argv, {
      model: 'string',
      out: 'string',
      epochs: 'string',
      lr: 'string',
      'batch-size': 'string',
      'fit-samples': 'string',
      'clip-norm': 'string',
      'distill-weight': 'string',
      temperature: 'string',
      shift: 'string',
      seed: 'string',
      data: 'string',
      'test-data': 'string',
    });
    const dir = requireString(flags, 'model');
    const out = requireString(flags, 'out');
    // An --out that can never be written fails now, not after the fit and fine-tune.
    await checkOutDir(out);
    const epochs = optionalNumber(flags, 'epochs', CONVERT_DEFAULTS.epochs);
    if (!Number.isInteger(epochs) || epochs < 0 || epochs > 1000)
      throw new HepexError(
        'invalid-argument',
        `Option --epochs must be a whole number from 0 to 1000, got ${epochs}.`,
      );
    const shift = optionalNumber(flags, 'shift', 1);
    if (!Number.isInteger(shift) || shift < 0 || shift > 8)
      throw new HepexError(
        'invalid-argument',
        `Option --shift must be a whole number of pixels from 0 to 8, got ${shift}.`,
      );
    const source = await readSourceModel(dir);
    const trainedSplit = source.provenance?.splitSeed ?? source.provenance?.seed;
    const seed = optionalNumber(flags, 'seed', typeof trainedSplit === 'number' ? trainedSplit : 1);
    const noise = typeof source.provenance?.noise === 'number' ? source.provenance.noise : 0;
    const data = await loadDataSplit({
      data: typeof flags.data === 'string' ? flags.data : undefined,
      testData: typeof flags['test-data'] === 'string' ? flags['test-data'] : undefined,
      seed,
    });
    // A model trained on other data is not converted on the built-in MNIST by default.
    const warning = data.sources
      ? checkTrainedData(source.provenance, data.sources.data, typeof flags.data === 'string')
      : undefined;
    if (warning) io.progress(warning);
    io.progress(`converting ${source.name} (${networkLabel(source.network)}) on ${data.label}`);
    const { model, report } = await convertModel(source, data, {
      epochs,
      learningRate: optionalNumber(flags, 'lr'),
      batchSize: optionalNumber(flags, 'batch-size'),
      fitSamples: optionalNumber(flags, 'fit-samples'),
      clipNorm: optionalNumber(flags, 'clip-norm'),
      distillWeight: optionalNumber(flags, 'distill-weight'),
      temperature: optionalNumber(flags, 'temperature'),
      maxShift: shift,
      noise,
      seed,
      signal: io.signal,
      onProgress: (p) => {
        if (p.stage !== 'fine-tune') io.progress(p.stage.replace('-', ' '));
        else
          io.progress(
            `fine-tune epoch ${p.progress.epoch}/${p.progress.epochs}  loss ${p.progress.loss.toFixed(4)}  test ${p.progress.metric.name} ${p.progress.metric.value.toFixed(4)}`,
          );
      },
    });
    await writeModelDir(out, model);
    const figure = (v: number) => (report.metric === 'accuracy' ? percent(v) : v.toExponential(3));
    const json = {
      model: dir,
      out,
      network: networkLabel(model.network),
      task: report.task,
      data: data.label,
      metric: report.metric,
      original: report.original,
      fitted: report.fitted,
      fineTuned: report.fineTuned,
      layers: report.layers.map((f) => ({
        layer: f.layer + 1,
        from: f.from,
        coefficients: f.coefficients,
        rmse: f.rmse,
        clamped: f.clamped,
      })),
      epochs: report.epochs,
      fitSamples: report.fitSamples,
      seconds: report.seconds,
      ...(warning ? { warning } : {}),
      history: report.history.map((h) => ({
        epoch: h.epoch,
        loss: h.loss,
        [h.metric.name]: h.metric.value,
      })),
    };
    const text = [
      `${source.name} -> ${model.name} on ${data.label}`,
      ...report.layers.map(
        (f) =>
          `layer ${f.layer + 1}: ${f.from} -> ${f.coefficients.map((c, k) => `${c.toPrecision(4)}${['', 'x', 'x^2'][k]}`).join(' + ')} (rmse ${f.rmse.toPrecision(3)}${f.clamped ? ', x^2 term clamped to 0' : ''})`,
      ),
      `${report.metric}: original ${figure(report.original)}, after the fit ${figure(report.fitted)}, after ${report.epochs} fine-tune epochs ${figure(report.fineTuned)}`,
      `${formatMs(report.seconds * 1000)} in all; saved ${out}/model.json + weights.bin`,
    ].join('\n');
    return { json, text };
  },
};
