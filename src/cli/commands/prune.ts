import { HepexError } from '../../core/model/errors';
import type { HepexModel } from '../../core/io/model';
import type { ConvGeometry, Layer } from '../../core/model/network';
import {
  PRUNE_METHODS,
  checkSteps,
  type PipelineStep,
  type PruneMethod,
} from '../../core/prune/pipelineSteps';
import { methodSteps } from '../../core/prune/methodSteps';
import { runPipeline, type PipelineResult, type StepRecord } from '../../core/prune/pipeline';
import { planTiles } from '../../core/tiling/tilePlan';
import { tileShapeLabel, type TileShape } from '../../core/tiling/tileShape';
import type { Trainer } from '../../core/model/trainer';
import { checkTrainedData } from '../../core/io/dataIdentity';
import { loadDataSplit } from '../../engines/tfjs/mnistNode';
import { writeModelDir } from '../../engines/tfjs/modelDir';
import { checkOutDir } from '../../engines/node/atomicDir';
import { readHeModel } from '../readModel';
import { createTfjsTrainer } from '../../engines/tfjs/trainer';
import {
  optionalChoice,
  optionalNumber,
  parseFlags,
  requireString,
  type ParsedFlags,
} from '../args';
import type { Command, CommandIo } from '../command';
import { formatMs, layerKindLabel, networkLabel, table } from '../format';
import { type PruneSettings, pruneFlags, settingsFromFlags } from '../pruneSettings';
import { geometryOf, weightCopies } from '../../core/model/layerKinds';

/**
 * The model to prune, its data and a tfjs trainer bound to them (noise from its provenance).
 * Stops when the model records other training data and no --data was given; `warning` when
 * --data names data the model has not seen (dataIdentity.ts).
 */
export async function loadModelAndTrainer(
  flags: ParsedFlags,
  seed: number,
): Promise<{ dir: string; model: HepexModel; trainer: Trainer; data: string; warning?: string }> {
  const dir = requireString(flags, 'model');
  const model = await readHeModel(dir);
  const split = await loadDataSplit({
    data: typeof flags.data === 'string' ? flags.data : undefined,
    testData: typeof flags['test-data'] === 'string' ? flags['test-data'] : undefined,
    seed,
  });
  const warning = split.sources
    ? checkTrainedData(model.provenance, split.sources.data, typeof flags.data === 'string')
    : undefined;
  const noise = typeof model.provenance?.noise === 'number' ? model.provenance.noise : 0;
  return {
    dir,
    model,
    trainer: createTfjsTrainer(split, { noise, seed }),
    data: split.label,
    ...(warning ? { warning } : {}),
  };
}

/** The step list of one method at one sparsity under the command's settings. */
export function stepsFor(
  method: PruneMethod,
  sparsity: number,
  settings: PruneSettings,
): PipelineStep[] {
  return methodSteps(method, {
    sparsity,
    theta: settings.theta,
    scope: settings.scope,
    score: settings.score,
    retrainEpochs: settings.retrainEpochs,
    pruneSteps: settings.pruneSteps,
    groupLasso: settings.groupLasso,
    trainEpochs: settings.trainEpochs,
    finalRetrainEpochs: settings.finalEpochs,
    distill: settings.distill,
    maxTiles: settings.maxTiles,
    permuteObjective: settings.objective,
    learningRate: settings.learningRate,
    seed: settings.seed,
    ...(settings.classFloor !== undefined ? { classFloor: settings.classFloor } : {}),
  });
}

/** Runs one method at one sparsity on a model. */
export function pruneModel(
  model: HepexModel,
  trainer: Trainer,
  method: PruneMethod,
  sparsity: number,
  settings: PruneSettings,
  io: CommandIo,
): Promise<PipelineResult> {
  const steps = stepsFor(method, sparsity, settings);
  return runPipeline(
    { network: model.network, masks: model.masks, permutation: model.permutation },
    trainer,
    {
      tile: settings.tile,
      steps,
      mode: settings.mode,
      signal: io.signal,
      onProgress: (e) => {
        if (e.status === 'started' && e.kind !== 'start')
          io.progress(`step ${e.stepIndex + 1}/${e.steps}: ${e.kind}`);
        else if (e.status === 'progress' && e.message) io.progress(`  ${e.message}`);
        else if (e.status === 'finished' && e.record) io.progress(`  ${describeRecord(e.record)}`);
      },
    },
  );
}

export function describeRecord(r: StepRecord): string {
  const metric = r.metric
    ? `, ${r.metric.name} ${formatMetric(r.metric.name, r.metric.value)}`
    : '';
  return `${r.kind}: ${r.nonZeroTiles}/${r.weightTiles} non-zero tiles, ${r.weightCiphertexts} weight ciphertexts, sparsity ${(r.sparsity * 100).toFixed(1)}%${metric} (${formatMs(r.elapsedMs)})`;
}

