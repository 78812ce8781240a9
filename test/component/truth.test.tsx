import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { forward } from '../../src/core/model/network';
import { Controls } from '../../src/components/Controls';
import { CountsDetails, CountsPanel } from '../../src/components/CountsPanel';
import { ErrorBanner } from '../../src/components/ErrorBanner';
import { Guide, GuideButton } from '../../src/components/Guide';
import { HePanel } from '../../src/components/HePanel';
import { HistoryPanel } from '../../src/components/HistoryPanel';
import { LayerStrip } from '../../src/components/LayerStrip';
import type { PipelineService } from '../../src/services/pipelineClient';
import { createAppStore } from '../../src/store/appStore';
import type { KeyValueStorage } from '../../src/store/deps';
import { runsToCsv } from '../../src/store/runsSlice';
import { StoreProvider } from '../../src/store/storeContext';
import { memoryLoader, seededModel } from '../fixtures/studio';

afterEach(cleanup);

const SIZES = [64, 48, 16, 48, 64];

/** Figures of a step record; the store under test only copies them into the history. */
const stepFigures = {
  weightTiles: 1,
  nonZeroTiles: 1,
  weightCiphertexts: 1,
  lowerBound: 1,
  sparsity: 0,
  tileSparsity: 0,
  layers: [],
  elapsedMs: 0,
};

/** A pipeline "worker" in-thread: evaluates with core's forward pass and reports its data label. */
function fakePipeline(dataLabel = { current: 'MNIST 10k, seed 1: 8000 train / 2000 test' }) {
  const probe = Float32Array.from({ length: 4 * 64 }, (_, k) => Math.cos(k));
  const service: PipelineService = {
    permute: () => Promise.reject(new Error('not in this test')),
    pipeline: async (job) => ({
      network: job.network,
      masks: job.masks ?? [],
      permutation: job.permutation ?? { input: new Uint32Array(0), output: new Uint32Array(0) },
      records: [
        { ...stepFigures, index: -1, kind: 'start' },
        { ...stepFigures, index: 0, kind: 'retrain', metric: { name: 'mse', value: 0.5 } },
      ],
    }),
    evaluate: async (network) => {
      const out = forward(network, probe, 4);
      let mse = 0;
      for (let k = 0; k < out.length; k++) mse += (out[k] - probe[k]) ** 2;
      return { metric: { name: 'mse', value: mse / out.length }, data: dataLabel.current };
    },
    testInputs: async (count) => ({
      inputs: probe.slice(0, count * 64),
      labels: new Uint8Array(count),
      samples: count,
    }),
    setData: async (data) => {
      if (!data) return null;
      dataLabel.current = `${data.name} 100, seed 1: 80 train / 20 test`;
      return { label: dataLabel.current, count: 100 };
    },
    dispose() {},
  };
  return { service, dataLabel };
}

function memoryStorage(): KeyValueStorage & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return { map, get: (k) => map.get(k) ?? null, set: (k, v) => void map.set(k, v) };
}

function renderStudio(options: { storage?: KeyValueStorage } = {}) {
  const { service, dataLabel } = fakePipeline();
  const store = createAppStore({
    loader: memoryLoader({
      ae: { dense: seededModel(SIZES, 3), twin: null },
      mlp: {
        dense: { ...seededModel([64, 16, 10], 4), metrics: { accuracy: 0.9712 } },
        twin: null,
      },
    }),
    pipeline: () => service,
    schedule: (run) => run(),
    ...(options.storage ? { storage: options.storage } : {}),
  });
  render(
    <StoreProvider store={store}>
      <ErrorBanner />
      <GuideButton />
      <Guide />
      <Controls />
      <CountsPanel />
      <LayerStrip />
      <CountsDetails />
      <HePanel />
      <HistoryPanel />
    </StoreProvider>,
  );
  return { store, dataLabel };
}

const flush = () => act(() => new Promise((r) => setTimeout(r, 0)));

