import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { Controls } from '../../src/components/Controls';
import { ComparePanel } from '../../src/components/ComparePanel';
import { CountsDetails, CountsPanel } from '../../src/components/CountsPanel';
import { ErrorBanner } from '../../src/components/ErrorBanner';
import { HistoryPanel } from '../../src/components/HistoryPanel';
import { LayerStrip } from '../../src/components/LayerStrip';
import { ModelStatus } from '../../src/components/ModelStatus';
import { createModelLoader } from '../../src/services/modelLoader';
import type { PipelineService } from '../../src/services/pipelineClient';
import { createAppStore } from '../../src/store/appStore';
import { StoreProvider } from '../../src/store/storeContext';
import { memoryLoader, seededModel } from '../fixtures/studio';

afterEach(cleanup);

const noPipeline = (): PipelineService => {
  throw new Error('no worker in this test');
};

function renderStudio(
  store = createAppStore({
    loader: memoryLoader({ ae: { dense: seededModel([64, 48, 16, 48, 64], 3), twin: null } }),
    pipeline: noPipeline,
    schedule: (run) => run(),
  }),
) {
  render(
    <StoreProvider store={store}>
      <ErrorBanner />
      <Controls />
      <ModelStatus />
      <CountsPanel />
      <LayerStrip />
      <CountsDetails />
      <HistoryPanel />
      <ComparePanel />
    </StoreProvider>,
  );
  return store;
}

const count = (testId: string) =>
  Number((screen.getByTestId(testId).textContent ?? '').replace(/[^0-9]/g, ''));