export const formatMetric = (name: string, value: number): string =>
  name === 'accuracy' ? `${(value * 100).toFixed(2)}%` : value.toExponential(3);

/** The JSON the issue specifies: ciphertexts.before/after, metric.name/before/after, per-layer figures. */
export function summarise(result: PipelineResult, tile: TileShape) {
  const first = result.records[0];
  const last = result.records[result.records.length - 1];
  const plan = planTiles(sizesOf(result), tile);
  return {
    ciphertexts: {
      before: first.weightCiphertexts,
      after: last.weightCiphertexts,
      saved: first.weightCiphertexts ? 1 - last.weightCiphertexts / first.weightCiphertexts : 0,
    },
    nonZeroTiles: {
      before: first.nonZeroTiles,
      after: last.nonZeroTiles,
      lowerBound: last.lowerBound,
      weightTiles: last.weightTiles,
    },
    weightSparsity: { before: first.sparsity, after: last.sparsity },
    metric:
      first.metric && last.metric
        ? { name: first.metric.name, before: first.metric.value, after: last.metric.value }
        : undefined,
    layers: last.layers.map((l, i) => ({
      layer: l.layer,
      kind: layerKindLabel(result.network.layers[i]),
      ...convJson(result.network.layers[i]),
      orientation: plan.layers[i].orientation,
      tiles: l.tiles,
      nonZeroTilesBefore: first.layers[i].nonZeroTiles,
      nonZeroTiles: l.nonZeroTiles,
      lowerBound: l.lowerBound,
      nonZeroWeights: l.nonZeroWeights,
      weights: l.weights,
    })),
    steps: result.records.map((r) => ({
      kind: r.kind,
      nonZeroTiles: r.nonZeroTiles,
      weightCiphertexts: r.weightCiphertexts,
      lowerBound: r.lowerBound,
      sparsity: r.sparsity,
      tileSparsity: r.tileSparsity,
      ...(r.metric ? { metric: r.metric.value } : {}),
      elapsedMs: Math.round(r.elapsedMs),
      ...(r.details ? { details: r.details } : {}),
    })),
  };
}

/** A conv layer's geometry and output positions for the JSON (a kernel tile costs one ciphertext per position). */
function convJson(layer: Layer): { conv?: ConvGeometry & { positions: number } } {
  const g = geometryOf(layer);
  return g ? { conv: { ...g, positions: weightCopies(layer) } } : {};
}

function sizesOf(result: PipelineResult): number[] {
  const layers = result.network.layers;
  return [layers[0].weights.cols, ...layers.map((l) => l.weights.rows)];
}

