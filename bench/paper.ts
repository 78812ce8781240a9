import { writeFile } from 'node:fs/promises';
import { optionalNumber, parseFlags } from '../src/cli/args';
import { maxDepth } from '../src/core/he/ckksParameters';
import {
  costOfExecution,
  opsMs,
  REFERENCE_TIMINGS,
  type OpTimingTable,
} from '../src/core/he/costModel';
import { imagesToFloat, takeSamples } from '../src/core/io/dataset';
import { HepexError } from '../src/core/model/errors';
import { planExecution, zeroOps } from '../src/core/tiling/executionPlan';
import { nonZeroMask } from '../src/core/model/matrix';
import type { Network } from '../src/core/model/network';
import { planFor } from '../src/core/prune/common';
import { countTileNonZeros, nonZeroTileFlags } from '../src/core/tiling/tilePlan';
import {
  parseTileShape,
  RING_DEGREES,
  tileShapeLabel,
  type RingDegree,
  type TileShape,
} from '../src/core/tiling/tileShape';
import { calibrate } from '../src/engines/seal/calibrate';
import { chooseWeightStorage } from '../src/engines/seal/heSession';
import { loadSeal } from '../src/engines/seal/loadSeal';
import { loadMnistSplit } from '../src/engines/tfjs/mnistNode';
import { fashionMnistMissing, loadFashionMnistSplit } from '../src/engines/tfjs/fashionMnist';
import type { DatasetSplit } from '../src/core/io/dataset';
import { ARCHITECTURES } from '../src/engines/tfjs/models';
import { defaultModelsDir, machineInfo } from './common';
import { heModelOf, measureInWorker } from './paperHe';
import type { BenchOptions } from './main';
import {
  bestWithin,
  classifierLimit,
  renderMarkdown,
  type MeasuredHe,
  type PaperRow,
  type PredictedHe,
  hepexVsTile,
  scheduleHeRuns,
  whyNotMeasured,
} from './paperTable';
import {
  BASE_SHAPES,
  FULL_BATCH,
  NETWORKS,
  QUICK_NETWORKS,
  QUICK_SHAPES,
  THETA,
  type NetworkEntry,
} from './paperNetworks';
import {
  type NetworkRun,
  type Point,
  type SweepThreadJob,
  pruneNetwork,
  round,
  selectRows,
} from './paperSweep';
import { runInThread } from './threadJob';

/**
 * `npm run bench -- paper [--quick] [--networks=mlp,ae-256-64,...] [--shapes=4x4,4x8,...]
 *  [--samples=N] [--he-budget=MINUTES] [--models=DIR] [--workers=N or N1,N2,...]`
 *
 * The paper's results table (docs/method.md section 4) reproduced on this studio.
 * For every network (NETWORKS), tile shape (4x4, 4x8, 8x8 and the advisor's pick for the dense
 * network) and method (unpruned, magnitude, tile pruning, HE-PEx), a short sparsity sweep with
 * retraining; the row is the point with the fewest weight ciphertexts within the degradation
 * limit. Each row gets the cost model's latency and memory for the paper's full batch (512
 * images) and an encrypted inference of a small sample batch on real node-seal (latency, peak
 * SEAL memory, agreement or max error against the plaintext forward pass).
 *
 * How the sweeps share work (so a full run fits ~30 minutes on 2 cores):
 *  - magnitude: ONE gradual trajectory per network (prune to s1 -> retrain -> prune to s2 ->
 *    retrain ...), independent of the tile shape; every checkpoint is a magnitude point, costed
 *    at every shape;
 *  - HE-PEx: branches off the magnitude checkpoints (permute -> drop tiles <= theta + expand
 *    from the trained dense weights -> retrain), per shape: the paper's order, the prefix shared;
 *  - tile pruning: per shape, the score (min/max/avg/l1) x scope (local/global) search scores
 *    every configuration at the sweep's tile sparsities WITHOUT retraining (on the first test
 *    images), then one gradual trajectory of the chosen configuration with retraining.
 */

/** The execution plan of `network` (its zero tiles skipped) at `tile` on ring degree N. */
function execAt(network: Network, tile: TileShape, N: RingDegree) {
  const t = parseTileShape(tileShapeLabel(tile), { ringDegree: N });
  const plan = planFor(network, t);
  const flags = network.layers.map((l, i) =>
    nonZeroTileFlags(countTileNonZeros(nonZeroMask(l.weights), plan.layers[i])),
  );
  return {
    batch: t.batch,
    exec: planExecution(
      plan,
      flags,
      network.layers.map((l) => l.activation),
    ),
  };
}

