import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { DataSetPicker } from '../../src/components/DataSetPicker';
import { checkDatasetFits, datasetFromIdx, splitDataset } from '../../src/core/io/dataset';
import { encodeIdx } from '../../src/core/io/idx';
import type { HepexModel } from '../../src/core/io/model';
import {
  createDataSetClient,
  MNIST_DATA_SET,
  type BuiltinDataSet,
  type DataSetService,
} from '../../src/services/dataSetClient';
import type { PipelineService } from '../../src/services/pipelineClient';
import type { TrainRequest } from '../../src/services/trainClient';
import { createAppStore, type TrainService } from '../../src/store/appStore';
import { MNIST_DATA_LABEL } from '../../src/store/modelSlice';
import { StoreProvider } from '../../src/store/storeContext';
import { memoryLoader, seededModel } from '../fixtures/studio';

afterEach(cleanup);

const FASHION: BuiltinDataSet = {
  id: 'fashion-mnist',
  name: 'Fashion-MNIST 10k',
  count: 100,
  images: 'data/fashion-mnist-images-idx3-ubyte.gz',
  labels: 'data/fashion-mnist-labels-idx1-ubyte.gz',
  source: 'test',
};

/** 100 images of 28 x 28 (labels 0..9 ten times) as IDX files named the way the service names them. */
function idxFiles(name: string): File[] {
  const images = encodeIdx(
    [100, 28, 28],
    new Uint8Array(100 * 784).map((_, k) => (k * 7) % 256),
  );
  const labels = encodeIdx(
    [100],
    new Uint8Array(100).map((_, k) => k % 10),
  );
  return [
    new File([images as Uint8Array<ArrayBuffer>], `${name}-images-idx3-ubyte.gz`),
    new File([labels as Uint8Array<ArrayBuffer>], `${name}-labels-idx1-ubyte.gz`),
  ];
}

/** A pipeline "worker" that parses the data it is given, as the real one does, and says its label. */
function dataPipeline(): PipelineService & { names: (string | null)[] } {
  const names: (string | null)[] = [];
  let label = MNIST_DATA_LABEL;
  return {
    names,
    permute: () => Promise.reject(new Error('not used')),
    pipeline: () => Promise.reject(new Error('not used')),
    evaluate: async () => ({ metric: { name: 'accuracy', value: 0.5 }, data: label }),
    testInputs: () => Promise.reject(new Error('not used')),
    async setData(data) {
      names.push(data?.name ?? null);
      if (!data) {
        label = MNIST_DATA_LABEL;
        return null;
      }
      const set = datasetFromIdx(data.images, data.labels, data.name);
      checkDatasetFits(set, data.inputs);
      label = splitDataset(set, { seed: 1 }).label;
      return { label, count: set.count };
    },
    dispose() {},
  };
}

function setup(available: readonly BuiltinDataSet[]) {
  const model = seededModel([784, 16, 10], 3, 'mlp-fixture');
  const pipeline = dataPipeline();
  const requests: TrainRequest[] = [];
  const trainer: TrainService = {
    async train(request) {
      requests.push(request);
      return model as HepexModel;
    },
  };
  const dataSets: DataSetService = {
    list: async () => [...available],
    files: async (d) => idxFiles(d.name),
  };
  const store = createAppStore({
    loader: memoryLoader({ mlp: { dense: model, twin: null } }),
    pipeline: () => pipeline,
    trainer: () => trainer,
    dataSets: () => dataSets,
  });
  return { store, pipeline, requests };
}

describe('DataSetPicker', () => {
  it('offers Fashion-MNIST when the build has it, and training, retraining and metrics then use it', async () => {
    const { store, pipeline, requests } = setup([MNIST_DATA_SET, FASHION]);
    await store.getState().loadPreset('mlp');
    render(
      <StoreProvider store={store}>
        <DataSetPicker />
      </StoreProvider>,
    );
    const select = (await screen.findByRole('option', { name: 'Fashion-MNIST 10k' }))
      .parentElement as HTMLSelectElement;
    expect([...select.options].map((o) => o.textContent)).toEqual([
      'MNIST 10k',
      'Fashion-MNIST 10k',
    ]);
    expect(select.value).toBe('mnist');

    await act(async () => {
      fireEvent.change(select, { target: { value: 'fashion-mnist' } });
      await new Promise((r) => setTimeout(r, 0));
    });
    await screen.findByDisplayValue('Fashion-MNIST 10k');
    const s = store.getState();
    expect(s.error).toBeNull();
    // Retraining and metrics: the pipeline worker got the data set, named for it.
    expect(pipeline.names).toEqual(['Fashion-MNIST 10k']);
    expect(s.dataLabel).toBe('Fashion-MNIST 10k, seed 1: 80 train / 20 test');
    // Training: the job carries its bytes.
    await s.trainModel(1);
    expect(requests.at(-1)?.data?.name).toBe('Fashion-MNIST 10k');
    expect(requests.at(-1)?.data?.images.length).toBe(16 + 100 * 784);

    // Back to MNIST: the worker drops the data, and training no longer sends any.
    await act(async () => {
      fireEvent.change(select, { target: { value: 'mnist' } });
      await new Promise((r) => setTimeout(r, 0));
    });
    expect(store.getState().dataLabel).toBe(MNIST_DATA_LABEL);
    expect(select.value).toBe('mnist');
    await store.getState().trainModel(1);
    expect(requests.at(-1)?.data).toBeUndefined();
  });

  it('lists MNIST only when the build has no Fashion-MNIST', async () => {
    const { store } = setup([MNIST_DATA_SET]);
    render(
      <StoreProvider store={store}>
        <DataSetPicker />
      </StoreProvider>,
    );
    const select = screen.getByTestId('data-set-select') as HTMLSelectElement;
    await act(async () => {
      await new Promise((r) => setTimeout(r, 0));
    });
    expect([...select.options].map((o) => o.value)).toEqual(['mnist']);
  });

  it('reads the manifest: Fashion-MNIST listed only when the manifest names it', async () => {
    const served = (manifest: unknown) =>
      createDataSetClient('/base/', async (url) =>
        String(url) === '/base/data/datasets.json' && manifest
          ? new Response(JSON.stringify(manifest))
          : new Response('missing', { status: 404 }),
      );
    const both = await served({
      version: 1,
      dataSets: [{ id: 'mnist' }, { id: 'fashion-mnist' }],
    }).list();
    expect(both.map((d) => d.id)).toEqual(['mnist', 'fashion-mnist']);
    expect(
      (await served({ version: 1, dataSets: [{ id: 'mnist' }] }).list()).map((d) => d.id),
    ).toEqual(['mnist']);
    // An older build without a manifest has MNIST only.
    expect((await served(null).list()).map((d) => d.id)).toEqual(['mnist']);
    await expect(served(null).files(both[1])).rejects.toThrow(/HTTP 404/);
  });
});