describe('the studio tells the truth', () => {
  it('history: one header cell per column, every column explained', async () => {
    const { store } = renderStudio();
    await act(() => store.getState().loadPreset('ae'));
    await flush();
    const table = screen.getByTestId('history-table');
    const headers = table.querySelectorAll('thead th');
    const firstRow = table.querySelectorAll('tbody tr')[0].querySelectorAll('td');
    expect(headers.length).toBe(firstRow.length);
    const names = Array.from(headers).map((h) => h.textContent);
    // "Metric" heads the metric cell, not the latency one.
    const metricColumn = names.indexOf('Metric');
    expect(firstRow[metricColumn].textContent).toMatch(/^mse /);
    expect(firstRow[names.indexOf('Predicted')].textContent).toMatch(/ s$|ms$/);
    for (const name of ['Data', 'Zero weights', 'Ciphertexts', 'Predicted', 'Measured', 'Metric'])
      expect(headers[names.indexOf(name)].getAttribute('title')).toBeTruthy();
  });

  it('zero weights mean one thing: the measured fraction, next to the slider’s target', async () => {
    const { store } = renderStudio();
    await act(() => store.getState().loadPreset('ae'));
    act(() => store.getState().setSparsity(0.9));
    const zeros = Number(screen.getByTestId('zero-weights').textContent!.replace('%', '')) / 100;
    expect(zeros).toBeCloseTo(store.getState().analysis!.sparsity, 2);
    // HE-PEx expands kept tiles: fewer zeros than the 90% asked for.
    expect(zeros).toBeLessThan(0.9);
    act(() => store.getState().recordRun());
    const run = store.getState().runs.at(-1)!;
    expect(run.target).toBe(0.9);
    expect(run.zeroWeights).toBeCloseTo(store.getState().analysis!.sparsity, 9);
    expect(screen.getByRole('slider', { name: /target weight sparsity/i })).toBeTruthy();
  });

  it('theta moves in whole weights: every key press changes how many a dropped tile may keep', async () => {
    const { store } = renderStudio();
    await act(() => store.getState().loadPreset('ae'));
    const slider = screen.getByTestId('theta-slider') as HTMLInputElement;
    const seen: string[] = [];
    for (let k = 0; k <= 16; k++) {
      act(() => {
        fireEvent.change(slider, { target: { value: String(k) } });
      });
      seen.push(screen.getByTestId('theta-value').textContent!);
      expect(store.getState().theta).toBeCloseTo(k / 32, 12);
    }
    expect(new Set(seen).size).toBe(17);
    expect(seen[2]).toBe('2 of 32 weights');
    expect(slider.max).toBe('16');
    // At 8x8 tiles the same slider counts in 64ths.
    act(() => store.getState().setTileShape(8, 8));
    expect(screen.getByTestId('theta-value').textContent).toMatch(/of 64 weights$/);
  });

  it('error banners clear when the problem is fixed', async () => {
    const { store } = renderStudio();
    await act(() => store.getState().loadPreset('ae'));
    act(() => store.getState().setTileBudget(0));
    expect(screen.getByRole('alert').textContent).toMatch(/tile budget/);
    act(() => store.getState().setTileBudget(50));
    expect(screen.queryByRole('alert')).toBeNull();
    act(() => store.getState().setTileShape(3, 8));
    expect(screen.getByRole('alert').textContent).toMatch(/powers of two/);
    act(() => store.getState().setTileShape(4, 8));
    expect(screen.queryByRole('alert')).toBeNull();
    // A banner from elsewhere is not cleared by an unrelated fix.
    act(() => store.getState().setTileBudget(-1));
    act(() => store.getState().setTileShape(4, 4));
    expect(screen.getByRole('alert').textContent).toMatch(/tile budget/);
  });

  it('Retrain then Record run makes one row; accuracy reads to 0.1 point', async () => {
    const { store } = renderStudio();
    await act(() => store.getState().loadPreset('mlp'));
    await flush();
    await act(() => store.getState().retrain());
    const rows = () => store.getState().runs.length;
    const after = rows();
    act(() => {
      fireEvent.click(screen.getByTestId('record-run'));
    });
    expect(rows()).toBe(after);
    const trained = within(screen.getByTestId('history-table')).getByText('acc 97.1%');
    expect(trained).toBeTruthy();
  });

  it('no internal file names in what the studio says', async () => {
    const { store } = renderStudio();
    await act(() => store.getState().loadPreset('ae'));
    expect(document.body.textContent).not.toMatch(/\.md\b|NODE-SEAL/);
    // Nor anywhere a component or the store could render from.
    const sources = (dir: string): string[] =>
      readdirSync(dir).flatMap((f) => {
        const p = join(dir, f);
        return statSync(p).isDirectory() ? sources(p) : [p];
      });
    for (const file of [...sources('src/components'), ...sources('src/store')]) {
      const strings = readFileSync(file, 'utf8').match(/(['`"])(?:(?!\1).)*\1/g) ?? [];
      for (const s of strings) expect(s, file).not.toMatch(/NODE-SEAL|HEPEX\.md|STYLE\.md/);
    }
  });

  it('runs record their data set; the plot compares runs on one data set and says so', async () => {
    const { store } = renderStudio();
    await act(() => store.getState().loadPreset('ae'));
    await flush();
    const images = new Uint8Array(16 + 100 * 64);
    images.set([0, 0, 8, 3, 0, 0, 0, 100, 0, 0, 0, 8, 0, 0, 0, 8]);
    const labels = new Uint8Array(8 + 100);
    labels.set([0, 0, 8, 1, 0, 0, 0, 100]);
    const file = (bytes: Uint8Array, name: string) =>
      ({ name, size: bytes.length, arrayBuffer: async () => bytes.buffer }) as unknown as File;
    await act(() =>
      store
        .getState()
        .loadData([
          file(images, 'noise-images-idx3-ubyte'),
          file(labels, 'noise-labels-idx1-ubyte'),
        ]),
    );
    await flush();
    const runs = store.getState().runs;
    expect(new Set(runs.map((r) => r.dataset))).toEqual(new Set(['MNIST', 'noise']));
    // A baseline on the new data, evaluated there.
    const baseline = runs.findLast((r) => r.dataset === 'noise' && r.method === 'none')!;
    expect(baseline.metrics?.mse).toBeGreaterThan(0);
    expect(screen.getByTestId('pareto-other-data').textContent).toMatch(
      /2 runs of this model on other data/,
    );
    expect(screen.getByTestId('pareto-plot').getAttribute('aria-label')).toMatch(/on noise/);
    const csv = runsToCsv(runs).split('\n');
    const dataColumn = csv[0].split(',').indexOf('dataset');
    expect(csv.slice(1, -1).map((l) => l.split(',')[dataColumn])).toContain('noise');
  });

  it('a metric measured on data opened after the run was recorded is not attached to it', async () => {
    const { service, dataLabel } = fakePipeline();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow: PipelineService = {
      ...service,
      evaluate: async (...args) => {
        await gate;
        return service.evaluate(...args);
      },
    };
    const store = createAppStore({
      loader: memoryLoader({
        ae: { dense: { ...seededModel(SIZES, 3), metrics: undefined }, twin: null },
      }),
      pipeline: () => slow,
      schedule: (run) => run(),
    });
    await store.getState().loadPreset('ae');
    const first = store.getState().runs[0];
    dataLabel.current = 'other data';
    release();
    await new Promise((r) => setTimeout(r, 0));
    expect(store.getState().runs.find((r) => r.id === first.id)!.metrics).toBeUndefined();
  });

  it('an insecure ring degree gets a warning as prominent as the latency, and the latency is struck', async () => {
    const { store } = renderStudio();
    await act(() => store.getState().loadPreset('ae'));
    expect(screen.queryByTestId('insecure-warning')).toBeNull();
    act(() => store.getState().setTileShape(4, 8, 8192));
    const warning = screen.getByTestId('insecure-warning');
    expect(warning.textContent).toMatch(/Not secure: N = 8192/);
    expect(warning.textContent).toMatch(/smallest secure ring degree is 16384/);
    expect(screen.getByTestId('latency-after').parentElement!.className).toMatch(/is-struck/);
    act(() => store.getState().setTileShape(4, 8, 'auto'));
    expect(screen.queryByTestId('insecure-warning')).toBeNull();
  });

  it('the first visit opens the guide; closing it is remembered; it reopens on demand', async () => {
    const storage = memoryStorage();
    const { store } = renderStudio({ storage });
    act(() => store.getState().restoreSettings());
    const guide = screen.getByTestId('guide');
    for (const term of ['Tile', 'Ciphertext', 'θ (theta)', 'Orientation A / B', 'Ring degree N'])
      expect(within(guide).getByText(term)).toBeTruthy();
    act(() => {
      fireEvent.keyDown(window, { key: 'Escape' });
    });
    expect(screen.queryByTestId('guide')).toBeNull();
    act(() => store.getState().restoreSettings());
    expect(screen.queryByTestId('guide')).toBeNull();
    act(() => {
      fireEvent.click(screen.getByTestId('guide-button'));
    });
    expect(screen.getByTestId('guide')).toBeTruthy();
  });

  it('every figure of the summary and the layer cards explains itself on hover', async () => {
    const { store } = renderStudio();
    await act(() => store.getState().loadPreset('ae'));
    const panel = screen.getByTestId('counts-panel');
    for (const dt of panel.querySelectorAll('dt'))
      expect(dt.parentElement!.getAttribute('title'), dt.textContent!).toBeTruthy();
    expect(panel.querySelector('.counts__hero')!.getAttribute('title')).toMatch(/Weight tiles/);
    for (let l = 0; l < 4; l++)
      expect(screen.getByTestId(`layer-count-${l}`).getAttribute('title')).toMatch(/ciphertexts/);
    for (const th of screen
      .getByTestId('layer-table')
      .querySelectorAll('thead th:not(:first-child)'))
      expect(th.getAttribute('title'), th.textContent!).toBeTruthy();
  });
});
