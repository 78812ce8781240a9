import { describe, expect, it } from 'vitest';
import type { Activation } from '../../src/core/model/activation';
import { HepexError } from '../../src/core/model/errors';
import { forward, type Network } from '../../src/core/model/network';
import { permuteRows, unpermuteRows } from '../../src/core/model/permutation';
import { foldClientPermutation } from '../../src/core/prune/clientPermutation';
import { GROUP_LASSO_EPOCHS, methodSteps } from '../../src/core/prune/methodSteps';
import { runPipeline, type PipelineProgress } from '../../src/core/prune/pipeline';
import { createTileShape } from '../../src/core/tiling/tileShape';
import { GradientTrainer, randomNetwork, sameAsSnapshot, snapshot } from '../fixtures/pruning';

const tile48 = createTileShape(4, 8);
const POLY: Activation = { type: 'poly', coefficients: [0, 0.5, 0.25] };
const withPoly = (net: Network): Network => ({
  ...net,
  layers: net.layers.map((l, i) => (i < net.layers.length - 1 ? { ...l, activation: POLY } : l)),
});
const sizes = [24, 16, 12, 24];

describe('methodSteps', () => {
  it('builds the demo order for each method', () => {
    const kinds = (m: 'magnitude' | 'tile' | 'hepex', trainEpochs = 0) =>
      methodSteps(m, { sparsity: 0.9, trainEpochs }).map((s) => s.kind);
    expect(kinds('hepex', 3)).toEqual([
      'train',
      'prune',
      'retrain',
      'permute',
      'expand',
      'retrain',
    ]);
    expect(kinds('magnitude')).toEqual(['prune', 'retrain']);
    expect(kinds('tile')).toEqual(['tile-prune', 'retrain']);
    expect(methodSteps('hepex', { sparsity: 0.9, retrainEpochs: 0 }).map((s) => s.kind)).toEqual([
      'prune',
      'permute',
      'expand',
    ]);
    expect(() => methodSteps('prune-all' as 'tile', { sparsity: 0.5 })).toThrow(HepexError);
  });

  it('prunes gradually on a cubic ramp when asked', () => {
    const steps = methodSteps('hepex', { sparsity: 0.96, pruneSteps: 4, retrainEpochs: 2 });
    expect(steps.map((s) => s.kind)).toEqual([
      ...Array(4).fill(['prune', 'retrain']).flat(),
      'permute',
      'expand',
      'retrain',
    ]);
    const ramp = steps
      .filter((s) => s.kind === 'prune')
      .map((s) => (s as { sparsity: number }).sparsity);
    expect(ramp).toEqual(
      [0.96 * (1 - 0.75 ** 3), 0.96 * (1 - 0.5 ** 3), 0.96 * (1 - 0.25 ** 3), 0.96].map(
        (v) => Math.round(v * 1e6) / 1e6,
      ),
    );
    const tile = methodSteps('tile', { sparsity: 0.5, pruneSteps: 2, retrainEpochs: 1 });
    expect(tile.map((s) => s.kind)).toEqual(['tile-prune', 'retrain', 'tile-prune', 'retrain']);
    expect(() => methodSteps('tile', { sparsity: 0.5, pruneSteps: 0 })).toThrow(HepexError);
  });
});

describe('methodSteps with group lasso', () => {
  it('trains with the penalty first and keeps it on the retrains between pruning rounds only', () => {
    const steps = methodSteps('hepex', {
      sparsity: 0.9,
      groupLasso: 3e-3,
      pruneSteps: 2,
      retrainEpochs: 2,
    });
    expect(steps.map((s) => [s.kind, 'groupLasso' in s ? s.groupLasso : undefined])).toEqual([
      ['train', 3e-3],
      ['prune', undefined],
      ['retrain', 3e-3],
      ['prune', undefined],
      ['retrain', undefined],
      ['permute', undefined],
      ['expand', undefined],
      ['retrain', undefined],
    ]);
    expect(steps[0]).toMatchObject({ kind: 'train', epochs: GROUP_LASSO_EPOCHS });
    expect(methodSteps('tile', { sparsity: 0.5, groupLasso: 1e-3, trainEpochs: 5 })[0]).toEqual({
      kind: 'train',
      epochs: 5,
      learningRate: undefined,
      groupLasso: 1e-3,
    });
    // Off by default: no training step, no penalty anywhere.
    expect(methodSteps('hepex', { sparsity: 0.9 }).some((s) => 'groupLasso' in s)).toBe(false);
  });
});

