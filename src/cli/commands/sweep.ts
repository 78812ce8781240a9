import { HepexError } from '../../core/model/errors';
import { PRUNE_METHODS, checkSteps, type PruneMethod } from '../../core/prune/pipelineSteps';
import { tileShapeLabel } from '../../core/tiling/tileShape';
import { parseFlags, requireString, type ParsedFlags } from '../args';
import type { Command } from '../command';
import { networkLabel } from '../format';
import { formatMetric, loadModelAndTrainer, pruneModel, stepsFor, summarise } from './prune';
import { pruneFlags, settingsFromFlags } from '../pruneSettings';
import { runSpecSweep, specSweepUsage } from '../sweepSpec';

/** One run of the sweep: a method at a sparsity, and where it landed. */
export interface FrontierPoint {
  readonly method: PruneMethod;
  readonly sparsity: number;
  readonly ciphertexts: number;
  readonly nonZeroTiles: number;
  /** A CNN: the conv layer's share of `ciphertexts` (non-zero kernel tiles x positions). */
  readonly convCiphertexts?: number;
  readonly metric: number;
  /** Metric lost against the unpruned model (accuracy points as a fraction, or MSE increase). */
  readonly loss: number;
  /** No other point has at most as many ciphertexts and an at least as good metric (one strictly). */
  readonly pareto: boolean;
  readonly elapsedMs: number;
}

const DEFAULT_SPARSITIES: Record<PruneMethod, readonly number[]> = {
  magnitude: [0.5, 0.8, 0.9, 0.95],
  tile: [0.2, 0.4, 0.6, 0.8],
  hepex: [0.8, 0.9, 0.95, 0.99],
};

function listOf(flags: ParsedFlags, name: string): string[] | undefined {
  const v = flags[name];
  if (typeof v !== 'string') return undefined;
  const parts = v.split(',').map((s) => s.trim());
  if (parts.some((p) => p === ''))
    throw new HepexError('invalid-argument', `--${name} is a comma-separated list, got "${v}".`);
  return parts;
}

/** Marks the points no other point beats on both ciphertexts and metric. */
export function markPareto<T extends { ciphertexts: number; metric: number }>(
  points: readonly T[],
  higherIsBetter: boolean,
): (T & { pareto: boolean })[] {
  const better = (a: number, b: number): boolean => (higherIsBetter ? a > b : a < b);
  const atLeast = (a: number, b: number): boolean => a === b || better(a, b);
  return points.map((p) => ({
    ...p,
    pareto: !points.some(
      (q) =>
        q !== p &&
        q.ciphertexts <= p.ciphertexts &&
        atLeast(q.metric, p.metric) &&
        (q.ciphertexts < p.ciphertexts || better(q.metric, p.metric)),
    ),
  }));
}