export const command: Command = {
  summary:
    'Prune a saved model for HE (magnitude, tile or HE-PEx), fine-tune it, report ciphertexts and metric before/after, save it.',
  usage: [
    'npm run hepex -- prune --model DIR|FILE.onnx --method magnitude|tile|hepex --sparsity S --tile 4x8 --out DIR',
    '  [--theta 0.0625] [--scope local|global] [--score min|max|avg|l1] [--retrain-epochs E] [--prune-steps N] [--group-lasso L] [--train-epochs E]',
    '  [--final-epochs E] [--distill] [--max-tiles N]',
    '  [--objective concentration|tiles] [--lr R] [--class-floor F]',
    '  [--seed S] [--batch B] [--ring-degree N] [--mode plain-model|encrypted-model] [--data IMAGES,LABELS [--test-data IMAGES,LABELS]] [--json]',
    'magnitude: prune -> retrain. tile (Hunter baseline): drop the lowest-scoring tiles (S = tile sparsity) -> retrain.',
    'hepex: prune -> retrain -> permute -> drop tiles of density <= theta + expand -> retrain.',
    'Scope: global by default (one ranking over all layers). Retraining: 4 epochs per retrain step.',
    '--prune-steps N: prune gradually in N prune + retrain rounds on a cubic ramp (tfmot PolynomialDecay).',
    '--group-lasso L [--train-epochs E]: first train E epochs (default 20) with a group-lasso penalty of strength L',
    '  (3e-3 for a classifier, 5e-5 for an autoencoder), so that pruning removes whole neurons and pixels.',
    '--final-epochs E: epochs of the last retrain (default: --retrain-epochs). --distill: that retrain also learns',
    "  the loaded model's softened outputs (knowledge distillation; classifiers).",
    '--max-tiles N (hepex): a tile budget; of the tiles denser than theta, keep the N whose weights weigh most',
    "  (tile L1 over its layer's largest), so the weights cost at most N ciphertexts.",
    "--objective: what hepex's permutation optimises: concentration (default) or tiles (fewest non-zero tiles).",
    '--class-floor F: a classifier keeps, in every class, at least F x the kept fraction of its output weights',
    '  (default 3; 0: none), so that global pruning cannot cut a class off.',
    '--data IMAGES,LABELS: retrain and score on IDX files (split by --seed), --test-data: a separate test pair.',
    '  Default: the built-in MNIST split; a model trained on IDX files stops and asks for them.',
  ].join('\n'),
  async run(argv, io) {
    const flags = parseFlags(argv, { ...pruneFlags, sparsity: 'string', out: 'string' });
    const method = optionalChoice<PruneMethod>(flags, 'method', PRUNE_METHODS, 'hepex');
    const sparsity = optionalNumber(flags, 'sparsity', 0.9);
    const out = requireString(flags, 'out');
    // An --out that can never be written fails now, not after the pruning and retraining.
    await checkOutDir(out);
    const settings = settingsFromFlags(flags);
    if (settings.maxTiles !== undefined && method !== 'hepex') {
      throw new HepexError(
        'invalid-argument',
        "--max-tiles is a budget for HE-PEx's expansion step: use it with --method hepex.",
      );
    }
    // Check everything the pipeline checks before loading data or training.
    checkSteps(stepsFor(method, sparsity, settings));
    const { dir, model, trainer, data, warning } = await loadModelAndTrainer(flags, settings.seed);
    if (warning) io.progress(warning);
    io.progress(
      `pruning ${model.name} (${dir}) with ${method} at sparsity ${sparsity}, tile ${tileShapeLabel(settings.tile)}, on ${data}`,
    );
    const started = performance.now();
    const result = await pruneModel(model, trainer, method, sparsity, settings, io);
    const summary = summarise(result, settings.tile);
    const last = result.records[result.records.length - 1];
    const pruned: HepexModel = {
      name: `${model.name} ${method} ${sparsity}`,
      network: result.network,
      masks: result.masks,
      permutation: result.permutation,
      tile: settings.tile,
      metrics: last.metric ? { [last.metric.name]: last.metric.value } : model.metrics,
      provenance: {
        ...model.provenance,
        method,
        sparsity,
        tile: tileShapeLabel(settings.tile),
        ...(method === 'hepex' ? { theta: settings.theta, objective: settings.objective } : {}),
        ...(method === 'hepex' && settings.maxTiles !== undefined
          ? { maxTiles: settings.maxTiles }
          : {}),
        ...(method === 'tile' ? { score: settings.score } : {}),
        scope: settings.scope ?? 'global',
        retrainEpochs: settings.retrainEpochs,
        pruneSteps: settings.pruneSteps,
        ...(settings.groupLasso > 0 ? { groupLasso: settings.groupLasso } : {}),
        ...(settings.finalEpochs !== undefined ? { finalEpochs: settings.finalEpochs } : {}),
        ...(settings.distill ? { distill: true } : {}),
        seed: settings.seed,
        source: dir,
        weightCiphertexts: last.weightCiphertexts,
      },
    };
    await writeModelDir(out, pruned);
    const json = {
      model: dir,
      out,
      method,
      sparsity,
      tile: tileShapeLabel(settings.tile),
      theta: method === 'hepex' ? settings.theta : undefined,
      objective: method === 'hepex' ? settings.objective : undefined,
      maxTiles: method === 'hepex' ? settings.maxTiles : undefined,
      scope: settings.scope,
      score: method === 'tile' ? settings.score : undefined,
      retrainEpochs: settings.retrainEpochs,
      pruneSteps: settings.pruneSteps,
      groupLasso: settings.groupLasso,
      finalEpochs: settings.finalEpochs ?? settings.retrainEpochs,
      distill: settings.distill,
      data,
      ...(warning ? { warning } : {}),
      ...summary,
      elapsedMs: Math.round(performance.now() - started),
    };
    const m = summary.metric;
    const text = [
      `${method} at sparsity ${sparsity}, tile ${tileShapeLabel(settings.tile)}: weight ciphertexts ${summary.ciphertexts.before} -> ${summary.ciphertexts.after} (${(summary.ciphertexts.saved * 100).toFixed(1)}% fewer)`,
      m ? `${m.name} ${formatMetric(m.name, m.before)} -> ${formatMetric(m.name, m.after)}` : '',
      `network ${networkLabel(result.network)}`,
      '',
      table(
        [
          'layer',
          'kind',
          'orient',
          'tiles',
          'non-zero before',
          'after',
          'lower bound',
          'weights kept',
        ],
        summary.layers.map((l) => [
          `${l.layer + 1}`,
          l.kind,
          l.orientation,
          l.tiles,
          l.nonZeroTilesBefore,
          l.nonZeroTiles,
          l.lowerBound,
          `${l.nonZeroWeights}/${l.weights}`,
        ]),
      ),
      '',
      ...result.records.map((r) => describeRecord(r)),
      `saved ${out}/model.json + weights.bin`,
    ].join('\n');
    return { json, text };
  },
};
