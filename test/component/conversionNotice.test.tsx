import { readFileSync } from 'node:fs';
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { ConversionNotice } from '../../src/components/ConversionNotice';
import { ErrorBanner } from '../../src/components/ErrorBanner';
import { JobStatus } from '../../src/components/JobStatus';
import type { HepexModel, SourceModel } from '../../src/core/io/model';
import { HepexError } from '../../src/core/model/errors';
import { createModelLoader } from '../../src/services/modelLoader';
import type { PipelineService } from '../../src/services/pipelineClient';
import type { ConvertProgress, ConvertReport } from '../../src/services/trainClient';
import { createAppStore, type TrainService } from '../../src/store/appStore';
import { StoreProvider } from '../../src/store/storeContext';
import { memoryLoader, seededModel } from '../fixtures/studio';

afterEach(cleanup);

const noPipeline = (): PipelineService => {
  throw new Error('no worker in this test');
};

/** A TF.js model.json + weights.bin as tfjs writes them: dense 8 -> 4 (ReLU) -> 10. */
function reluFiles(): File[] {
  const dense = (name: string, units: number, activation: string, input?: number) => ({
    class_name: 'Dense',
    config: {
      name,
      units,
      activation,
      use_bias: true,
      ...(input ? { batch_input_shape: [null, input] } : {}),
    },
  });
  const json = {
    format: 'layers-model',
    modelTopology: {
      class_name: 'Sequential',
      config: {
        name: 'relu',
        layers: [dense('dense_1', 4, 'relu', 8), dense('dense_2', 10, 'linear')],
      },
    },
    weightsManifest: [
      {
        paths: ['./weights.bin'],
        weights: [
          { name: 'dense_1/kernel', shape: [8, 4], dtype: 'float32' },
          { name: 'dense_1/bias', shape: [4], dtype: 'float32' },
          { name: 'dense_2/kernel', shape: [4, 10], dtype: 'float32' },
          { name: 'dense_2/bias', shape: [10], dtype: 'float32' },
        ],
      },
    ],
  };
  const weights = Float32Array.from(
    { length: 8 * 4 + 4 + 4 * 10 + 10 },
    (_, k) => (k % 7) / 10 - 0.3,
  );
  return [
    new File([JSON.stringify(json)], 'model.json', { type: 'application/json' }),
    new File([new Uint8Array(weights.buffer)], 'weights.bin'),
  ];
}

interface ConvertCall {
  readonly source: SourceModel;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: ConvertProgress) => void;
  resolve(value: { model: HepexModel; report: ConvertReport }): void;
  reject(error: unknown): void;
}

/** A trainer whose convert jobs the test finishes by hand. */
function fakeTrainer(): TrainService & { calls: ConvertCall[] } {
  const calls: ConvertCall[] = [];
  return {
    calls,
    train: () => Promise.reject(new Error('not used')),
    convert: (source, _request, options = {}) =>
      new Promise((resolve, reject) => {
        calls.push({
          source,
          signal: options.signal,
          onProgress: options.onProgress,
          resolve,
          reject,
        });
        options.signal?.addEventListener('abort', () =>
          reject(new HepexError('cancelled', 'The job was cancelled.')),
        );
      }),
  };
}

async function openReluModel(files: File[] = reluFiles()) {
  const trainer = fakeTrainer();
  const base = memoryLoader({ ae: { dense: seededModel([64, 48, 16, 48, 64], 3), twin: null } });
  const store = createAppStore({
    loader: { ...base, loadFiles: createModelLoader().loadFiles },
    pipeline: noPipeline,
    trainer: () => trainer,
    schedule: (run) => run(),
  });
  render(
    <StoreProvider store={store}>
      <ErrorBanner />
      <ConversionNotice />
      <JobStatus />
    </StoreProvider>,
  );
  await act(() => store.getState().loadPreset('ae'));
  const shown = store.getState().shown;
  await act(() => store.getState().loadFiles(files));
  return { store, trainer, shown };
}

describe('ConversionNotice', () => {
  it('offers the conversion of a ReLU model instead of only an error, and keeps the model shown', async () => {
    const { store, shown } = await openReluModel();
    const notice = screen.getByTestId('conversion-notice');
    expect(notice.textContent).toMatch(/This model uses ReLU, which CKKS cannot evaluate/);
    expect(screen.queryByRole('alert')).toBeNull();
    expect(store.getState().shown).toBe(shown);
    expect(store.getState().conversion?.source.network.layers[0].activation).toEqual({
      type: 'relu',
    });
    act(() => {
      fireEvent.click(screen.getByRole('button', { name: /dismiss the conversion/i }));
    });
    expect(screen.queryByTestId('conversion-notice')).toBeNull();
  });

  it('runs the conversion in the train worker with progress, then loads the converted model', async () => {
    const { store, trainer, shown } = await openReluModel();
    act(() => {
      fireEvent.click(screen.getByRole('button', { name: 'Convert to polynomial activations' }));
    });
    expect(trainer.calls).toHaveLength(1);
    expect(trainer.calls[0].source.network.layers.map((l) => l.activation.type)).toEqual([
      'relu',
      'linear',
    ]);
    expect(screen.getByTestId('busy').textContent).toMatch(/Converting ReLU/);
    act(() =>
      trainer.calls[0].onProgress?.({
        stage: 'fine-tune',
        progress: { epoch: 2, epochs: 6, loss: 0.1, metric: { name: 'accuracy', value: 0.9 } },
      }),
    );
    expect(screen.getByTestId('busy').textContent).toMatch(/fine-tune epoch 2 of 6/);
    // Nothing changes until the conversion succeeds.
    expect(store.getState().shown).toBe(shown);
    const converted = seededModel([8, 4, 10], 5, 'relu (converted)');
    await act(async () =>
      trainer.calls[0].resolve({
        model: converted,
        report: {
          task: 'classification',
          metric: 'accuracy',
          original: 0.9695,
          fitted: 0.934,
          fineTuned: 0.967,
          layers: [],
          epochs: 6,
          fitSamples: 2000,
          seconds: 18,
          history: [],
        },
      }),
    );
    expect(store.getState().dense).toBe(converted);
    expect(screen.queryByTestId('busy')).toBeNull();
    expect(screen.getByTestId('conversion-report').textContent).toMatch(
      /original 96\.95%, after the fit 93\.40%, after 6 fine-tune epochs 96\.70%/,
    );
  });

  it('Cancel stops the job, keeps the model shown and the offer standing', async () => {
    const { store, trainer, shown } = await openReluModel();
    act(() => {
      fireEvent.click(screen.getByRole('button', { name: 'Convert to polynomial activations' }));
    });
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    });
    expect(trainer.calls[0].signal?.aborted).toBe(true);
    expect(store.getState().shown).toBe(shown);
    expect(store.getState().conversion?.status).toBe('offered');
    expect(screen.queryByRole('alert')).toBeNull();
    expect(screen.getByRole('button', { name: 'Convert to polynomial activations' })).toBeTruthy();
  });

  it('offers it for an .onnx file with sigmoid and tanh (PyTorch export) too', async () => {
    const bytes = readFileSync('test/fixtures/onnx/mlp_sigmoid_tanh.onnx');
    const { store } = await openReluModel([new File([bytes], 'mlp_sigmoid_tanh.onnx')]);
    expect(screen.getByTestId('conversion-notice').textContent).toMatch(
      /This model uses sigmoid and tanh, which CKKS cannot evaluate/,
    );
    expect(store.getState().conversion?.label).toBe('mlp_sigmoid_tanh.onnx');
  });
});
