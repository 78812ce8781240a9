import type { Mask } from '../src/core/model/matrix';
import type { Network } from '../src/core/model/network';
import { identityPermutation } from '../src/core/model/permutation';
import { magnitudePrune } from '../src/core/prune/magnitudePrune';
import { findPermutation, type PermuteOptions } from '../src/core/prune/permute';
import { applyPermutation } from '../src/core/prune/applyPermutation';
import { GROUP_LASSO_EPOCHS, methodSteps } from '../src/core/prune/methodSteps';
import { runPipeline } from '../src/core/prune/pipeline';
import { type PruneMethod } from '../src/core/prune/pipelineSteps';
import type { PruneScope } from '../src/core/prune/common';
import type { TileScore } from '../src/core/prune/tilePrune';
import { createRng, shuffleInPlace } from '../src/core/model/random';
import { degreePreservingShuffle } from './degreeControl';
import { planTiles } from '../src/core/tiling/tilePlan';
import { parseTileShape } from '../src/core/tiling/tileShape';
import type { Trainer } from '../src/core/model/trainer';
import { loadMnistSplit } from '../src/engines/tfjs/mnistNode';
import { fashionMnistMissing, loadFashionMnistSplit } from '../src/engines/tfjs/fashionMnist';
import { createTfjsTrainer, FINE_TUNE_DEFAULTS } from '../src/engines/tfjs/trainer';
import { defaultModelsDir, loadOrTrain } from './common';
import type { BenchOptions } from './main';
import type { PermuteObjective } from '../src/core/prune/permute';

/**
 * The pruning figures, measured (nothing asserted):
 *  1. permutation on the MNIST MLP 784-128-10 and the autoencoder 784-256-64-256-784, 4x8
 *     tiles, after magnitude pruning of the trained weights to 0.9 (local and global): non-zero
 *     tiles with and without permutation, the lower bound, and the time to permute the whole AE
 *     (targets: >= 40% fewer, within 1.3x of the bound, <= 5 s), and beside each the same search
 *     on a degree-matched random mask (bench/degreeControl.ts): what the degrees alone allow;
 *     and the same after group-lasso training (structured sparsity), with the metric it costs;
 *  2. a planted-structure control: block-structured masks with every neuron shuffled, to show
 *     what the search recovers when a good order exists;
 *  3. end to end: HE-PEx (and HE-PEx without its permutation step) vs plain magnitude pruning
 *     vs the tile-pruning baseline over several sparsities, every method pruning gradually with
 *     the same retraining per round; weight ciphertexts vs metric. HE-PEx also after group
 *     lasso (20 more epochs), and the tile baseline also at that budget. Targets on the
 *     MLP: >= 65% fewer ciphertexts than unpruned within 2.5 accuracy points, >= 70% fewer
 *     than the best tile-pruning run within the same loss.
 * The CNN (public/models/cnn) gets the end-to-end comparison only (target: >= 50% fewer,
 * tile pruning beside it).
 *  4. Fashion-MNIST: the MLP and the CNN trained here on Fashion-MNIST 10k (seed 1,
 *     8000 / 2000, default training), then the end-to-end comparison with the same methods,
 *     limits and retraining (a shorter list of points); skipped, saying why, when Debian's
 *     dataset-fashion-mnist is not installed.
 * Models: --models DIR holding mlp/, ae/ and cnn/ model directories (default public/models when it
 * has them); otherwise they are trained here first (fewer epochs with --quick), and the output
 * says which.
 */

const tile = parseTileShape('4x8');

/**
 * The group-lasso strengths of the recorded run (bench/results/prune.json), fixed here so that it
 * reproduces when the studio's per-task levels (GROUP_LASSO_STRENGTHS) are retuned: light for
 * the end-to-end runs, strong for the permutation figures.
 */
const RECORDED_LASSO = {
  classification: { light: 3e-3, strong: 5e-3 },
  reconstruction: { light: 1e-4, strong: 1.5e-4 },
} as const;

/**
 * Learning rate of the permutation section's group-lasso training (undefined: the trainer's
 * fine-tuning default, 3e-3). The AE's penalty prunes cleaner at 2e-3: measured at 1.5e-4,
 * global, 2.15x the lower bound at 3e-3 against 1.20x at 2e-3 (MSE after 6 retraining epochs
 * 0.0257 and 0.0240).
 */
