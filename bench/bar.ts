import { methodSteps, type MethodOptions } from '../src/core/prune/methodSteps';
import { runPipeline } from '../src/core/prune/pipeline';
import { type PruneMethod } from '../src/core/prune/pipelineSteps';
import { parseTileShape } from '../src/core/tiling/tileShape';
import { loadMnistSplit } from '../src/engines/tfjs/mnistNode';
import { createTfjsTrainer } from '../src/engines/tfjs/trainer';
import { defaultModelsDir, loadOrTrain } from './common';
import type { BenchOptions } from './main';

/**
 * `npm run bench -- bar`: the hardest target on the MNIST MLP (public/models/mlp), 4x8 tiles:
 * HE-PEx + group lasso (3e-3) with a longer, distilled last retrain (theta alone, or with a tile
 * budget) against the tile-pruning baseline given at least the same training budget, side by
 * side in one run, within 2.5 accuracy points of the unpruned model. The baseline prunes
 * gradually (4 rounds, local, max score, the best of `bench prune`'s tile runs) with 12 epochs
 * per retrain: 48 epochs, as many as the HE-PEx runs (20 group-lasso + 4 x 4 + 12). The
 * distillation control is the same run without it, and the baseline is also run distilled (its
 * last retrain), so its best is measured with it too.
 *
 * One run's accuracy on the 2,000 test digits moves by up to 0.6 points with the training
 * shuffles alone (measured: HE-PEx at 80 tiles 94.65 / 94.05 / 94.30%, tile at 0.86 94.60 /
 * 94.20 / 94.60% over trainer seeds 1-3), as much as the margins being judged. So every configuration
 * runs with SEEDS trainer seeds, and "within the limit" and "fewest ciphertexts" are judged on
 * the means over seeds.
 */

const tile = parseTileShape('4x8');
const SEEDS = [1, 2, 3];

interface SeedRun {
  readonly seed: number;
  readonly ciphertexts: number;
  readonly accuracy: number;
  readonly seconds: number;
}

/** One configuration: its options, the means over seeds and every seed's run. */
interface Point extends MethodOptions {
  readonly label: string;
  readonly method: PruneMethod;
  readonly trainingEpochs: number;
  readonly ciphertexts: number;
  readonly accuracy: number;
  readonly minAccuracy: number;
  readonly runs: readonly SeedRun[];
}

interface Config {
  readonly label: string;
  readonly method: PruneMethod;
  readonly options: MethodOptions;
}

export async function run({ quick, args, progress }: BenchOptions) {
  const modelsArg = args.find((a) => a.startsWith('--models='))?.slice('--models='.length);
  const data = await loadMnistSplit();
  const model = await loadOrTrain('mlp', defaultModelsDir(modelsArg), data, quick, progress);
  const rounds = quick ? 1 : 4;
  const seeds = quick ? SEEDS.slice(0, 1) : SEEDS;
  const hepex = (distill: boolean, maxTiles?: number): Config => ({
    label: `hepex + group lasso 3e-3, 0.99, theta 0.1${maxTiles ? `, budget ${maxTiles} tiles` : ''}${distill ? ', distilled' : ''}`,
    method: 'hepex',
    options: {
      sparsity: 0.99,
      theta: 0.1,
      groupLasso: 3e-3,
      trainEpochs: quick ? 1 : undefined,
      retrainEpochs: quick ? 1 : 4,
      finalRetrainEpochs: quick ? 1 : 12,
      pruneSteps: rounds,
      distill,
      ...(maxTiles ? { maxTiles } : {}),
    },
  });
  const tileRun = (sparsity: number, distill = false): Config => ({
    label: `tile, local max, ${sparsity}${distill ? ', distilled' : ''}`,
    method: 'tile',
    options: {
      sparsity,
      scope: 'local',
      score: 'max',
      retrainEpochs: quick ? 1 : 12,
      pruneSteps: rounds,
      distill,
    },
  });
  const configs: Config[] = quick
    ? [hepex(true, 80), tileRun(0.86)]
    : [
        hepex(true),
        hepex(false),
        hepex(true, 90),
        hepex(true, 85),
        // 0.01 apart around the limit: the baseline's best is not left to a coarse grid.
        tileRun(0.84),
        tileRun(0.85),
        tileRun(0.86),
        tileRun(0.88),
        // Distillation has cost the baseline accuracy at high sparsity; one distilled run keeps
        // that checked.
        tileRun(0.84, true),
      ];
  let unpruned: { ciphertexts: number; accuracy: number } | undefined;
  const points: Point[] = [];
  for (const c of configs) {
    const steps = methodSteps(c.method, c.options);
    const runs: SeedRun[] = [];
    for (const seed of seeds) {
      const t0 = performance.now();
      const res = await runPipeline({ network: model.network }, createTfjsTrainer(data, { seed }), {
        tile,
        steps,
      });
      const first = res.records[0];
      const last = res.records[res.records.length - 1];
      unpruned ??= { ciphertexts: first.weightCiphertexts, accuracy: first.metric!.value };
      runs.push({
        seed,
        ciphertexts: last.weightCiphertexts,
        accuracy: last.metric!.value,
        seconds: Math.round((performance.now() - t0) / 100) / 10,
      });
      progress(
        `${c.label}, seed ${seed}: ${last.weightCiphertexts} ciphertexts, accuracy ${last.metric!.value}`,
      );
    }
    const mean = (pick: (r: SeedRun) => number) =>
      runs.reduce((sum, r) => sum + pick(r), 0) / runs.length;
    points.push({
      label: c.label,
      method: c.method,
      ...c.options,
      trainingEpochs: steps.reduce(
        (sum, s) => sum + (s.kind === 'train' || s.kind === 'retrain' ? s.epochs : 0),
        0,
      ),
      ciphertexts: Math.round(mean((r) => r.ciphertexts) * 10) / 10,
      accuracy: Math.round(mean((r) => r.accuracy) * 1e4) / 1e4,
      minAccuracy: Math.min(...runs.map((r) => r.accuracy)),
      runs,
    });
  }
  const limit = unpruned!.accuracy - 0.025;
  // Means are rounded to 1e-4 above; compare against the limit with the same rounding.
  const best = (method: PruneMethod) =>
    points
      .filter((p) => p.method === method && p.accuracy >= Math.round(limit * 1e4) / 1e4)
      .sort((a, b) => a.ciphertexts - b.ciphertexts)[0];
  const hepexBest = best('hepex');
  const tileBest = best('tile');
  return {
    model: model.source,
    tile: '4x8',
    seeds,
    unpruned,
    accuracyLimit: limit,
    bestWithinLimit: { hepex: hepexBest, tile: tileBest },
    hepexVsBestTile:
      hepexBest && tileBest
        ? Math.round((1 - hepexBest.ciphertexts / tileBest.ciphertexts) * 1e4) / 1e4
        : null,
    target: 0.7,
    points,
  };
}