describe('methodSteps with a final retrain of its own', () => {
  it('gives only the last retrain the final epochs and the distillation', () => {
    const steps = methodSteps('hepex', {
      sparsity: 0.9,
      pruneSteps: 2,
      retrainEpochs: 2,
      finalRetrainEpochs: 7,
      distill: true,
    });
    const retrains = steps.filter((s) => s.kind === 'retrain');
    expect(retrains.map((s) => [s.epochs, s.distill])).toEqual([
      [2, undefined],
      [2, undefined],
      [7, true],
    ]);
    // For the tile baseline the last pruning round's retrain is the final one.
    const tile = methodSteps('tile', { sparsity: 0.5, pruneSteps: 2, finalRetrainEpochs: 5 });
    expect(tile.filter((s) => s.kind === 'retrain').map((s) => s.epochs)).toEqual([4, 5]);
    // Neither by default.
    expect(methodSteps('hepex', { sparsity: 0.9 }).some((s) => 'distill' in s)).toBe(false);
  });

  it('hands a tile budget to the expansion step only', () => {
    const steps = methodSteps('hepex', { sparsity: 0.9, theta: 0.1, maxTiles: 80 });
    expect(steps.find((s) => s.kind === 'expand')).toEqual({
      kind: 'expand',
      theta: 0.1,
      scope: 'global',
      maxTiles: 80,
    });
    expect(methodSteps('hepex', { sparsity: 0.9 }).some((s) => 'maxTiles' in s)).toBe(false);
  });
});