const PERMUTATION_LASSO_RATE = { classification: undefined, reconstruction: 2e-3 } as const;

function permutationFigures(masks: readonly Mask[], options: PermuteOptions = {}) {
  const r = findPermutation(masks, tile, options);
  return {
    nonZeroTilesWithout: r.nonZeroTilesBefore,
    nonZeroTilesWith: r.nonZeroTilesAfter,
    lowerBound: r.lowerBound,
    reduction: 1 - r.nonZeroTilesAfter / r.nonZeroTilesBefore,
    ratioToLowerBound: r.nonZeroTilesAfter / r.lowerBound,
    outerIterations: r.outerIterations,
    ms: Math.round(r.elapsedMs),
    layers: r.layers.map((l) => ({
      layer: l.layer,
      without: l.nonZeroTilesBefore,
      with: l.nonZeroTilesAfter,
      lowerBound: l.lowerBound,
    })),
  };
}

/** Block-structured masks (about `density` of the tiles full, the rest empty), every neuron shuffled. */
function plantedMasks(sizes: readonly number[], density: number, seed: number): Mask[] {
  const rng = createRng(seed);
  const plan = planTiles(sizes, tile);
  const masks = plan.layers.map((t) => {
    const data = new Uint8Array(t.outputs * t.inputs);
    for (let o = 0; o < t.outBlocks; o++) {
      for (let i = 0; i < t.inBlocks; i++) {
        if (rng.next() >= density) continue;
        for (let r = o * t.blockOut; r < Math.min(t.outputs, (o + 1) * t.blockOut); r++) {
          for (let c = i * t.blockIn; c < Math.min(t.inputs, (i + 1) * t.blockIn); c++)
            data[r * t.inputs + c] = 1;
        }
      }
    }
    return { rows: t.outputs, cols: t.inputs, data };
  });
  const orders = sizes.map((n) => shuffleInPlace(identityPermutation(n), rng));
  const zeros: Network = {
    task: 'reconstruction',
    layers: masks.map((m) => ({
      kind: 'dense' as const,
      weights: { rows: m.rows, cols: m.cols, data: new Float32Array(m.rows * m.cols) },
      bias: new Float32Array(m.rows),
      activation: { type: 'linear' as const },
    })),
  };
  return applyPermutation(zeros, orders, masks).masks!;
}

interface RunPoint {
  readonly method: PruneMethod;
  /** Group-lasso strength of the training before pruning (absent: none). */
  readonly groupLasso?: number;
  /** Epochs of every train and retrain step of the run added up: its training budget. */
  readonly trainingEpochs: number;
  readonly retrainEpochs?: number;
  readonly sparsity: number;
  readonly score?: TileScore;
  readonly theta?: number;
  readonly permute?: boolean;
  readonly objective?: PermuteObjective;
  readonly scope?: PruneScope;
  readonly ciphertexts: number;
  readonly nonZeroTiles: number;
  readonly metric: number;
  readonly seconds: number;
}