/** What a pass of the pruning sweeps chose, as a string: equal strings, equal results. */
function sweepKey(runs: readonly NetworkRun[]): string {
  return JSON.stringify(
    runs.map((r) => ({
      summary: r.summary,
      tileSearch: r.tileSearch,
      points: r.points?.map((p) => [p.method, p.setting, p.metric, p.ciphertexts]),
    })),
  );
}

/**
 * Cost model of `network` at `tile` for `samples`, at ring degree `ringDegree` or else the
 * smallest carrying its depth; null when none does.
 */
function predict(
  network: Network,
  tile: TileShape,
  samples: number,
  timings: readonly OpTimingTable[],
  ringDegree?: number,
): PredictedHe | null {
  for (const N of RING_DEGREES) {
    if ((ringDegree !== undefined && N !== ringDegree) || tile.t1 * tile.t2 > N / 2) continue;
    const { exec, batch } = execAt(network, tile, N);
    if (exec.depth > maxDepth(N)) continue;
    const tables = timings.some((x) => x.ringDegree === N) ? timings : REFERENCE_TIMINGS;
    const report = costOfExecution(exec, { samples, timings: tables });
    return {
      samples,
      ringDegree: N,
      batch,
      latencyMs: round(report.total.predictedMs),
      peakBytes: report.total.peakBytes,
    };
  }
  return null;
}

/**
 * A row's HE model at ring degree N and the wall time its encrypted run of `samples` should
 * take: the plan's time plus one encode per weight tile (at set-up when resident, during the
 * run when streamed; the engine's own prediction adds the streamed ones). Throws the engine's
 * out-of-memory error for a run it would refuse.
 */
function planRun(
  point: Point,
  tile: TileShape,
  ringDegree: RingDegree,
  samples: number,
  timings: readonly OpTimingTable[],
  weights: 'resident' | 'streamed' | undefined,
) {
  const he = heModelOf(point.network, point.permutation, tile, ringDegree);
  const storage = chooseWeightStorage(he, { weights });
  const tables = timings.some((t) => t.ringDegree === ringDegree) ? timings : REFERENCE_TIMINGS;
  const table = tables.find((t) => t.ringDegree === ringDegree)!;
  const ms =
    costOfExecution(he.exec, { samples, timings: tables }).total.predictedMs +
    opsMs({ ...zeroOps(), encode: he.exec.weightCiphertexts }, table, he.params.depth + 1);
  return { he, storage, ms };
}