describe('studio components', () => {
  it('shows a loading state, then counts and one card per layer', async () => {
    const store = renderStudio();
    store.getState().setTileShape(4, 8, 8192);
    let loading!: Promise<void>;
    act(() => {
      loading = store.getState().loadPreset('ae');
    });
    expect(screen.getByTestId('model-loading')).toBeTruthy();
    await act(() => loading);
    expect(screen.queryByTestId('model-loading')).toBeNull();
    expect(count('ciphertexts-before')).toBe(store.getState().analysis!.plan.weightTiles);
    expect(screen.getAllByRole('tab')).toHaveLength(4);
    // The per-layer breakdown adds up to the headline count (tiles multiplied = ciphertexts).
    const rows = screen.getByTestId('layer-table').querySelectorAll('tbody tr');
    expect(rows).toHaveLength(4);
    const multiplied = Array.from(rows).reduce(
      (sum, r) => sum + Number(r.querySelectorAll('td')[5].textContent!.replace(/,/g, '')),
      0,
    );
    expect(multiplied).toBe(count('ciphertexts-after'));
    // So do the layer cards: one definition of a weight ciphertext everywhere.
    const cards = [0, 1, 2, 3].reduce(
      (sum, l) =>
        sum +
        Number(
          /^([\d,]+)/
            .exec(screen.getByTestId(`layer-ciphertexts-${l}`).textContent!)![1]
            .replace(/,/g, ''),
        ),
      0,
    );
    expect(cards).toBe(count('ciphertexts-after'));
    expect(screen.getByTestId('history-table').querySelectorAll('tbody tr')).toHaveLength(2);
    // Before / after: tick both runs, the comparison shows the selected layer of each.
    expect(screen.queryByTestId('compare-panel')).toBeNull();
    act(() => {
      fireEvent.click(screen.getByRole('checkbox', { name: 'Compare run 1' }));
      fireEvent.click(screen.getByRole('checkbox', { name: 'Compare run 2' }));
    });
    const panel = screen.getByTestId('compare-panel');
    expect(panel.querySelectorAll('canvas')).toHaveLength(2);
    expect(panel.textContent).toMatch(/#1 trained/);
    expect(panel.textContent).toMatch(/#2 HE-PEx 90%/);
  });

  it('moving the sparsity slider (keyboard-operable, labelled) changes the ciphertext count', async () => {
    const store = renderStudio();
    store.getState().setTileShape(4, 8, 8192);
    await act(() => store.getState().loadPreset('ae'));
    const slider = screen.getByRole('slider', { name: /weight sparsity/i }) as HTMLInputElement;
    expect(slider.type).toBe('range');
    act(() => {
      fireEvent.change(slider, { target: { value: '0.5' } });
    });
    const at50 = count('ciphertexts-after');
    act(() => {
      fireEvent.change(slider, { target: { value: '0.97' } });
    });
    const at97 = count('ciphertexts-after');
    expect(screen.getByTestId('sparsity-value').textContent).toBe('97%');
    expect(at97).toBeLessThan(at50);
    expect(store.getState().sparsity).toBe(0.97);
  });

  it('the group-lasso choice is a labelled select that sets the store and explains itself', async () => {
    const store = renderStudio();
    await act(() => store.getState().loadPreset('ae'));
    const select = screen.getByRole('combobox', {
      name: /group lasso first/i,
    }) as HTMLSelectElement;
    expect(select.value).toBe('off');
    act(() => {
      fireEvent.change(select, { target: { value: 'strong' } });
    });
    expect(store.getState().structure).toBe('strong');
    expect(screen.getByText(/removes whole neurons and pixels/)).toBeTruthy();
    expect(store.getState().toHash()).toMatch(/structure=strong/);
  });

  it('the distillation checkbox is for classifiers: disabled on the autoencoder, sets the store on the MLP', async () => {
    const store = renderStudio(
      createAppStore({
        loader: memoryLoader({
          ae: { dense: seededModel([64, 48, 16, 48, 64], 3), twin: null },
          mlp: { dense: seededModel([64, 16, 10], 4), twin: null },
        }),
        pipeline: noPipeline,
        schedule: (run) => run(),
      }),
    );
    await act(() => store.getState().loadPreset('ae'));
    const box = screen.getByRole('checkbox', {
      name: /distil the last retrain/i,
    }) as HTMLInputElement;
    expect(box.disabled).toBe(true);
    expect(screen.getByText(/needs a classifier/)).toBeTruthy();
    await act(() => store.getState().loadPreset('mlp'));
    expect(box.disabled).toBe(false);
    act(() => {
      fireEvent.click(box);
    });
    expect(store.getState().distill).toBe(true);
    expect(store.getState().toHash()).toMatch(/distill=1/);
  });

  it('the tile budget field sets the HE-PEx budget, clears to none, and is off for other methods', async () => {
    const store = renderStudio(
      createAppStore({
        loader: memoryLoader({ mlp: { dense: seededModel([64, 16, 10], 5), twin: null } }),
        pipeline: noPipeline,
        schedule: (run) => run(),
      }),
    );
    await act(() => store.getState().loadPreset('mlp'));
    const field = screen.getByRole('spinbutton', { name: /tile budget/i }) as HTMLInputElement;
    expect(field.value).toBe('');
    act(() => {
      fireEvent.change(field, { target: { value: '80' } });
    });
    expect(store.getState().tileBudget).toBe(80);
    expect(store.getState().toHash()).toMatch(/budget=80/);
    act(() => {
      fireEvent.change(field, { target: { value: '' } });
    });
    expect(store.getState().tileBudget).toBeNull();
    act(() => {
      store.getState().setMethod('tile');
    });
    expect(field.disabled).toBe(true);
    expect(screen.getByText(/tile budget is an HE-PEx step/)).toBeTruthy();
  });

  it('a malformed model file shows a plain error, keeps the model, and the controls keep working', async () => {
    const loader = createModelLoader();
    const base = memoryLoader({ ae: { dense: seededModel([64, 48, 16, 48, 64], 3), twin: null } });
    const store = createAppStore({
      loader: { ...base, loadFiles: loader.loadFiles },
      pipeline: noPipeline,
      schedule: (run) => run(),
    });
    renderStudio(store);
    store.getState().setTileShape(4, 8, 8192);
    await act(() => store.getState().loadPreset('ae'));
    const shown = store.getState().shown;
    const bad = new File(
      ['{"modelTopology": {"class_name": "Sequential", "config": [] }, "weightsManifest": "nope"'],
      'model.json',
      { type: 'application/json' },
    );
    const weights = new File([new Uint8Array(8)], 'weights.bin');
    await act(() => store.getState().loadFiles([bad, weights]));
    const banner = screen.getByRole('alert');
    expect(banner.textContent).toMatch(/model/i);
    expect(banner.textContent).toMatch(/JSON/);
    expect(store.getState().shown).toBe(shown);
    // Still usable: the slider still changes the count.
    const before = count('ciphertexts-after');
    act(() => {
      fireEvent.change(screen.getByRole('slider', { name: /weight sparsity/i }), {
        target: { value: '0.99' },
      });
    });
    expect(count('ciphertexts-after')).toBeLessThan(before);
    act(() => {
      fireEvent.click(screen.getByRole('button', { name: /dismiss/i }));
    });
    expect(screen.queryByRole('alert')).toBeNull();
  });
});