async function endToEnd(
  network: Network,
  trainer: Trainer,
  quick: boolean,
  retrainEpochs: number,
  pruneSteps: number,
  progress: (m: string) => void,
  dataSet: 'mnist' | 'fashion-mnist' = 'mnist',
) {
  const isAcc = network.task === 'classification';
  const isConv = network.layers[0].kind === 'conv';
  // permute false: the HE-PEx step list without its permutation step (what permuting buys).
  type Config = {
    method: PruneMethod;
    sparsity: number;
    score?: TileScore;
    scope?: PruneScope;
    theta?: number;
    permute?: boolean;
    objective?: PermuteObjective;
    groupLasso?: number;
    /** Overrides the run's epochs per retrain (the tile baseline at HE-PEx + group lasso's budget). */
    retrainEpochs?: number;
  };
  const hepexRun = (sparsity: number, theta = 0.0625, permute = true): Config => ({
    method: 'hepex',
    sparsity,
    theta,
    permute,
  });
  // The autoencoder retrains ~10x slower than the MLP, so it gets a shorter list. The tile
  // baseline is run mostly with the max score: measured on the MLP, global l1 drops the small
  // edge tiles of the 10-output layer first (-10 accuracy points at tile sparsity 0.3).
  const tileRun = (sparsity: number, scope: PruneScope, score: TileScore = 'max'): Config => ({
    method: 'tile',
    sparsity,
    score,
    scope,
  });
  // The CNN (conv-first): global scope, because a kernel weight pays for every position it is
  // copied to; local pruning at 0.9 keeps too much of the 200-weight kernel (measured: -23%).
  const cnnRun = (sparsity: number, permute = true): Config => ({
    ...hepexRun(sparsity, 0.0625, permute),
    scope: 'global',
  });
  // Structured sparsity first (group lasso, GROUP_LASSO_EPOCHS of training): a run costs 20
  // more epochs, so the tile baseline is also run at that budget (10 epochs per retrain: 40 in all).
  const lassoRun = (sparsity: number, groupLasso: number, permute = true): Config => ({
    ...hepexRun(sparsity, 0.0625, permute),
    groupLasso,
  });
  const longTileRun = (sparsity: number): Config => ({
    ...tileRun(sparsity, 'local'),
    retrainEpochs: 10,
  });
  const mlpLasso = RECORDED_LASSO.classification.light;
  const aeLasso = RECORDED_LASSO.reconstruction.light;
  // Fashion-MNIST: the points around where its models hold (measured: HE-PEx falls off past
  // 0.95 on the MLP), each method at least once, magnitude at 0.9 (the sparsity that stalled before the class floor).
  const fashionConfigs: Config[] = isConv
    ? [
        cnnRun(0.8),
        cnnRun(0.85),
        cnnRun(0.88),
        { method: 'magnitude', sparsity: 0.9, scope: 'global' },
        tileRun(0.5, 'local'),
        tileRun(0.7, 'local'),
        tileRun(0.5, 'global'),
      ]
    : [
        hepexRun(0.9),
        hepexRun(0.95),
        hepexRun(0.97),
        hepexRun(0.95, 0.0625, false),
        { method: 'magnitude', sparsity: 0.9 },
        { method: 'magnitude', sparsity: 0.95 },
        tileRun(0.5, 'local'),
        tileRun(0.7, 'local'),
        tileRun(0.5, 'global'),
      ];
  const configs: Config[] = quick
    ? dataSet === 'fashion-mnist'
      ? [
          isConv ? cnnRun(0.8) : hepexRun(0.9),
          { method: 'magnitude', sparsity: 0.9, ...(isConv ? { scope: 'global' as const } : {}) },
          tileRun(0.5, 'local'),
        ]
      : [isConv ? cnnRun(0.8) : hepexRun(0.95), tileRun(0.5, 'local')]
    : dataSet === 'fashion-mnist'
      ? fashionConfigs
      : isConv
        ? [
            cnnRun(0.8),
            cnnRun(0.85),
            cnnRun(0.88),
            cnnRun(0.85, false),
            { method: 'magnitude', sparsity: 0.9, scope: 'global' },
            tileRun(0.5, 'local'),
            tileRun(0.7, 'local'),
            tileRun(0.5, 'global'),
            tileRun(0.7, 'global'),
          ]
        : isAcc
          ? [
              hepexRun(0.97),
              hepexRun(0.98),
              hepexRun(0.99),
              { ...hepexRun(0.98), objective: 'tiles' },
              hepexRun(0.98, 0.0625, false),
              { method: 'magnitude', sparsity: 0.97 },
              tileRun(0.7, 'local'),
              tileRun(0.8, 'local'),
              tileRun(0.9, 'local'),
              tileRun(0.7, 'global'),
              tileRun(0.8, 'global'),
              tileRun(0.8, 'local', 'l1'),
              lassoRun(0.98, mlpLasso),
              lassoRun(0.985, mlpLasso),
              lassoRun(0.99, mlpLasso),
              lassoRun(0.985, mlpLasso, false),
              longTileRun(0.8),
              longTileRun(0.84),
              longTileRun(0.86),
            ]
          : [
              hepexRun(0.9),
              hepexRun(0.95),
              hepexRun(0.95, 0.0625, false),
              { method: 'magnitude', sparsity: 0.95 },
              tileRun(0.5, 'local'),
              tileRun(0.7, 'local'),
              lassoRun(0.9, aeLasso),
            ];
  let baseline: { ciphertexts: number; metric: number } | undefined;
  const points: RunPoint[] = [];
  for (const c of configs) {
    const t0 = performance.now();
    const steps = methodSteps(c.method, {
      sparsity: c.sparsity,
      theta: c.theta,
      score: c.score,
      retrainEpochs: c.retrainEpochs ?? retrainEpochs,
      pruneSteps,
      scope: c.scope,
      permuteObjective: c.objective,
      groupLasso: c.groupLasso,
    }).filter((step) => c.permute !== false || step.kind !== 'permute');
    const trainingEpochs = steps.reduce(
      (sum, step) => sum + (step.kind === 'train' || step.kind === 'retrain' ? step.epochs : 0),
      0,
    );
    const res = await runPipeline({ network }, trainer, { tile, steps });
    const first = res.records[0];
    const last = res.records[res.records.length - 1];
    baseline ??= { ciphertexts: first.weightCiphertexts, metric: first.metric!.value };
    const point: RunPoint = {
      ...c,
      trainingEpochs,
      ciphertexts: last.weightCiphertexts,
      nonZeroTiles: last.nonZeroTiles,
      metric: last.metric!.value,
      seconds: Math.round((performance.now() - t0) / 100) / 10,
    };
    points.push(point);
    progress(
      `${c.method}${c.groupLasso ? ` + group lasso ${c.groupLasso}` : ''}${c.permute === false ? ' (no permutation)' : ''}${c.objective ? ` (objective ${c.objective})` : ''} ${c.sparsity}${c.theta ? ` theta ${c.theta}` : ''}${c.score ? ` ${c.score} ${c.scope}` : ''}: ${point.ciphertexts} ciphertexts, metric ${point.metric.toPrecision(4)}`,
    );
  }
  const base = baseline!;
  // Allowed degradation: 2.5 accuracy points, or for MSE 10% above the unpruned model's.
  const tolerance = isAcc ? 0.025 : 0.1 * base.metric;
  const within = (p: RunPoint) =>
    isAcc ? p.metric >= base.metric - tolerance : p.metric <= base.metric + tolerance;
  const best = (keep: (p: RunPoint) => boolean) =>
    points.filter((p) => keep(p) && within(p)).sort((a, b) => a.ciphertexts - b.ciphertexts)[0];
  const hepexPaper = best((p) => p.method === 'hepex' && p.permute !== false && !p.groupLasso);
  const hepexLasso = best((p) => p.method === 'hepex' && p.permute !== false && !!p.groupLasso);
  const hepex = best((p) => p.method === 'hepex' && p.permute !== false);
  // Every tile run, at either budget: the strongest baseline this bench produced.
  const tileBest = best((p) => p.method === 'tile');
  const magnitude = best((p) => p.method === 'magnitude');
  const withoutPermutation = best((p) => p.method === 'hepex' && p.permute === false);
  return {
    metric: isAcc ? 'accuracy' : 'mse',
    retrainEpochs,
    pruneSteps,
    unpruned: base,
    tolerance: isAcc ? '2.5 accuracy points' : 'MSE at most 10% above the unpruned model',
    bestWithinTolerance: {
      hepex,
      hepexPaperPipeline: hepexPaper,
      hepexGroupLasso: hepexLasso,
      tile: tileBest,
      magnitude,
      hepexWithoutPermutation: withoutPermutation,
    },
    hepexVsUnpruned: hepex ? 1 - hepex.ciphertexts / base.ciphertexts : null,
    hepexVsBestTileBaseline:
      hepex && tileBest ? 1 - hepex.ciphertexts / tileBest.ciphertexts : null,
    points,
  };
}