export async function run({ quick, args, progress }: BenchOptions) {
  const flags = parseFlags(args, {
    networks: 'string',
    shapes: 'string',
    samples: 'string',
    'he-budget': 'string',
    models: 'string',
    workers: 'string',
  });
  const list = (v: unknown) =>
    typeof v === 'string'
      ? v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : undefined;
  const wanted = list(flags.networks) ?? (quick ? QUICK_NETWORKS : NETWORKS.map((n) => n.id));
  const unknown = wanted.filter((id) => !NETWORKS.some((n) => n.id === id));
  if (unknown.length) {
    throw new HepexError(
      'invalid-argument',
      `Unknown network ${unknown.join(', ')}; use ${NETWORKS.map((n) => n.id).join(', ')}.`,
    );
  }
  const workerCounts = list(flags.workers)?.map((w) => {
    const n = Number(w);
    if (!Number.isInteger(n) || n < 1 || n > 64) {
      throw new HepexError(
        'invalid-argument',
        `--workers takes thread counts 1-64 (e.g. 1,2); got '${w}'.`,
      );
    }
    return n;
  });
  const baseShapes = list(flags.shapes) ?? (quick ? QUICK_SHAPES : BASE_SHAPES);
  baseShapes.forEach((s) => parseTileShape(s));
  const samples = optionalNumber(flags, 'samples', quick ? 4 : 16);
  // Minutes of PREDICTED encrypted-inference time to spend on measured rows (scheduleHeRuns).
  const heBudgetMs = optionalNumber(flags, 'he-budget', quick ? 1 : 8) * 60_000;
  const modelsDir = defaultModelsDir(typeof flags.models === 'string' ? flags.models : undefined);
  const data = await loadMnistSplit();
  // Fashion-MNIST only when a wanted network uses it and it is installed (else those skip).
  const needsFashion = wanted.some((id) => NETWORKS.find((n) => n.id === id)?.data);
  const fashionMissing = needsFashion ? fashionMnistMissing() : null;
  const fashion = needsFashion && !fashionMissing ? await loadFashionMnistSplit() : undefined;
  const dataOf = (id: string): DatasetSplit =>
    NETWORKS.find((n) => n.id === id)?.data === 'fashion-mnist' ? fashion! : data;

  // Phase 1: pruning sweeps, network by network in this thread, or each network a job on a pool
  // of worker threads (--workers=N). --workers=1,2 runs the sweeps once per count, one after
  // the other in this run, and checks that every count gives the same points.
  const skipReason = (entry: NetworkEntry): string | undefined =>
    !(ARCHITECTURES as readonly string[]).includes(entry.arch)
      ? `architecture '${entry.arch}' is not in src/engines/tfjs/models.ts yet`
      : entry.data === 'fashion-mnist' && !fashion
        ? fashionMissing!
        : undefined;
  const skipped = (entry: NetworkEntry, reason: string): NetworkRun => ({
    summary: { id: entry.id, label: entry.label, limit: classifierLimit(NaN), skipped: reason },
  });
  const pruneAll = async (workers: number | undefined) => {
    const t0 = performance.now();
    const runs: NetworkRun[] = [];
    const perNetwork: Record<string, number> = {};
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < wanted.length) {
        const i = next++;
        const entry = NETWORKS.find((n) => n.id === wanted[i])!;
        const reason = skipReason(entry);
        if (reason) {
          progress(`${entry.label}: skipped (${reason})`);
          runs[i] = skipped(entry, reason);
          continue;
        }
        progress(`${entry.label}: pruning sweeps${workers ? ` (pool of ${workers})` : ''}`);
        // Fashion-MNIST models are trained here: the models directory holds MNIST ones.
        const dir = entry.data === 'fashion-mnist' ? undefined : modelsDir;
        const started = performance.now();
        try {
          runs[i] =
            workers === undefined
              ? await pruneNetwork(entry, dataOf(entry.id), dir, quick, baseShapes, progress)
              : await runInThread<NetworkRun>(
                  new URL('./paperSweepWorker.ts', import.meta.url),
                  { id: entry.id, quick, baseShapes, modelsDir: dir } satisfies SweepThreadJob,
                  { what: `${entry.id} sweep thread`, onProgress: progress },
                );
        } catch (e) {
          // One failed network must not cost the rest of the run: its row says why.
          const why = `failed: ${e instanceof Error ? e.message : String(e)}`;
          progress(`${entry.label}: ${why}`);
          runs[i] = skipped(entry, why);
        }
        perNetwork[entry.id] = Math.round((performance.now() - started) / 1000);
      }
    };
    await Promise.all(Array.from({ length: workers ?? 1 }, lane));
    return { runs, seconds: Math.round((performance.now() - t0) / 1000), perNetwork };
  };
  const passes: {
    workers: number | undefined;
    seconds: number;
    perNetwork: object;
    key: string;
  }[] = [];
  let runs: NetworkRun[] = [];
  for (const workers of workerCounts ?? [undefined]) {
    const pass = await pruneAll(workers);
    runs = pass.runs;
    passes.push({
      workers,
      seconds: pass.seconds,
      perNetwork: pass.perNetwork,
      key: sweepKey(runs),
    });
    if (workers !== undefined)
      progress(`pruning sweeps on ${workers} worker(s): ${pass.seconds} s`);
  }
  const pruneSeconds = passes[passes.length - 1].seconds;
  const pool = workerCounts
    ? {
        passes: passes.map(({ workers, seconds, perNetwork }) => ({
          workers,
          seconds,
          perNetwork,
        })),
        // Every pass chose the same points (settings, metrics, ciphertexts, limits).
        identical: passes.every((p) => p.key === passes[0].key),
        speedup: round(passes[0].seconds / pruneSeconds, 3),
      }
    : undefined;

  // Phase 2: rows, calibrated SEAL timings per ring degree, predictions and measurements.
  const selected = runs.flatMap((r) =>
    selectRows(r, r.summary.limit).map((row) => ({ run: r, ...row })),
  );
  const { seal } = await loadSeal();
  // Ring degree per network and shape: the smallest carrying the UNPRUNED network's depth, for
  // every row of that shape (like the engine's choice, and so rows compare like with like).
  // One prediction per network and shape, not one per row and pass.
  const rings = new Map<string, RingDegree | undefined>();
  const ringOf = (r: NetworkRun, tile: TileShape) => {
    const key = `${r.summary.id} ${tileShapeLabel(tile)}`;
    if (!rings.has(key)) {
      const unpruned = predict(r.points![0].network, tile, FULL_BATCH, REFERENCE_TIMINGS);
      rings.set(key, unpruned?.ringDegree as RingDegree | undefined);
    }
    return rings.get(key);
  };
  const depthAt = new Map<RingDegree, number>();
  for (const s of selected) {
    const N = ringOf(s.run, s.tile);
    if (N === undefined) continue;
    const depth = execAt(s.point.network, s.tile, N).exec.depth;
    depthAt.set(N, Math.max(depthAt.get(N) ?? 0, depth));
  }
  const timings: OpTimingTable[] = [];
  for (const [N, depth] of depthAt) {
    progress(`calibrating SEAL at N=${N}, ${depth + 1} primes`);
    timings.push(
      await calibrate(seal, N, {
        depth,
        repetitions: quick ? 3 : 7,
        statistic: 'min',
        runtime: `Node ${process.versions.node}`,
      }),
    );
  }
  // Each network's encrypted run gets the first test images of its own data set.
  const inputsOf = (id: string) => imagesToFloat(takeSamples(dataOf(id).test, samples));
  // Every row of a network and shape stores its weights as the unpruned row does (resident or
  // streamed), so latency and memory compare like with like.
  const storage = new Map<string, 'resident' | 'streamed'>();
  const planned = selected.map((s) => {
    const label = tileShapeLabel(s.tile);
    const key = `${s.run.summary.id} ${label}`;
    const N = ringOf(s.run, s.tile);
    const predicted =
      N === undefined ? null : predict(s.point.network, s.tile, FULL_BATCH, timings, N);
    try {
      if (N === undefined) throw new HepexError('he-parameters', 'its depth fits no ring degree');
      const { storage: weights, ms } = planRun(
        s.point,
        s.tile,
        N,
        samples,
        timings,
        storage.get(key),
      );
      if (s.method === 'unpruned') storage.set(key, weights);
      return { s, label, key, N, predicted, weights, ms, reason: undefined };
    } catch (e) {
      return {
        s,
        label,
        key,
        N,
        predicted,
        weights: undefined,
        ms: null,
        reason: whyNotMeasured(e),
      };
    }
  });
  const chosen = scheduleHeRuns(
    planned.map((p) => ({
      network: p.s.run.summary.id,
      tile: p.label,
      method: p.s.method,
      ms: p.ms,
    })),
    heBudgetMs,
  );
  const heStarted = performance.now();
  const rows: PaperRow[] = [];
  for (const [i, p] of planned.entries()) {
    let measured: MeasuredHe | null = null;
    let notMeasured = p.reason;
    if (p.ms !== null && !chosen.has(i)) {
      notMeasured = `predicted ${(p.ms / 1000).toFixed(0)} s (${p.weights} weights): outside the HE time budget`;
    } else if (p.ms !== null && p.N !== undefined) {
      progress(
        `${p.key} ${p.s.method}: encrypted inference of ${samples} images (${p.weights} weights, predicted ${(p.ms / 1000).toFixed(1)} s)`,
      );
      try {
        measured = await measureInWorker(
          {
            network: p.s.point.network,
            permutation: p.s.point.permutation,
            tile: { t1: p.s.tile.t1, t2: p.s.tile.t2, first: p.s.tile.first },
            ringDegree: p.N,
            weights: p.weights!,
            inputs: inputsOf(p.s.run.summary.id),
            samples,
            timings,
          },
          // Keys and weight encoding come on top of the run; a heap past 4 GiB never answers.
          Math.max(120_000, 4 * p.ms),
        );
      } catch (e) {
        // One failed row must not cost the rest of a 30-minute run: its cell says why.
        notMeasured = whyNotMeasured(e);
        progress(`${p.key} ${p.s.method}: not measured: ${notMeasured}`);
      }
    }
    rows.push({
      network: p.s.run.summary.id,
      tile: p.label,
      method: p.s.method,
      setting: p.s.point.setting,
      ciphertexts: p.s.ciphertexts,
      saving: p.s.saving,
      metric: round(p.s.point.metric),
      predicted: p.predicted,
      measured,
      ...(notMeasured ? { notMeasured } : {}),
    });
  }
  const heSeconds = Math.round((performance.now() - heStarted) / 1000);

  const command = `npm run bench -- paper${quick ? ' --quick' : ''}${args.length ? ` ${args.join(' ')}` : ''}`;
  const m = machineInfo();
  const date = new Date().toISOString();
  const networks = runs.map((r) => r.summary);
  const markdown = renderMarkdown(
    {
      command,
      date: date.slice(0, 10),
      machine: `${m.cpus} x ${m.cpu}, Node ${m.node.replace(/^v/, '')}`,
      notes: [
        `Weight ct: weight ciphertexts (plaintexts, plain-model mode) the execution plan multiplies; each row is the method's point with the fewest within the network's limit (below).`,
        `Predicted: cost model for ${FULL_BATCH} images with SEAL timings calibrated in this run. Measured: real node-seal CKKS, ${samples} test images of the network's data set (one ciphertext batch), plain model, ${quick ? 'quick sweep' : 'full sweep'}.`,
        `Data: ${data.label}; Fashion-MNIST rows: ${fashion ? fashion.label : needsFashion ? `not run (${fashionMissing})` : 'not requested'}.`,
        `Measured rows of one network and shape keep their weights as the unpruned row does: resident (encoded once) or streamed (encoded per use; the peak then leaves the model out). The engine refuses runs it predicts above 2.5 GiB of SEAL memory (one WASM heap stops at 4 GiB); encrypted runs get ${heBudgetMs / 60_000} min of predicted time (weight encodes included): first the unpruned and HE-PEx rows at each network's reference shape (where its unpruned row is cheapest), then that shape's baselines, then the other rows, cheapest first.`,
        `Pruning sweeps ${pruneSeconds} s, encrypted inference ${heSeconds} s.`,
        ...(pool
          ? [
              `Pruning sweeps per worker count (each network a job in a worker thread): ${pool.passes.map((p) => `${p.workers}: ${p.seconds} s`).join(', ')}; ${pool.speedup}x; ${pool.identical ? 'identical points' : 'POINTS DIFFER between counts'}.`,
            ]
          : []),
      ],
    },
    networks,
    rows,
  );
  // The table file is the full run's (quoted in the README); a quick run's stays in its JSON.
  if (!quick) {
    await writeFile(new URL('./results/paper.md', import.meta.url), markdown);
    progress('table written to bench/results/paper.md');
  }

  return {
    command,
    data: data.label,
    fashionData: fashion
      ? fashion.label
      : needsFashion
        ? { missing: fashionMissing }
        : 'not requested',
    samples,
    fullBatch: FULL_BATCH,
    heBudgetMinutes: heBudgetMs / 60_000,
    theta: THETA,
    seconds: { pruning: pruneSeconds, encryptedInference: heSeconds },
    ...(pool ? { pool } : {}),
    timings,
    networks: runs.map((r) => ({
      ...r.summary,
      source: r.source,
      provenance: r.provenance,
      advisor: r.advisor,
      shapes: r.shapes?.map(tileShapeLabel),
      relativeMseLimit: r.relativeLimit
        ? {
            ...r.relativeLimit,
            // What bench prune's +10% limit would have chosen for HE-PEx, per shape.
            hepex: Object.fromEntries(
              (r.shapes ?? []).map((t) => {
                const l = tileShapeLabel(t);
                const unpruned = r.points!.find((p) => p.method === 'unpruned')!.ciphertexts[l];
                const best = bestWithin(
                  r
                    .points!.filter((p) => p.method === 'hepex' && p.ciphertexts[l] !== undefined)
                    .map((p) => ({ ...p, ciphertexts: p.ciphertexts[l] })),
                  r.relativeLimit!,
                );
                return [
                  l,
                  best
                    ? {
                        ciphertexts: best.ciphertexts,
                        saving: round(1 - best.ciphertexts / unpruned),
                        metric: round(best.metric),
                      }
                    : null,
                ];
              }),
            ),
          }
        : undefined,
      tileSearch: r.tileSearch,
      points: r.points?.map((p) => ({
        method: p.method,
        setting: p.setting,
        metric: round(p.metric),
        ciphertexts: p.ciphertexts,
      })),
    })),
    /** HE-PEx's saving over the tile-pruning row, per network and shape (null: a row is missing). */
    hepexVsTile: Object.fromEntries(
      runs.map((r) => [
        r.summary.id,
        Object.fromEntries(
          (r.shapes ?? []).map((t) => {
            const l = tileShapeLabel(t);
            const v = hepexVsTile(rows.filter((x) => x.network === r.summary.id && x.tile === l));
            return [l, v === null ? null : round(v)];
          }),
        ),
      ]),
    ),
    rows,
    markdown,
  };
}