describe('runPipeline', () => {
  it('hepex: records every step, keeps the function through permute, holds masks, and figures add up', async () => {
    const teacher = withPoly(randomNetwork(sizes, 1, 'reconstruction'));
    const student = withPoly(randomNetwork(sizes, 2, 'reconstruction'));
    const snap = snapshot(student);
    const trainer = new GradientTrainer(teacher, 48);
    const steps = methodSteps('hepex', {
      sparsity: 0.8,
      theta: 0.1,
      retrainEpochs: 15,
      trainEpochs: 40,
      seed: 3,
    });
    const events: PipelineProgress[] = [];
    const res = await runPipeline({ network: student }, trainer, {
      tile: tile48,
      steps,
      onProgress: (e) => events.push(e),
    });
    const r = res.records;
    expect(r.map((x) => x.kind)).toEqual([
      'start',
      'train',
      'prune',
      'retrain',
      'permute',
      'expand',
      'retrain',
    ]);
    const mse = r.map((x) => x.metric!.value);
    expect(mse[1]).toBeLessThan(mse[0]); // dense training helps
    expect(mse[3]).toBeLessThan(mse[2]); // retraining recovers from pruning
    expect(Math.abs(mse[4] - mse[3])).toBeLessThan(1e-6 * Math.max(1, mse[3])); // permuting changes nothing
    expect(mse[6]).toBeLessThan(mse[5]);
    // Dense start: every tile is a ciphertext.
    expect(r[0].nonZeroTiles).toBe(r[0].weightTiles);
    expect(r[0].weightCiphertexts).toBe(r[0].weightTiles);
    expect(r[2].sparsity).toBeCloseTo(0.8, 2);
    expect(r[3].sparsity).toBeGreaterThanOrEqual(r[2].sparsity - 1e-9); // masks held
    expect(r[4].details!.nonZeroTilesAfter).toBe(r[4].nonZeroTiles);
    expect(r[5].nonZeroTiles).toBeLessThanOrEqual(r[4].nonZeroTiles);
    expect(r[5].sparsity).toBeLessThan(r[4].sparsity); // expansion brings weights back
    for (const rec of r) {
      expect(rec.weightCiphertexts).toBeLessThanOrEqual(rec.nonZeroTiles);
      expect(rec.nonZeroTiles).toBeGreaterThanOrEqual(rec.lowerBound);
      expect(rec.layers.reduce((s, l) => s + l.nonZeroTiles, 0)).toBe(rec.nonZeroTiles);
    }
    // The result with its client permutation computes what the last record measured.
    const x = trainer.inputs;
    const y = unpermuteRows(
      forward(res.network, permuteRows(x, res.permutation.input, 48), 48),
      res.permutation.output,
      48,
    );
    let sum = 0;
    for (let k = 0; k < y.length; k++) sum += (y[k] - trainer.targets[k]) ** 2;
    expect(sum / y.length).toBeCloseTo(mse[6], 6);
    // Pruned weights are exactly zero in the result.
    res.network.layers.forEach((l, i) =>
      l.weights.data.forEach((w, k) => (res.masks[i].data[k] ? null : expect(w).toBe(0))),
    );
    // The trainer saw dataset-order masks: the final retrain's masks, folded, equal the result's.
    expect(trainer.calls.map((c) => c.epochs)).toEqual([40, 15, 15]);
    const lastMasks = trainer.calls[2].masks;
    const folded = foldClientPermutation(res.network, lastMasks, res.permutation).masks;
    folded.forEach((m, l) => expect(m.data).toEqual(res.masks[l].data));
    expect(res.permutation.input.some((v, k) => v !== k)).toBe(true);
    // Progress: started/finished for the start and each step, in order, with retrain epochs in between.
    const marks = events.filter((e) => e.status !== 'progress').map((e) => `${e.kind}:${e.status}`);
    expect(marks[0]).toBe('start:started');
    expect(marks.at(-1)).toBe('retrain:finished');
    expect(marks.length).toBe(2 * (steps.length + 1));
    expect(events.some((e) => e.status === 'progress' && e.kind === 'retrain')).toBe(true);
    expect(sameAsSnapshot(student, snap)).toBe(true);
  });

  it('tile method reaches the tile sparsity and magnitude the weight sparsity', async () => {
    const teacher = withPoly(randomNetwork(sizes, 4, 'reconstruction'));
    const trainer = new GradientTrainer(teacher, 16);
    const tile = await runPipeline({ network: teacher }, trainer, {
      tile: tile48,
      steps: methodSteps('tile', { sparsity: 0.5, retrainEpochs: 1, score: 'max' }),
    });
    expect(tile.records[1].tileSparsity).toBeGreaterThanOrEqual(0.49);
    const gradual = await runPipeline({ network: teacher }, trainer, {
      tile: tile48,
      steps: methodSteps('tile', { sparsity: 0.6, pruneSteps: 3, retrainEpochs: 1 }),
    });
    const tileSparsities = gradual.records
      .filter((r) => r.kind === 'retrain')
      .map((r) => r.tileSparsity);
    expect(tileSparsities[0]).toBeLessThan(tileSparsities[1]);
    expect(tileSparsities[2]).toBeGreaterThanOrEqual(0.59);
    const mag = await runPipeline({ network: teacher }, trainer, {
      tile: tile48,
      steps: methodSteps('magnitude', { sparsity: 0.7, retrainEpochs: 0, scope: 'global' }),
      evaluate: false,
    });
    expect(mag.records[1].sparsity).toBeCloseTo(0.7, 2);
    expect(mag.records[1].metric).toBeUndefined();
  });

  it('continues from a model that already carries a client permutation', async () => {
    const teacher = withPoly(randomNetwork(sizes, 5, 'reconstruction'));
    const trainer = new GradientTrainer(teacher, 16);
    const steps = methodSteps('hepex', { sparsity: 0.7, retrainEpochs: 0 });
    const first = await runPipeline({ network: teacher }, trainer, { tile: tile48, steps });
    const second = await runPipeline(
      { network: first.network, masks: first.masks, permutation: first.permutation },
      trainer,
      {
        tile: tile48,
        steps: [{ kind: 'permute', seed: 9 }],
      },
    );
    const [m0, m1] = second.records.map((r) => r.metric!.value);
    expect(Math.abs(m1 - m0)).toBeLessThan(1e-6 * Math.max(1, m0));
    expect(first.records.at(-1)!.metric!.value).toBeCloseTo(m0, 9);
  });

  it('cancels mid-run with HepexError cancelled, leaving the input untouched', async () => {
    const teacher = withPoly(randomNetwork(sizes, 6, 'reconstruction'));
    const snap = snapshot(teacher);
    const trainer = new GradientTrainer(teacher, 16);
    const controller = new AbortController();
    const run = runPipeline({ network: teacher }, trainer, {
      tile: tile48,
      steps: methodSteps('hepex', { sparsity: 0.8, retrainEpochs: 5 }),
      signal: controller.signal,
      onProgress: (e) => {
        if (e.kind === 'retrain' && e.status === 'progress') controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'cancelled' });
    expect(sameAsSnapshot(teacher, snap)).toBe(true);
  });

  it('hands the group-lasso strength to the trainer on the dense training only (one round)', async () => {
    const teacher = withPoly(randomNetwork(sizes, 5, 'reconstruction'));
    const trainer = new GradientTrainer(teacher, 16);
    const steps = methodSteps('hepex', {
      sparsity: 0.8,
      groupLasso: 2e-3,
      trainEpochs: 1,
      retrainEpochs: 1,
    });
    await runPipeline({ network: teacher }, trainer, { tile: tile48, steps });
    expect(trainer.calls.map((c) => c.groupLasso)).toEqual([2e-3, undefined, undefined]);
    // The penalised training is dense: every weight free.
    expect(trainer.calls[0].masks.every((m) => m.data.every((v) => v === 1))).toBe(true);
  });

  it('keeps the weights within a tile budget, below what theta alone keeps', async () => {
    const teacher = withPoly(randomNetwork(sizes, 8, 'reconstruction'));
    const run = async (maxTiles?: number) => {
      const steps = methodSteps('hepex', { sparsity: 0.8, retrainEpochs: 0, theta: 0, maxTiles });
      const res = await runPipeline({ network: teacher }, new GradientTrainer(teacher, 8), {
        tile: tile48,
        steps,
      });
      return res.records[res.records.length - 1];
    };
    const free = await run();
    const budget = free.nonZeroTiles - 3;
    const capped = await run(budget);
    expect(capped.kind).toBe('expand');
    expect(capped.nonZeroTiles).toBe(budget);
    expect(capped.details?.keptTiles).toBe(budget);
    expect(capped.weightCiphertexts).toBeLessThanOrEqual(budget);
    // Every layer keeps its heaviest tile.
    for (const layer of capped.layers) expect(layer.nonZeroTiles).toBeGreaterThan(0);
  });

  it('distils from the network it was given, in the dataset order, on the distilling retrain only', async () => {
    const teacher = withPoly(randomNetwork(sizes, 6, 'reconstruction'));
    const trainer = new GradientTrainer(teacher, 16);
    const steps = methodSteps('hepex', { sparsity: 0.8, retrainEpochs: 1, distill: true });
    await runPipeline({ network: teacher }, trainer, { tile: tile48, steps });
    expect(trainer.calls.map((c) => c.teacher)).toEqual([undefined, teacher]);
  });

  it('rejects a bad configuration before doing any work', async () => {
    const net = withPoly(randomNetwork(sizes, 7, 'reconstruction'));
    const trainer = new GradientTrainer(net, 8);
    const bad = [
      { tile: tile48, steps: [{ kind: 'prune' as const, sparsity: 1 }] },
      { tile: tile48, steps: [{ kind: 'expand' as const, theta: 2 }] },
      { tile: tile48, steps: [{ kind: 'retrain' as const, epochs: -1 }] },
      { tile: tile48, steps: [{ kind: 'train' as const, epochs: 1, groupLasso: 2 }] },
      { tile: tile48, steps: [{ kind: 'retrain' as const, epochs: 1, groupLasso: -1e-3 }] },
      { tile: tile48, steps: [{ kind: 'train' as const, epochs: 1, groupLasso: NaN }] },
      { tile: tile48, steps: [{ kind: 'shrink' } as never] },
      { tile: tile48, steps: [{ kind: 'expand' as const, theta: 0, maxTiles: 0.5 }] },
      // Three layers need at least three tiles: caught before the training step runs.
      {
        tile: tile48,
        steps: [
          { kind: 'train' as const, epochs: 1 },
          { kind: 'expand' as const, theta: 0, maxTiles: 2 },
        ],
      },
      { tile: { ...tile48, t2: 3 }, steps: [] },
    ];
    for (const options of bad)
      await expect(runPipeline({ network: net }, trainer, options)).rejects.toBeInstanceOf(
        HepexError,
      );
    const wrongMasks = [{ rows: 2, cols: 2, data: new Uint8Array(4) }];
    await expect(
      runPipeline({ network: net, masks: wrongMasks }, trainer, { tile: tile48, steps: [] }),
    ).rejects.toMatchObject({
      code: 'invalid-mask',
    });
    expect(trainer.calls.length).toBe(0);
  });
});