/**
 * Section 4: the MLP and the CNN trained here on Fashion-MNIST 10k (default training), then the
 * end-to-end comparison; { skipped: why } when the data is not installed.
 */
async function fashionSection(
  quick: boolean,
  retrainEpochs: (name: string) => number,
  pruneSteps: (name: string) => number,
  progress: (m: string) => void,
  archs: readonly ('mlp' | 'cnn')[] = ['mlp', 'cnn'],
): Promise<Record<string, unknown>> {
  const missing = fashionMnistMissing();
  if (missing) {
    progress(`Fashion-MNIST: skipped (${missing})`);
    return { skipped: missing };
  }
  const data = await loadFashionMnistSplit();
  const rows: Record<string, unknown> = {};
  const models: Record<string, string> = {};
  for (const arch of archs) {
    const m = await loadOrTrain(arch, undefined, data, quick, progress);
    models[arch] = m.source;
    progress(`end to end on Fashion-MNIST ${arch}`);
    rows[arch] = await endToEnd(
      m.network,
      createTfjsTrainer(data, { seed: 1 }),
      quick,
      retrainEpochs(arch),
      pruneSteps(arch),
      progress,
      'fashion-mnist',
    );
  }
  return { data: data.label, models, endToEnd: rows };
}

/**
 * `npm run bench -- prune [--quick] [--models=DIR] [--retrain-epochs=E] [--fashion-only[=mlp,cnn]]`;
 * --fashion-only runs section 4 alone, for the networks listed (its JSON is { fashionMnist },
 * written to bench/results/prune-fashion.json).
 */
