import { describe, expect, it } from 'vitest';
import { countTileNonZeros, planTiles } from '../../src/core/tiling/tilePlan';
import { magnitudePrune } from '../../src/core/prune/magnitudePrune';

/** A network with its smallest weights zeroed (a stand-in for a shipped twin's weights). */
const magnitudePruneNetwork = (network: Network, sparsity: number): Network =>
  maskNetwork(network, magnitudePrune(network, { sparsity }));
import { permuteAndCheck, forwardOnRawInputs } from '../../src/core/prune/permuteNetwork';
import { unfoldClientPermutation } from '../../src/core/prune/clientPermutation';
import { forward, layerSizes, type Network } from '../../src/core/model/network';
import { maskNetwork, masksOfNonZeros } from '../../src/core/prune/common';
import { runPipeline } from '../../src/core/prune/pipeline';
import type { Trainer } from '../../src/core/model/trainer';
import { checkDatasetFits, datasetFromIdx, splitDataset } from '../../src/core/io/dataset';
import { createTileShape } from '../../src/core/tiling/tileShape';
import { HepexError } from '../../src/core/model/errors';
import type { PipelineService } from '../../src/services/pipelineClient';
import { createAppStore } from '../../src/store/appStore';
import { selectCounts } from '../../src/store/selectors';
import { MAX_SNAPSHOTS } from '../../src/store/runsSlice';
import { outputMetric as decryptedMetric } from '../../src/core/model/outputMetric';
import { MNIST_DATA_LABEL } from '../../src/store/modelSlice';
import { formatHash, parseHash, type HashState } from '../../src/store/urlHash';
import { manualScheduler, memoryLoader, seededModel } from '../fixtures/studio';

const SIZES_IN = 64;
const SIZES = [SIZES_IN, 48, 16, 48, SIZES_IN];

/**
 * The pipeline service run in-thread over the real core functions (the worker is the same few
 * lines). Its trainer does zero epochs (fine-tuning = holding the masks) and evaluates the MSE of
 * the network on fixed seeded inputs through core's forward pass: the store's wiring is under
 * test here, not tfjs (the e2e run covers the worker with tfjs).
 */
const probe = Float32Array.from({ length: 8 * SIZES_IN }, (_, k) => Math.sin(k));
const zeroEpochTrainer: Trainer = {
  async fineTune(network, masks) {
    return maskNetwork(network, masks);
  },
  async evaluate(network) {
    const out = forward(network, probe, 8);
    let mse = 0;
    for (let k = 0; k < out.length; k++) mse += (out[k] - probe[k % probe.length]) ** 2;
    return { name: 'mse', value: mse / out.length };
  },
};

/** The data the in-thread "worker" evaluates on, as the worker reports it with each metric. */
const inThreadData = { label: MNIST_DATA_LABEL };

const inThreadPipeline: PipelineService = {
  async permute(job) {
    return permuteAndCheck(job, job.tile, probe, 8, { objective: job.objective });
  },
  async pipeline(job, options) {
    return runPipeline(
      { network: job.network, masks: job.masks, permutation: job.permutation, dense: job.dense },
      zeroEpochTrainer,
      {
        tile: job.tile,
        steps: job.steps,
        signal: options?.signal,
      },
    );
  },
  // As the worker does: the client permutation is put back, so the metric is on raw inputs.
  evaluate: async (network, permutation) => ({
    metric: await zeroEpochTrainer.evaluate(
      permutation
        ? unfoldClientPermutation(network, masksOfNonZeros(network), permutation).network
        : network,
    ),
    data: inThreadData.label,
  }),
  testInputs: async (count) => ({
    inputs: probe.slice(0, count * SIZES_IN),
    labels: new Uint8Array(count),
    samples: count,
  }),
  async setData(data) {
    if (!data) {
      inThreadData.label = MNIST_DATA_LABEL;
      return null;
    }
    const set = datasetFromIdx(data.images, data.labels, data.name);
    checkDatasetFits(set, data.inputs);
    const split = splitDataset(set, { seed: 1 });
    inThreadData.label = split.label;
    return { label: split.label, count: set.count };
  },
  dispose() {},
};

