import { meanImage, meanImageMse, takeSamples, type DatasetSplit } from '../src/core/io/dataset';
import type { Mask } from '../src/core/model/matrix';
import type { Network } from '../src/core/model/network';
import type { NetworkPermutation } from '../src/core/model/permutation';
import { maskNetwork, planFor } from '../src/core/prune/common';
import { methodSteps } from '../src/core/prune/methodSteps';
import { networkFigures } from '../src/core/prune/networkFigures';
import { runPipeline } from '../src/core/prune/pipeline';
import type { PipelineStep } from '../src/core/prune/pipelineSteps';
import { unfoldClientPermutation } from '../src/core/prune/clientPermutation';
import { TILE_SCORES, tilePrune, type TileScore } from '../src/core/prune/tilePrune';
import { tileShapeLabel, type TileShape } from '../src/core/tiling/tileShape';
import type { Trainer } from '../src/core/model/trainer';
import type { Architecture } from '../src/engines/tfjs/models';
import { createTfjsTrainer, TRAINING_DEFAULTS } from '../src/engines/tfjs/trainer';
import { loadOrTrain, type LoadedModel } from './common';
import {
  autoencoderLimit,
  bestWithin,
  classifierLimit,
  PAPER_METHODS,
  pickTileConfig,
  relativeMseLimit,
  type DegradationLimit,
  type NetworkSummary,
  type PaperMethod,
} from './paperTable';
import { type NetworkEntry, QUICK_SWEEP, SCOPES, THETA, shapesFor } from './paperNetworks';

/**
 * The pruning sweeps of `bench paper`: per network one magnitude trajectory, HE-PEx branches
 * off its checkpoints and the tile-pruning search (paper.ts says how they share work), and the
 * chosen point of each method at each tile shape.
 */

export interface Point {
  readonly method: PaperMethod;
  readonly setting: string;
  readonly network: Network;
  readonly permutation?: NetworkPermutation;
  readonly metric: number;
  /** Weight ciphertexts per tile-shape label (tile/HE-PEx points: only the shape they were pruned for). */
  readonly ciphertexts: Readonly<Record<string, number>>;
}

export const round = (x: number, digits = 4) => Number(x.toPrecision(digits));

export function ciphertextsAt(
  network: Network,
  shapes: readonly TileShape[],
): Record<string, number> {
  return Object.fromEntries(
    shapes.map((t) => [
      tileShapeLabel(t),
      networkFigures(network, planFor(network, t)).weightCiphertexts,
    ]),
  );
}

/** Chains runPipeline over increasing sparsities; one checkpoint (network, masks) per sparsity. */
export async function trajectory(
  network: Network,
  trainer: Trainer,
  tile: TileShape,
  sparsities: readonly number[],
  stepsFor: (sparsity: number) => PipelineStep[],
  progress: (m: string) => void,
  what: string,
): Promise<{ sparsity: number; network: Network; masks: Mask[]; metric: number }[]> {
  const out = [];
  let current: { network: Network; masks?: Mask[] } = { network };
  for (const s of sparsities) {
    const res = await runPipeline(current, trainer, { tile, steps: stepsFor(s), evaluate: false });
    const metric = (await trainer.evaluate(res.network)).value;
    progress(`${what} ${s}: metric ${metric.toPrecision(4)}`);
    out.push({ sparsity: s, network: res.network, masks: res.masks, metric });
    current = { network: res.network, masks: res.masks };
  }
  return out;
}

/** The HE-PEx steps after the magnitude prefix: permute -> expand -> retrain (methodSteps' tail). */
export function hepexTail(sparsity: number, epochs: number): PipelineStep[] {
  const steps = methodSteps('hepex', { sparsity, theta: THETA, retrainEpochs: epochs, seed: 1 });
  return steps.slice(steps.findIndex((s) => s.kind === 'permute'));
}