export async function run({ quick, args, progress }: BenchOptions) {
  const modelsArg = args.find((a) => a.startsWith('--models='))?.slice('--models='.length);
  const modelsDir = defaultModelsDir(modelsArg);
  // Every method prunes gradually (cubic ramp of prune + retrain rounds) with the same epochs per
  // retrain: MLP and CNN 4 rounds x 4 epochs (~1-1.5 s an epoch), AE 2 rounds x 3 epochs (~10x slower).
  const epochsArg = args
    .find((a) => a.startsWith('--retrain-epochs='))
    ?.slice('--retrain-epochs='.length);
  const retrainEpochs = (name: string): number =>
    epochsArg ? Number(epochsArg) : quick ? 1 : name === 'ae' ? 3 : 4;
  const pruneSteps = (name: string): number => (quick ? 1 : name === 'ae' ? 2 : 4);
  const fashionOnly = args.find((a) => a === '--fashion-only' || a.startsWith('--fashion-only='));
  if (fashionOnly) {
    const archs = fashionOnly.includes('=')
      ? fashionOnly
          .slice('--fashion-only='.length)
          .split(',')
          .filter((a): a is 'mlp' | 'cnn' => a === 'mlp' || a === 'cnn')
      : undefined;
    return {
      fashionMnist: await fashionSection(quick, retrainEpochs, pruneSteps, progress, archs),
    };
  }
  const data = await loadMnistSplit();
  const models = {
    mlp: await loadOrTrain('mlp', modelsDir, data, quick, progress),
    ae: await loadOrTrain('ae', modelsDir, data, quick, progress),
  };
  const cnn = await loadOrTrain('cnn', modelsDir, data, quick, progress);

  // 1. Permutation after magnitude pruning of the trained weights (no retraining needed: the
  //    retrain step holds the masks, so it does not change what permutation sees).
  const permutation: Record<string, unknown> = {};
  for (const [name, m] of Object.entries(models)) {
    for (const scope of ['local', 'global'] as const) {
      const masks = magnitudePrune(m.network, { sparsity: 0.9, scope });
      progress(`permuting ${name} (${scope} magnitude pruning at 0.9)`);
      // The control: random masks with the same per-neuron degrees (what the search can gain
      // from the degree distribution alone).
      const rng = createRng(11);
      const degreeMatched = masks.map((mask) => degreePreservingShuffle(mask, rng));
      permutation[`${name}-${scope}`] = {
        full: permutationFigures(masks),
        kMeansOnly: quick ? undefined : permutationFigures(masks, { refine: false }),
        swapsOnly: quick ? undefined : permutationFigures(masks, { maxKMeansIterations: 0 }),
        degreeMatchedRandom: permutationFigures(degreeMatched),
      };
    }
  }
  // 1b. The same after group-lasso training (strong strengths, GROUP_LASSO_EPOCHS epochs
  //     from the trained model): structured sparsity that the permutation can gather. The
  //     structure has a price in the metric, so the metric is measured at every stage.
  const structured: Record<string, unknown> = {};
  for (const [name, m] of Object.entries(models)) {
    if (quick && name === 'ae') continue;
    const groupLasso = RECORDED_LASSO[m.network.task].strong;
    const learningRate = PERMUTATION_LASSO_RATE[m.network.task];
    const epochs = quick ? 2 : GROUP_LASSO_EPOCHS;
    const trainer = createTfjsTrainer(data, { seed: 1 });
    progress(`group-lasso training ${name} (${groupLasso}, ${epochs} epochs)`);
    const lasso = await runPipeline({ network: m.network }, trainer, {
      tile,
      steps: [{ kind: 'train', epochs, groupLasso, learningRate }],
    });
    for (const scope of ['global', 'local'] as const) {
      const pruned = await runPipeline({ network: lasso.network }, trainer, {
        tile,
        steps: [
          { kind: 'prune', sparsity: 0.9, scope },
          { kind: 'retrain', epochs: quick ? 1 : 6 },
        ],
      });
      progress(`permuting ${name} (group lasso, ${scope} magnitude pruning at 0.9)`);
      const metricAt = (records: typeof pruned.records, i: number) => records[i].metric?.value;
      structured[`${name}-${scope}`] = {
        groupLasso,
        learningRate: learningRate ?? FINE_TUNE_DEFAULTS.learningRate,
        trainEpochs: epochs,
        metric: {
          name: lasso.records[0].metric?.name,
          unpruned: metricAt(lasso.records, 0),
          afterGroupLasso: metricAt(lasso.records, 1),
          prunedAt09: metricAt(pruned.records, 1),
          retrained: metricAt(pruned.records, 2),
        },
        ...permutationFigures(pruned.masks),
      };
    }
  }
  // Whole-AE permutation time: median of 3 (1 with --quick).
  const aeMasks = magnitudePrune(models.ae.network, { sparsity: 0.9 });
  const times: number[] = [];
  for (let i = 0; i < (quick ? 1 : 3); i++)
    times.push(findPermutation(aeMasks, tile, { seed: i + 1 }).elapsedMs);
  times.sort((a, b) => a - b);

  // 2. Planted structure.
  const planted = plantedMasks([784, 256, 64, 256, 784], 0.1, 7);
  progress('permuting planted block structure');
  const plantedFigures = permutationFigures(planted);

  // 3. End to end with retraining.
  const e2e: Record<string, unknown> = {};
  for (const [name, m] of Object.entries({ ...models, cnn })) {
    if (quick && name === 'ae') continue;
    progress(`end to end on ${name}`);
    const trainer = createTfjsTrainer(data, { seed: 1 });
    e2e[name] = await endToEnd(
      m.network,
      trainer,
      quick,
      retrainEpochs(name),
      pruneSteps(name),
      progress,
    );
  }

  // 4. Fashion-MNIST: the MLP and the CNN trained here (no shipped models), then end to end.
  const fashion = await fashionSection(quick, retrainEpochs, pruneSteps, progress);

  return {
    tile: '4x8',
    models: { mlp: models.mlp.source, ae: models.ae.source, cnn: cnn.source },
    data: data.label,
    targets: {
      permutationReduction: '>= 40% fewer non-zero tiles than without permutation',
      lowerBound: 'within 1.3x of ceil(non-zero weights / 32)',
      degreeMatchedRandom:
        "control: the same search on random masks with the trained masks' row and column degrees",
      permutationAfterGroupLasso:
        'the two permutation targets after group-lasso training (structured sparsity), metric at every stage',
      aePermutationSeconds: '<= 5',
      endToEnd:
        '>= 65% fewer weight ciphertexts than unpruned within 2.5 points; >= 70% fewer than the best tile-pruning run',
      cnn: '>= 50% fewer weight ciphertexts than unpruned within 2.5 points, tile pruning beside it',
    },
    permutation,
    permutationAfterGroupLasso: structured,
    aePermutationMs: {
      median: Math.round(times[Math.floor(times.length / 2)]),
      runs: times.map(Math.round),
    },
    plantedStructure: {
      note: '784-256-64-256-784, 10% of tiles full, every neuron shuffled',
      ...plantedFigures,
    },
    endToEnd: e2e,
    fashionMnist: fashion,
  };
}