function setup(extra: Parameters<typeof memoryLoader>[1] = {}) {
  const scheduler = manualScheduler();
  const dense = seededModel(SIZES, 11, 'ae-fixture');
  const other = seededModel([32, 16, 10], 12, 'mlp-fixture');
  const loader = memoryLoader(
    { ae: { dense, twin: null }, mlp: { dense: other, twin: null } },
    extra,
  );
  const store = createAppStore({
    loader,
    pipeline: () => inThreadPipeline,
    schedule: scheduler.schedule,
  });
  store.getState().setTileShape(4, 8, 8192);
  return { store, scheduler, dense, loader };
}

describe('app store', () => {
  it('loads a preset: dense model shown, counts of every tile, one run recorded', async () => {
    const { store, dense } = setup();
    expect(store.getState().status).toBe('idle');
    const loading = store.getState().loadPreset('ae');
    expect(store.getState().status).toBe('loading');
    await loading;
    const s = store.getState();
    expect(s.status).toBe('ready');
    // No shipped twin: the first screen previews the default HE-PEx parameters next to the dense count.
    expect(s.shown?.origin).toBe('preview');
    const plan = planTiles(SIZES, s.tile);
    const c = selectCounts(s)!;
    expect(c.before).toBe(plan.weightTiles);
    expect(c.after).toBeLessThan(plan.weightTiles);
    expect(s.runs.map((r) => r.method)).toEqual(['none', 'hepex']);
    expect(s.runs[0].ciphertexts).toBe(plan.weightTiles);
    s.showDense();
    expect(store.getState().shown?.origin).toBe('dense');
    expect(selectCounts(store.getState())!.after).toBe(plan.weightTiles);
    expect(store.getState().shown?.network.layers[0].weights.data).toEqual(
      dense.network.layers[0].weights.data,
    );
  });

  it('a preset with a shipped twin opens on the twin, in its tile shape and parameters', async () => {
    const scheduler = manualScheduler();
    const dense = seededModel(SIZES, 11, 'ae');
    const masks = magnitudePrune(dense.network, { sparsity: 0.8 });
    const twin = {
      ...dense,
      name: 'ae-hepex',
      masks,
      tile: createTileShape(8, 4, { ringDegree: 8192 }),
      provenance: { sparsity: 0.8, theta: 0.125 },
    };
    const store = createAppStore({
      loader: memoryLoader({ ae: { dense, twin } }),
      pipeline: () => inThreadPipeline,
      schedule: scheduler.schedule,
    });
    await store.getState().loadPreset('ae');
    const s = store.getState();
    expect(s.shown?.origin).toBe('twin');
    expect(s.tile.t1).toBe(8);
    expect(s.sparsity).toBe(0.8);
    expect(s.theta).toBe(0.125);
    expect(s.shown?.masks[0].data).toEqual(masks[0].data);
    expect(s.runs.map((r) => r.method)).toEqual(['none', 'hepex']);
  });

  it('slider moves are latest-wins: many moves, one preview, with the last value', async () => {
    const { store, scheduler } = setup();
    await store.getState().loadPreset('ae');
    store.getState().setMethod('magnitude');
    for (const s of [0.2, 0.5, 0.7, 0.9]) store.getState().setSparsity(s);
    expect(scheduler.flush()).toBe(1);
    const s = store.getState();
    expect(s.shown?.origin).toBe('preview');
    const expected = magnitudePrune(s.working!, { sparsity: 0.9, scope: s.scope });
    s.shown!.masks.forEach((m, l) => expect(m.data).toEqual(expected[l].data));
    expect(s.analysis!.sparsity).toBeCloseTo(0.9, 2);
    // Pruned weights are exactly zero in what the grids draw.
    s.shown!.network.layers.forEach((layer, l) => {
      for (let k = 0; k < layer.weights.data.length; k++)
        if (!s.shown!.masks[l].data[k]) expect(layer.weights.data[k]).toBe(0);
    });
  });

  it('moving the sparsity slider changes the ciphertext count; HE-PEx keeps whole tiles', async () => {
    const { store, scheduler } = setup();
    await store.getState().loadPreset('ae');
    store.getState().setMethod('hepex');
    store.getState().setTheta(0.0625);
    store.getState().setSparsity(0.5);
    scheduler.flush();
    const at50 = selectCounts(store.getState())!.after;
    store.getState().setSparsity(0.95);
    scheduler.flush();
    const s = store.getState();
    const at95 = selectCounts(s)!.after;
    expect(at95).toBeLessThan(at50);
    // Every tile is all-kept or all-pruned (expansion).
    s.analysis!.plan.layers.forEach((t, l) => {
      const counts = countTileNonZeros(s.shown!.masks[l], t);
      const full = t.blockOut * t.blockIn;
      counts.forEach((n, k) => {
        const o = Math.floor(k / t.inBlocks);
        const i = k % t.inBlocks;
        const area =
          Math.min(t.blockOut, t.outputs - o * t.blockOut) *
          Math.min(t.blockIn, t.inputs - i * t.blockIn);
        expect(n === 0 || n === area, `layer ${l} tile ${k}: ${n} of ${area} (${full})`).toBe(true);
      });
    });
  });

  it('replaces big matrices instead of mutating them', async () => {
    const { store, scheduler, dense } = setup();
    await store.getState().loadPreset('ae');
    const before = store.getState().shown!;
    const snapshot = Float32Array.from(before.network.layers[0].weights.data);
    const denseSnapshot = Float32Array.from(dense.network.layers[0].weights.data);
    store.getState().setSparsity(0.8);
    scheduler.flush();
    const after = store.getState().shown!;
    expect(after).not.toBe(before);
    expect(after.network.layers[0].weights.data).not.toBe(before.network.layers[0].weights.data);
    expect(before.network.layers[0].weights.data).toEqual(snapshot);
    expect(dense.network.layers[0].weights.data).toEqual(denseSnapshot);
  });

  it('a stale load never overwrites a newer one', async () => {
    const { store } = setup({ ae: 40, mlp: 0 });
    const slow = store.getState().loadPreset('ae');
    const fast = store.getState().loadPreset('mlp');
    await Promise.all([slow, fast]);
    expect(store.getState().preset).toBe('mlp');
    expect(store.getState().dense?.name).toBe('mlp-fixture');
  });

  it('a failed load keeps the previous model and says why in words', async () => {
    const { store } = setup();
    await store.getState().loadPreset('ae');
    const shown = store.getState().shown;
    await store.getState().loadPreset('dae');
    const s = store.getState();
    expect(s.shown).toBe(shown);
    expect(s.status).toBe('ready');
    expect(s.error).toMatch(/missing/);
  });

  it('a first load that fails shows the error state', async () => {
    const { store } = setup();
    await store.getState().loadPreset('dae');
    expect(store.getState().status).toBe('error');
    expect(store.getState().loadError).toMatch(/models\/dae/);
  });

  it('an impossible tile shape is refused and changes nothing', async () => {
    const { store } = setup();
    await store.getState().loadPreset('ae');
    const tile = store.getState().tile;
    store.getState().setTileShape(3, 8);
    expect(store.getState().tile).toBe(tile);
    expect(store.getState().error).toMatch(/powers of two/);
  });

  it('permutation in the pipeline service lowers the non-zero tiles of the preview', async () => {
    const { store, scheduler } = setup();
    await store.getState().loadPreset('ae');
    store.getState().setMethod('magnitude');
    store.getState().setSparsity(0.9);
    scheduler.flush();
    const unpermuted = selectCounts(store.getState())!.after;
    await store.getState().permute();
    const s = store.getState();
    expect(s.workingPermutation).not.toBeNull();
    expect(s.busy).toBeNull();
    expect(selectCounts(s)!.after).toBeLessThan(unpermuted);
    // Before and after the permutation are recorded and chosen for the side-by-side view.
    const [before, after] = s.compare.map((id) => s.runs.find((r) => r.id === id)!);
    expect(before.label).toMatch(/^before permutation/);
    expect(after.label).toMatch(/^permuted/);
    expect(after.ciphertexts).toBeLessThan(before.ciphertexts);
    // Same multiset of weights: a permutation moves weights, it does not change them.
    const sorted = (a: Float32Array) => Float32Array.from(a).sort();
    expect(sorted(s.working!.layers[1].weights.data)).toEqual(
      sorted(s.dense!.network.layers[1].weights.data),
    );
    expect(layerSizes(s.working!)).toEqual(SIZES);
  });

  it('the whole HE-PEx pipeline runs through the service: steps in the history, result shown, fewer ciphertexts', async () => {
    const { store } = setup();
    await store.getState().loadPreset('ae');
    store.getState().setSparsity(0.9);
    const runsBefore = store.getState().runs.length;
    const job = store.getState().runWholePipeline();
    expect(store.getState().busy?.label).toMatch(/pipeline/);
    await job;
    const s = store.getState();
    expect(s.busy).toBeNull();
    expect(s.error).toBeNull();
    expect(s.shown?.origin).toBe('step');
    const kinds = s.runs.slice(runsBefore).map((r) => r.label.split(' · ')[1] ?? 'final');
    expect(kinds).toEqual(['prune', 'retrain', 'permute', 'expand', 'final']);
    const final = s.runs.at(-1)!;
    expect(final.ciphertexts).toBe(selectCounts(s)!.after);
    expect(final.ciphertexts).toBeLessThan(final.denseCiphertexts);
    expect(final.metrics?.mse).toBeGreaterThan(0);
  });

  it('with group lasso on, the whole pipeline trains with the penalty first', async () => {
    const { store } = setup();
    await store.getState().loadPreset('ae');
    store.getState().setStructure('strong');
    const runsBefore = store.getState().runs.length;
    await store.getState().runWholePipeline();
    const s = store.getState();
    expect(s.error).toBeNull();
    const kinds = s.runs.slice(runsBefore).map((r) => r.label.split(' · ')[1] ?? 'final');
    expect(kinds).toEqual(['train', 'prune', 'retrain', 'permute', 'expand', 'final']);
    expect(s.runs.at(-1)!.label).toMatch(/group lasso strong/);
  });

  /**
   * A store over the 'ae' and 'mlp' fixtures (seeds `seed`, `seed` + 1) whose in-thread pipeline
   * service records the steps each whole-pipeline job carries.
   */
  const recordingJobs = (seed: number) => {
    const jobs: Parameters<PipelineService['pipeline']>[0][] = [];
    const store = createAppStore({
      loader: memoryLoader({
        ae: { dense: seededModel(SIZES, seed, 'ae-fixture'), twin: null },
        mlp: { dense: seededModel([SIZES_IN, 16, 10], seed + 1, 'mlp-fixture'), twin: null },
      }),
      pipeline: () => ({
        ...inThreadPipeline,
        pipeline: (job, options) => {
          jobs.push(job);
          return inThreadPipeline.pipeline(job, options);
        },
      }),
      schedule: manualScheduler().schedule,
    });
    return { store, jobs };
  };

  it("distillation applies to a classifier's whole pipeline and is left out for an autoencoder", async () => {
    const { store, jobs } = recordingJobs(11);
    store.getState().setDistill(true);
    const lastStep = () => jobs.at(-1)!.steps.at(-1)!;
    await store.getState().loadPreset('mlp');
    await store.getState().runWholePipeline();
    expect(store.getState().error).toBeNull();
    expect(lastStep()).toMatchObject({ kind: 'retrain', distill: true });
    expect(store.getState().runs.at(-1)!.label).toMatch(/distilled/);
    await store.getState().loadPreset('ae');
    await store.getState().runWholePipeline();
    expect(store.getState().error).toBeNull();
    expect(lastStep()).not.toHaveProperty('distill');
    expect(store.getState().runs.at(-1)!.label).not.toMatch(/distilled/);
  });

  it('a tile budget caps the HE-PEx whole pipeline; bad budgets fail and change nothing', async () => {
    const { store, jobs } = recordingJobs(13);
    await store.getState().loadPreset('ae');
    for (const bad of [0, -1, 2.5, Number.NaN, 2_000_000]) {
      store.getState().dismissError();
      store.getState().setTileBudget(bad);
      expect(store.getState().error).toMatch(/tile budget/);
      expect(store.getState().tileBudget).toBeNull();
    }
    store.getState().dismissError();
    store.getState().setTileBudget(10);
    expect(store.getState().tileBudget).toBe(10);
    await store.getState().runWholePipeline();
    const s = store.getState();
    expect(s.error).toBeNull();
    expect(jobs.at(-1)!.steps.find((step) => step.kind === 'expand')).toMatchObject({
      maxTiles: 10,
    });
    expect(s.runs.at(-1)!.label).toMatch(/≤ 10 tiles/);
    expect(s.analysis!.cost.total.weightCiphertexts).toBeLessThanOrEqual(10);
    // It binds: the permuted network, before the expansion, cost more.
    const permuted = s.runs.find((r) => r.label.endsWith('· permute'))!;
    expect(permuted.ciphertexts).toBeGreaterThan(10);
    // Tile pruning has no expansion: the budget is left out.
    store.getState().setMethod('tile');
    await store.getState().runWholePipeline();
    expect(jobs.at(-1)!.steps.some((step) => 'maxTiles' in step)).toBe(false);
    expect(store.getState().runs.at(-1)!.label).not.toMatch(/tiles$/);
  });

  it('recording a run evaluates it and fills in its metric', async () => {
    const { store, scheduler } = setup();
    await store.getState().loadPreset('ae');
    store.getState().setSparsity(0.5);
    scheduler.flush();
    store.getState().recordRun();
    const id = store.getState().runs.at(-1)!.id;
    expect(store.getState().runs.at(-1)!.metrics).toBeUndefined();
    await new Promise((r) => setTimeout(r, 0));
    const run = store.getState().runs.find((r) => r.id === id)!;
    expect(run.metrics?.mse).toBeCloseTo(
      (await zeroEpochTrainer.evaluate(store.getState().shown!.network)).value,
      6,
    );
  });

  it('permuting again composes with the first permutation: the function never changes', async () => {
    const { store, scheduler } = setup();
    await store.getState().loadPreset('ae');
    store.getState().setMethod('magnitude');
    store.getState().setSparsity(0.9);
    scheduler.flush();
    const dense = store.getState().dense!.network;
    const expected = forward(dense, probe, 8);
    for (let round = 1; round <= 3; round++) {
      await store.getState().permute();
      const s = store.getState();
      expect(s.error).toBeNull();
      // The worker's own check, and an independent one on the working network the previews prune.
      expect(s.lastPermutation!.maxOutputChange).toBeLessThan(1e-4);
      const raw = forwardOnRawInputs(s.working!, s.workingPermutation!, probe, 8);
      let worst = 0;
      for (let k = 0; k < raw.length; k++) worst = Math.max(worst, Math.abs(raw[k] - expected[k]));
      expect(worst, `round ${round}`).toBeLessThan(1e-4);
    }
    // Magnitude pruning is permutation-invariant: every permuted run scores what the first did.
    await new Promise((r) => setTimeout(r, 0));
    const runs = store.getState().runs.filter((r) => /permut/.test(r.label));
    const mses = runs.map((r) => r.metrics?.mse);
    expect(mses.length).toBeGreaterThanOrEqual(4);
    for (const mse of mses) expect(mse).toBeCloseTo(mses[0]!, 5);
  });

  it('loading another model stops the step still running for the old one', async () => {
    const scheduler = manualScheduler();
    let started = false;
    const hanging: PipelineService = {
      ...inThreadPipeline,
      permute: (_job, options) =>
        new Promise((_resolve, reject) => {
          started = true;
          options?.signal?.addEventListener('abort', () =>
            reject(new HepexError('cancelled', 'The job was cancelled.')),
          );
        }),
    };
    const loader = memoryLoader({
      ae: { dense: seededModel(SIZES, 11, 'ae'), twin: null },
      mlp: { dense: seededModel([32, 16, 10], 12, 'mlp'), twin: null },
    });
    const store = createAppStore({ loader, pipeline: () => hanging, schedule: scheduler.schedule });
    await store.getState().loadPreset('ae');
    const job = store.getState().permute();
    expect(started).toBe(true);
    expect(store.getState().busy).not.toBeNull();
    await store.getState().loadPreset('mlp');
    await job;
    const s = store.getState();
    expect(s.busy).toBeNull();
    expect(s.error).toBeNull();
    expect(s.dense?.name).toBe('mlp');
    expect(s.workingPermutation).toBeNull();
  });

  it('runs keep bounded snapshots for the side-by-side view; ids never repeat', async () => {
    const { store, scheduler } = setup();
    await store.getState().loadPreset('ae');
    for (let k = 0; k < MAX_SNAPSHOTS + 3; k++) {
      store.getState().setSparsity(0.5 + k / 100);
      scheduler.flush();
      store.getState().recordRun();
    }
    const s = store.getState();
    const ids = Object.keys(s.snapshots).map(Number);
    expect(ids).toHaveLength(MAX_SNAPSHOTS);
    expect(Math.max(...ids)).toBe(s.runs.at(-1)!.id);
    const [a, b, c] = ids.slice(-3);
    s.toggleCompare(a);
    store.getState().toggleCompare(b);
    store.getState().toggleCompare(c);
    expect(store.getState().compare).toEqual([b, c]);
    expect(store.getState().snapshots[c].shown.masks).not.toBe(
      store.getState().snapshots[b].shown.masks,
    );
    const last = s.runs.at(-1)!.id;
    store.getState().clearRuns();
    store.getState().recordRun();
    expect(store.getState().runs[0].id).toBeGreaterThan(last);
    expect(store.getState().compare).toEqual([]);
  });

  it('opened IDX data becomes the data label; a pair that does not fit the model is refused in words', async () => {
    const { store } = setup();
    await store.getState().loadPreset('ae');
    const before = store.getState().dataLabel;
    // 100 images of 8 x 8 = 64 pixels (the fixture's input size), labels 0..9 ten times.
    const idx = (dims: number[], body: Uint8Array) => {
      const head = new Uint8Array(4 + 4 * dims.length);
      head[2] = 0x08;
      head[3] = dims.length;
      const view = new DataView(head.buffer);
      dims.forEach((d, k) => view.setUint32(4 + 4 * k, d));
      return new Uint8Array([...head, ...body]);
    };
    const images = idx(
      [100, 8, 8],
      new Uint8Array(100 * 64).map((_, k) => k % 251),
    );
    const labels = idx(
      [100],
      new Uint8Array(100).map((_, k) => k % 10),
    );
    await store
      .getState()
      .loadData([
        new File([labels], 'digits-labels.idx1-ubyte'),
        new File([images], 'digits-images.idx3-ubyte'),
      ]);
    expect(store.getState().error).toBeNull();
    expect(store.getState().dataLabel).not.toBe(before);
    expect(store.getState().dataLabel).toMatch(/digits/);
    const wide = idx([100, 9, 9], new Uint8Array(100 * 81));
    const label = store.getState().dataLabel;
    await store
      .getState()
      .loadData([new File([wide], 'wide-images'), new File([labels], 'wide-labels')]);
    expect(store.getState().error).toMatch(/81-pixel images but the model takes 64 inputs/);
    expect(store.getState().dataLabel).toBe(label);
    await store.getState().loadData([new File([wide], 'only-one')]);
    expect(store.getState().error).toMatch(/two IDX files/);
  });

  it('judges decrypted outputs: accuracy against labels, MSE against the inputs', () => {
    const outputs = Float32Array.from([0.1, 0.9, 0.8, 0.2, 0.3, 0.4]); // 3 samples x 2 classes
    expect(
      decryptedMetric(
        outputs,
        new Float32Array(0),
        Uint8Array.from([1, 0, 0]),
        3,
        'classification',
      ),
    ).toEqual({ name: 'accuracy', value: 2 / 3 });
    const recon = decryptedMetric(
      Float32Array.from([1, 2]),
      Float32Array.from([0, 2]),
      new Uint8Array(1),
      1,
      'reconstruction',
    );
    expect(recon).toEqual({ name: 'mse', value: 0.5 });
  });

  it('URL hash round trip: format -> parse is the identity, and a store reproduces a view', async () => {
    const view: HashState = {
      preset: 'mlp',
      unlinked: null,
      show: 'preview',
      t1: 8,
      t2: 16,
      ring: 16384,
      first: 'A',
      method: 'tile',
      scope: 'local',
      score: 'max',
      sparsity: 0.75,
      theta: 0.125,
      structure: 'strong',
      distill: true,
      tileBudget: 80,
      permuted: false,
      layer: 1,
      view: 'density',
    };
    // Defaults a link leaves out (a preset model, no Permute) read back as absent.
    const { unlinked: _unlinked, permuted: _permuted, ...written } = view;
    expect(parseHash(formatHash(view))).toEqual({ state: written, problems: [] });
    expect(parseHash(formatHash({ ...view, ring: 'auto' })).state.ring).toBe('auto');
    // The default (off) is left out, so links made before the option still read the same.
    expect(formatHash({ ...view, structure: 'off' })).not.toMatch(/structure/);
    expect(formatHash({ ...view, distill: false })).not.toMatch(/distill/);
    expect(parseHash('#distill=0').state.distill).toBe(false);
    expect(formatHash({ ...view, tileBudget: null })).not.toMatch(/budget/);
    expect(parseHash('#budget=none').state.tileBudget).toBeNull();
    for (const bad of ['0', '2.5', '-3', '1e3', '99999999', 'lots']) {
      const parsed = parseHash(`#budget=${bad}`);
      expect(parsed.state).toEqual({});
      expect(parsed.problems).toHaveLength(1);
    }
    // A broken link is never silent: each part it ignores is named.
    const broken = parseHash('#sparsity=1.5&tile=3x8&method=evil&layer=-1&frobnicate=1');
    expect(broken.state).toEqual({});
    expect(broken.problems.map((p) => p.split('=')[0])).toEqual([
      'tile',
      'method',
      'sparsity',
      'layer',
      'frobnicate',
    ]);
    const { store, scheduler } = setup();
    store.getState().applyHash(formatHash(view));
    await store.getState().loadPreset(store.getState().preset);
    scheduler.flush();
    const s = store.getState();
    expect(s.toHash()).toBe(formatHash(view));
    expect(s.shown?.origin).toBe('preview');
    expect(s.dense?.name).toBe('mlp-fixture');
    expect(s.linkNotice).toBeNull();
  });

  it('a link reproduces the shipped twin, and says what it cannot reproduce', async () => {
    const scheduler = manualScheduler();
    const dense = seededModel(SIZES, 11, 'ae');
    const twinNetwork = magnitudePruneNetwork(dense.network, 0.95);
    const twin = { ...dense, network: twinNetwork, provenance: { sparsity: 0.95, theta: 0.125 } };
    const loader = memoryLoader({ ae: { dense, twin } });
    const make = () =>
      createAppStore({ loader, pipeline: () => inThreadPipeline, schedule: scheduler.schedule });
    const first = make();
    await first.getState().loadPreset('ae');
    expect(first.getState().shown?.origin).toBe('twin');
    const link = first.getState().toHash();
    expect(link).toMatch(/show=twin/);
    const before = selectCounts(first.getState())!;
    // Reopened: the same twin and counts, not a preview at the twin's parameters.
    const reopened = make();
    reopened.getState().applyHash(link);
    await reopened.getState().loadPreset(reopened.getState().preset);
    scheduler.flush();
    expect(reopened.getState().shown?.origin).toBe('twin');
    expect(selectCounts(reopened.getState())).toEqual(before);
    expect(reopened.getState().toHash()).toBe(link);
    expect(reopened.getState().linkNotice).toBeNull();

    // Files opened by hand: the link names them, and reopening says it cannot carry them.
    const fromFile = make();
    fromFile.getState().applyHash('#file=my-model.json&show=step&permuted=1&tile=3x8');
    await fromFile.getState().loadPreset(fromFile.getState().preset);
    scheduler.flush();
    const notes = fromFile.getState().linkNotice!.join(' ');
    expect(notes).toMatch(/model files opened by hand \(my-model\.json\)/);
    expect(notes).toMatch(/result of a worker step/);
    expect(notes).toMatch(/Permute neurons/);
    expect(notes).toMatch(/tile=3x8/);
    expect(fromFile.getState().shown?.origin).toBe('preview');
  });
});
