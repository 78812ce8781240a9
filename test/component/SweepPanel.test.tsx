import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { SweepPanel } from '../../src/components/SweepPanel';
import { SweepFrontierPlot, sweepPlotY } from '../../src/components/SweepFrontierPlot';
import { HepexError } from '../../src/core/model/errors';
import { forward } from '../../src/core/model/network';
import type { Trainer } from '../../src/core/model/trainer';
import { maskNetwork } from '../../src/core/prune/common';
import { runPipeline } from '../../src/core/prune/pipeline';
import { collectResults, rowFromRecords, type SweepJobResult } from '../../src/core/sweep/results';
import { expandSweep, jobSteps, jobTileShape, parseSweepSpec } from '../../src/core/sweep/spec';
import type { SweepService } from '../../src/services/sweepClient';
import { createAppStore } from '../../src/store/appStore';
import { StoreProvider } from '../../src/store/storeContext';
import { selectSweepSpec } from '../../src/store/sweepSlice';
import { memoryLoader, seededModel } from '../fixtures/studio';

afterEach(cleanup);

const INPUTS = 64;

/**
 * The sweep service in-thread over the real core pipeline (the worker is the same few lines
 * over tfjs): fine-tuning holds the masks, the metric is a seeded classifier's agreement with
 * the unpruned network on fixed inputs, so rows differ by method and sparsity as real ones do.
 */
const probe = Float32Array.from({ length: 32 * INPUTS }, (_, k) => (Math.sin(k * 1.7) + 1) / 2);
function trainerFor(reference: ReturnType<typeof seededModel>['network']): Trainer {
  const argmax = (out: Float32Array, s: number, n: number) => {
    let best = 0;
    for (let j = 1; j < n; j++) if (out[s * n + j] > out[s * n + best]) best = j;
    return best;
  };
  const want = forward(reference, probe, 32);
  return {
    async fineTune(network, masks) {
      return maskNetwork(network, masks);
    },
    async evaluate(network) {
      const out = forward(network, probe, 32);
      let agree = 0;
      for (let s = 0; s < 32; s++) agree += argmax(out, s, 10) === argmax(want, s, 10) ? 1 : 0;
      return { name: 'accuracy', value: agree / 32 };
    },
  };
}

const inThreadSweep = (): SweepService & { runs: number } => ({
  runs: 0,
  async run(jobs, model, options) {
    this.runs++;
    const done = new Map<string, SweepJobResult>();
    for (const job of jobs) {
      if (options?.signal?.aborted) throw new HepexError('cancelled', 'The sweep was cancelled.');
      const result = await runPipeline(
        { network: model.network, masks: model.masks },
        trainerFor(model.network),
        { tile: jobTileShape(job.config), steps: jobSteps(job.config) },
      );
      const r = { row: rowFromRecords(job, result.records, false), elapsedMs: 1 };
      done.set(job.id, r);
      options?.onResult?.(job, r);
    }
    return done;
  },
  dispose() {},
});

async function setup(sweep: SweepService = inThreadSweep()) {
  const store = createAppStore({
    loader: memoryLoader({ mlp: { dense: seededModel([INPUTS, 32, 10], 3, 'mlp'), twin: null } }),
    pipeline: () => {
      throw new Error('not used');
    },
    sweep: () => sweep,
    schedule: (run) => run(),
  });
  store.getState().setTileShape(4, 8, 8192, 'B');
  await act(() => store.getState().loadPreset('mlp'));
  render(
    <StoreProvider store={store}>
      <SweepPanel />
    </StoreProvider>,
  );
  return store;
}