export const command: Command = {
  summary:
    'Run pruning methods over several sparsities and print the frontier: weight ciphertexts vs metric (the Pareto plot data).',
  usage: [
    'npm run hepex -- sweep --model DIR|FILE.onnx [--method hepex[,magnitude,tile]] [--sparsities 0.8,0.9,0.95] --tile 4x8',
    '  [--theta 0.0625] [--scope local|global] [--score min|max|avg|l1] [--retrain-epochs E] [--prune-steps N] [--group-lasso L] [--train-epochs E] [--final-epochs E] [--distill] [--max-tiles N] [--lr R] [--seed S]',
    '  [--data IMAGES,LABELS [--test-data IMAGES,LABELS]] [--json]',
    'For the tile method the sparsities are tile sparsities. Defaults: magnitude 0.5,0.8,0.9,0.95; tile 0.2,0.4,0.6,0.8;',
    'hepex 0.8,0.9,0.95,0.99. Every run starts from the given model.',
    '',
    specSweepUsage,
  ].join('\n'),
  async run(argv, io) {
    // A sweep description file: independent jobs, serial, on a pool or on a queue.
    if (argv.some((a) => a === '--spec' || a.startsWith('--spec='))) return runSpecSweep(argv, io);
    const flags = parseFlags(argv, { ...pruneFlags, sparsities: 'string' });
    requireString(flags, 'model');
    const methods = (listOf(flags, 'method') ?? ['hepex']).map((m) => {
      if (!(PRUNE_METHODS as readonly string[]).includes(m)) {
        throw new HepexError(
          'invalid-argument',
          `Unknown method "${m}"; use ${PRUNE_METHODS.join(', ')}.`,
        );
      }
      return m as PruneMethod;
    });
    const given = listOf(flags, 'sparsities')?.map((s) => Number(s));
    const settings = settingsFromFlags(flags);
    const runs = methods.flatMap((method) =>
      (given ?? DEFAULT_SPARSITIES[method]).map((sparsity) => ({ method, sparsity })),
    );
    // Validate every run's configuration before training anything.
    for (const r of runs) checkSteps(stepsFor(r.method, r.sparsity, settings));
    const { dir, model, trainer, data, warning } = await loadModelAndTrainer(flags, settings.seed);
    if (warning) io.progress(warning);
    const raw: Omit<FrontierPoint, 'pareto'>[] = [];
    let baseline: { ciphertexts: number; metricName: string; metric: number } | undefined;
    for (const [i, r] of runs.entries()) {
      io.progress(`run ${i + 1}/${runs.length}: ${r.method} at ${r.sparsity}`);
      const started = performance.now();
      const result = await pruneModel(model, trainer, r.method, r.sparsity, settings, {
        progress: () => undefined,
        signal: io.signal,
      });
      const s = summarise(result, settings.tile);
      if (!s.metric)
        throw new HepexError(
          'invalid-argument',
          'The sweep needs a metric; the trainer returned none.',
        );
      baseline ??= {
        ciphertexts: s.ciphertexts.before,
        metricName: s.metric.name,
        metric: s.metric.before,
      };
      const higher = s.metric.name === 'accuracy';
      raw.push({
        method: r.method,
        sparsity: r.sparsity,
        ciphertexts: s.ciphertexts.after,
        nonZeroTiles: s.nonZeroTiles.after,
        // A CNN's conv layer: kernel tiles x positions, the part of the count the kernel decides.
        ...(s.layers[0].conv ? { convCiphertexts: s.layers[0].nonZeroTiles } : {}),
        metric: s.metric.after,
        loss: higher ? s.metric.before - s.metric.after : s.metric.after - s.metric.before,
        elapsedMs: Math.round(performance.now() - started),
      });
      io.progress(
        `  ${s.ciphertexts.after} weight ciphertexts, ${s.metric.name} ${formatMetric(s.metric.name, s.metric.after)}`,
      );
    }
    const b = baseline!;
    const points = markPareto(raw, b.metricName === 'accuracy');
    const json = {
      model: dir,
      network: networkLabel(model.network),
      data,
      ...(warning ? { warning } : {}),
      tile: tileShapeLabel(settings.tile),
      theta: settings.theta,
      scope: settings.scope,
      retrainEpochs: settings.retrainEpochs,
      pruneSteps: settings.pruneSteps,
      groupLasso: settings.groupLasso,
      finalEpochs: settings.finalEpochs ?? settings.retrainEpochs,
      distill: settings.distill,
      maxTiles: settings.maxTiles,
      baseline: { ciphertexts: b.ciphertexts, metric: { name: b.metricName, value: b.metric } },
      points,
    };
    const text = [
      `network ${networkLabel(model.network)}`,
      `unpruned: ${b.ciphertexts} weight ciphertexts, ${b.metricName} ${formatMetric(b.metricName, b.metric)}`,
      ...points.map(
        (p) =>
          `${p.pareto ? '*' : ' '} ${p.method.padEnd(9)} ${String(p.sparsity).padEnd(5)} ${String(p.ciphertexts).padStart(6)} ciphertexts (${((1 - p.ciphertexts / b.ciphertexts) * 100).toFixed(1)}% fewer${p.convCiphertexts === undefined ? '' : `; conv ${p.convCiphertexts}`})  ${b.metricName} ${formatMetric(b.metricName, p.metric)}`,
      ),
      '* on the frontier (no run has fewer ciphertexts and a better metric)',
    ].join('\n');
    return { json, text };
  },
};