export interface NetworkRun {
  readonly summary: NetworkSummary;
  readonly source?: string;
  readonly provenance?: Readonly<Record<string, unknown>>;
  readonly advisor?: string | null;
  readonly relativeLimit?: DegradationLimit;
  readonly tileSearch?: Record<string, unknown>;
  readonly points?: readonly Point[];
  readonly shapes?: readonly TileShape[];
  readonly trainingSeconds?: number;
}

/** One network's sweeps as a pool job (bench/paperSweepWorker.ts): plain data only. */
export interface SweepThreadJob {
  readonly id: string;
  readonly quick: boolean;
  readonly baseShapes: readonly string[];
  /** Where shipped models are (undefined: train here). */
  readonly modelsDir?: string;
}

export async function pruneNetwork(
  entry: NetworkEntry,
  data: DatasetSplit,
  modelsDir: string | undefined,
  quick: boolean,
  baseShapes: readonly string[],
  progress: (m: string) => void,
): Promise<NetworkRun> {
  const t0 = performance.now();
  const arch = entry.arch as Architecture;
  const loaded: LoadedModel = await loadOrTrain(
    arch,
    modelsDir,
    data,
    quick,
    progress,
    entry.layers,
  );
  const network = loaded.network;
  const noise = TRAINING_DEFAULTS[arch]?.noise ?? 0;
  const trainer = createTfjsTrainer(data, { seed: 1, noise });
  const sweep = quick ? QUICK_SWEEP : entry.sweep;
  const { shapes, advisor } = shapesFor(network, baseShapes, quick);
  const isClassifier = network.task === 'classification';
  const unprunedMetric = (await trainer.evaluate(network)).value;
  // The reconstruction that ignores its input: the train split's mean image, scored on the test split.
  const meanMse = isClassifier ? NaN : meanImageMse(data.test, meanImage(data.train));
  const limitFor = (unpruned: number) =>
    isClassifier ? classifierLimit(unpruned) : autoencoderLimit(unpruned, meanMse);
  const limit = limitFor(unprunedMetric);
  progress(
    `${entry.label}: unpruned metric ${unprunedMetric.toPrecision(4)}; shapes ${shapes.map(tileShapeLabel).join(', ')}`,
  );

  const points: Point[] = [
    {
      method: 'unpruned',
      setting: 'dense',
      network,
      metric: unprunedMetric,
      ciphertexts: ciphertextsAt(network, shapes),
    },
  ];
  // 1. Magnitude trajectory (global scope, methodSteps' default), shape-independent.
  const magnitude = await trajectory(
    network,
    trainer,
    shapes[0],
    sweep.magnitude,
    (s) => methodSteps('magnitude', { sparsity: s, retrainEpochs: sweep.retrainEpochs }),
    progress,
    `${entry.id} magnitude`,
  );
  for (const m of magnitude) {
    points.push({
      method: 'magnitude',
      setting: `sparsity ${m.sparsity}`,
      network: m.network,
      metric: m.metric,
      ciphertexts: ciphertextsAt(m.network, shapes),
    });
  }

  // Search trainer: scores on the first test images only (no retraining in the search).
  const searchImages = quick ? 500 : 1000;
  const searchTrainer = createTfjsTrainer(
    { ...data, test: takeSamples(data.test, searchImages) },
    { seed: 1, noise },
  );
  const searchBase = (await searchTrainer.evaluate(network)).value;
  const searchLimit = limitFor(searchBase);
  const tileSearch: Record<string, unknown> = {};

  for (const tile of shapes) {
    const label = tileShapeLabel(tile);
    // 2. HE-PEx branches off the magnitude checkpoints.
    for (const m of magnitude.filter((x) => sweep.hepex.includes(x.sparsity))) {
      const res = await runPipeline(
        { network: m.network, masks: m.masks, dense: network },
        trainer,
        { tile, steps: hepexTail(m.sparsity, sweep.branchEpochs), evaluate: false },
      );
      const metric = (
        await trainer.evaluate(
          unfoldClientPermutation(res.network, res.masks, res.permutation).network,
        )
      ).value;
      const ct = networkFigures(res.network, planFor(res.network, tile)).weightCiphertexts;
      progress(
        `${entry.id} ${label} HE-PEx ${m.sparsity}: ${ct} ciphertexts, metric ${metric.toPrecision(4)}`,
      );
      points.push({
        method: 'hepex',
        setting: `sparsity ${m.sparsity}, theta ${THETA}`,
        network: res.network,
        permutation: res.permutation,
        metric,
        ciphertexts: { [label]: ct },
      });
    }

    // 3. Tile pruning: search score x scope without retraining, then the chosen one's trajectory.
    const configs = TILE_SCORES.flatMap((score) =>
      SCOPES.map((scope) => ({
        score,
        scope,
        points: sweep.tile.map((p) => {
          const masks = tilePrune(network, tile, { tileSparsity: p, score, scope }).masks;
          const pruned = maskNetwork(network, masks);
          return {
            tileSparsity: p,
            pruned,
            ciphertexts: networkFigures(pruned, planFor(pruned, tile)).weightCiphertexts,
          };
        }),
      })),
    );
    const scored = [];
    for (const c of configs) {
      const pts = [];
      for (const p of c.points) {
        pts.push({
          tileSparsity: p.tileSparsity,
          ciphertexts: p.ciphertexts,
          metric: (await searchTrainer.evaluate(p.pruned)).value,
        });
      }
      scored.push({ score: c.score as TileScore, scope: c.scope, points: pts });
    }
    const chosen = pickTileConfig(scored, searchLimit);
    tileSearch[label] = {
      images: searchImages,
      unpruned: round(searchBase),
      chosen: `${chosen.score} ${chosen.scope}`,
      configs: scored.map((c) => ({
        config: `${c.score} ${c.scope}`,
        points: c.points.map((p) => ({
          tileSparsity: p.tileSparsity,
          ciphertexts: p.ciphertexts,
          metric: round(p.metric),
        })),
      })),
    };
    progress(`${entry.id} ${label} tile search: ${chosen.score} ${chosen.scope}`);
    const tiles = await trajectory(
      network,
      trainer,
      tile,
      sweep.tile,
      (p) =>
        methodSteps('tile', {
          sparsity: p,
          score: chosen.score,
          scope: chosen.scope,
          retrainEpochs: sweep.retrainEpochs,
        }),
      progress,
      `${entry.id} ${label} tile ${chosen.score} ${chosen.scope}`,
    );
    for (const t of tiles) {
      points.push({
        method: 'tile',
        setting: `${chosen.score} ${chosen.scope}, tile sparsity ${t.sparsity}`,
        network: t.network,
        metric: t.metric,
        ciphertexts: {
          [label]: networkFigures(t.network, planFor(t.network, tile)).weightCiphertexts,
        },
      });
    }
  }
  return {
    summary: { id: entry.id, label: entry.label, limit },
    source: loaded.source,
    provenance: loaded.provenance,
    advisor,
    relativeLimit: isClassifier ? undefined : relativeMseLimit(unprunedMetric),
    tileSearch,
    points,
    shapes,
    trainingSeconds: Math.round((performance.now() - t0) / 1000),
  };
}

/** The chosen point of each method at each shape. */
export function selectRows(run: NetworkRun, limit: DegradationLimit) {
  const rows: {
    tile: TileShape;
    method: PaperMethod;
    point: Point;
    ciphertexts: number;
    saving: number;
  }[] = [];
  for (const tile of run.shapes ?? []) {
    const label = tileShapeLabel(tile);
    const at = (run.points ?? [])
      .filter((p) => p.ciphertexts[label] !== undefined)
      .map((p) => ({ point: p, ciphertexts: p.ciphertexts[label], metric: p.metric }));
    const unpruned = at.find((p) => p.point.method === 'unpruned')!;
    for (const method of PAPER_METHODS) {
      const best = bestWithin(
        at.filter((p) => p.point.method === method),
        limit,
      );
      if (!best) continue;
      rows.push({
        tile,
        method,
        point: best.point,
        ciphertexts: best.ciphertexts,
        saving: round(1 - best.ciphertexts / unpruned.ciphertexts),
      });
    }
  }
  return rows;
}