describe('Sweep panel', () => {
  it('exports the spec the CLI reads and imports one back, refusing a bad one in words', async () => {
    const store = await setup();
    const exported = store.getState().exportSweepSpec();
    // The default: the preset's path, 2 methods x 3 sparsities, the tile shape in use.
    const { spec, jobs } = parseSweepSpec(exported);
    expect(spec).toMatchObject({
      model: 'public/models/mlp',
      methods: ['magnitude', 'hepex'],
      grid: { sparsity: [0.5, 0.8, 0.9], tile: ['4x8'] },
    });
    expect(jobs).toHaveLength(6);

    const other = {
      ...spec,
      methods: ['tile', 'hepex'],
      grid: { sparsity: { tile: [0.25, 0.5], hepex: [0.9] } },
      seeds: [1, 2],
    };
    const file = new File([JSON.stringify(other)], 'spec.json', { type: 'application/json' });
    fireEvent.change(screen.getByTestId('sweep-import'), { target: { files: [file] } });
    await waitFor(() =>
      expect(selectSweepSpec(store.getState()).methods).toEqual(['tile', 'hepex']),
    );
    expect((screen.getByLabelText('tile pruning') as HTMLInputElement).checked).toBe(true);
    expect((screen.getByLabelText('magnitude') as HTMLInputElement).checked).toBe(false);
    expect(screen.getByText('Sparsities per method, from the imported spec.')).toBeTruthy();
    // Export then import is the identity, and the jobs keep their ids.
    const again = store.getState().exportSweepSpec();
    expect(parseSweepSpec(again).jobs.map((j) => j.id)).toEqual(
      expandSweep(other).jobs.map((j) => j.id),
    );

    const bad = new File(['{"version": 1, "model": "m", "methods": ["pca"]}'], 'bad.json');
    fireEvent.change(screen.getByTestId('sweep-import'), { target: { files: [bad] } });
    await waitFor(() =>
      expect(screen.getByRole('alert').textContent).toMatch(/unknown method "pca"/),
    );
    expect(store.getState().exportSweepSpec()).toBe(again);
  });

  it('edits the grid through the fields, committing on Enter', async () => {
    const store = await setup();
    const seeds = screen.getByLabelText('Seeds');
    fireEvent.change(seeds, { target: { value: '1, 2, 3' } });
    fireEvent.keyDown(seeds, { key: 'Enter' });
    expect(selectSweepSpec(store.getState()).seeds).toEqual([1, 2, 3]);
    const sparsities = screen.getByLabelText('Sparsities');
    fireEvent.change(sparsities, { target: { value: '0.5, 1.5' } });
    fireEvent.blur(sparsities);
    expect(screen.getByRole('alert').textContent).toMatch(/sparsity 1.5 is outside \(0, 1\)/);
    expect(selectSweepSpec(store.getState()).grid.sparsity).toEqual([0.5, 0.8, 0.9]);
  });

  it('runs the sweep and plots one point per job, the frontier through the non-dominated', async () => {
    const store = await setup();
    fireEvent.click(screen.getByRole('button', { name: 'Run sweep' }));
    await waitFor(() => expect(store.getState().sweepStatus).toBe('done'));
    const results = store.getState().sweepResults!;
    const { jobs } = expandSweep(selectSweepSpec(store.getState()));
    expect(results.points.map((p) => p.id)).toEqual(jobs.map((j) => j.id));

    const circles = [...screen.getByTestId('sweep-plot').querySelectorAll('circle')];
    expect(circles.map((c) => c.getAttribute('data-id'))).toEqual(jobs.map((j) => j.id));
    // x grows with ciphertexts, y with the metric lost (SVG y points down).
    const cx = circles.map((c) => Number(c.getAttribute('cx')));
    const cy = circles.map((c) => Number(c.getAttribute('cy')));
    for (let i = 0; i < circles.length; i++) {
      for (let j = 0; j < circles.length; j++) {
        const a = results.points[i];
        const b = results.points[j];
        if (a.ciphertexts < b.ciphertexts) expect(cx[i]).toBeLessThan(cx[j]);
        if (sweepPlotY(a) < sweepPlotY(b)) expect(cy[i]).toBeGreaterThan(cy[j]);
      }
    }
    const pareto = circles.filter((c) => c.getAttribute('data-pareto') === 'true');
    expect(pareto.length).toBe(results.points.filter((p) => p.pareto).length);
    expect(pareto.length).toBeGreaterThan(0);
    expect(screen.getAllByRole('row')).toHaveLength(jobs.length + 1);
  });

  it('cancels a running sweep: no error, the finished jobs stay plotted', async () => {
    let release: () => void = () => undefined;
    const slow: SweepService = {
      async run(jobs, _model, options) {
        const first = jobs[0];
        const row = {
          id: first.id,
          method: first.config.method,
          sparsity: first.config.sparsity,
          tile: first.config.tile,
          seed: first.config.seed,
          ciphertexts: 10,
          nonZeroTiles: 10,
          metricName: 'accuracy',
          metric: 0.5,
          loss: 0.4,
          baseline: { ciphertexts: 20, metric: 0.9 },
        };
        options?.onResult?.(first, { row, elapsedMs: 1 });
        await new Promise<void>((resolve) => {
          release = resolve;
          options?.signal?.addEventListener('abort', () => resolve());
        });
        throw new HepexError('cancelled', 'The sweep was cancelled.');
      },
      dispose() {},
    };
    const store = await setup(slow);
    fireEvent.click(screen.getByRole('button', { name: 'Run sweep' }));
    await waitFor(() => expect(store.getState().sweepStatus).toBe('running'));
    fireEvent.click(screen.getByRole('button', { name: 'Cancel sweep' }));
    await waitFor(() => expect(store.getState().sweepStatus).toBe('idle'));
    release();
    expect(store.getState().sweepError).toBeNull();
    expect(store.getState().sweepResults?.points).toHaveLength(1);
    expect(screen.getByTestId('sweep-plot').querySelectorAll('circle')).toHaveLength(1);
  });
});

describe('SweepFrontierPlot', () => {
  it('draws the frontier in ciphertext order through the pareto points only', () => {
    const { spec, jobs } = expandSweep({
      version: 1,
      model: 'm',
      methods: ['magnitude'],
      grid: { sparsity: [0.5, 0.8, 0.9] },
    });
    const rows = [
      [3000, 0.97],
      [2000, 0.9],
      [2500, 0.8],
    ].map(([ciphertexts, metric], i) => ({
      row: {
        id: jobs[i].id,
        method: 'magnitude' as const,
        sparsity: jobs[i].config.sparsity,
        tile: '4x8',
        seed: 1,
        ciphertexts,
        nonZeroTiles: ciphertexts,
        metricName: 'accuracy',
        metric,
        loss: 0.98 - metric,
        baseline: { ciphertexts: 3200, metric: 0.98 },
      },
      elapsedMs: 1,
    }));
    const results = collectResults(spec, jobs, new Map(rows.map((r) => [r.row.id, r])));
    render(<SweepFrontierPlot points={results.points} />);
    expect(results.points.map((p) => p.pareto)).toEqual([true, true, false]);
    const path = screen.getByTestId('sweep-frontier').getAttribute('d')!;
    // Two segments' ends: the 2000-ciphertext point first, then the 3000 one.
    const xs = [...path.matchAll(/[ML]([\d.]+),/g)].map((m) => Number(m[1]));
    expect(xs).toHaveLength(2);
    expect(xs[0]).toBeLessThan(xs[1]);
  });
});
