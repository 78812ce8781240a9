import { expose, transfer } from 'comlink';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { takeSamples, type DatasetSplit } from '../../src/core/io/dataset';
import type { SourceModel } from '../../src/core/io/model';
import { mnistSplit } from '../../src/core/io/mnist';
import { validateNetwork } from '../../src/core/model/network';
import { setupBackend } from '../../src/engines/tfjs/backend';
import { convertModel, type ConvertProgress } from '../../src/engines/tfjs/convertModel';
import { loadMnist } from '../../src/engines/tfjs/mnistNode';
import { createSpec, initNetwork } from '../../src/engines/tfjs/models';
import { TrainClient } from '../../src/services/trainClient';
import { installHepexErrorTransfer } from '../../workers/errorTransfer';

/**
 * TrainClient.convert over a real MessageChannel to a stand-in worker whose `convert` is what
 * workers/train.worker.ts runs (convertModel on a small MNIST split): the SourceModel (ReLU)
 * crosses, stage progress streams back, the HE-ready model and its report return.
 */
let data: DatasetSplit;
beforeAll(async () => {
  await setupBackend();
  const split = mnistSplit(await loadMnist(), 1);
  data = { ...split, train: takeSamples(split.train, 400), test: takeSamples(split.test, 100) };
});

function convertWorker(): Worker {
  const { port1, port2 } = new MessageChannel();
  installHepexErrorTransfer();
  const api = {
    async convert(
      _id: number,
      request: { source: SourceModel; epochs?: number },
      onProgress?: (p: ConvertProgress) => void,
    ) {
      const result = await convertModel(request.source, data, {
        epochs: request.epochs,
        fitSamples: 200,
        onProgress: (p) => void onProgress?.(p),
      });
      return transfer(
        result,
        result.model.network.layers.flatMap((l) => [
          l.weights.data.buffer as ArrayBuffer,
          l.bias.buffer as ArrayBuffer,
        ]),
      );
    },
    cancel() {},
  };
  expose(api, port2);
  const worker = port1 as unknown as Worker;
  (worker as unknown as { terminate: () => void }).terminate = () => {
    port1.close();
    port2.close();
  };
  return worker;
}

let client: TrainClient | undefined;
afterEach(() => client?.dispose());

describe('TrainClient.convert', () => {
  it('sends a ReLU model to the worker (copied) and gets a HE-ready model with the report', async () => {
    const start = initNetwork(createSpec('mlp', [784, 8, 10]), 2);
    const source: SourceModel = {
      name: 'relu',
      network: {
        ...start,
        layers: start.layers.map((l, i) =>
          i === 0 ? { ...l, activation: { type: 'relu' as const } } : l,
        ),
      },
    };
    client = new TrainClient({ createWorker: convertWorker });
    const stages: string[] = [];
    const { model, report } = await client.convert(
      source,
      { epochs: 1 },
      { onProgress: (p) => stages.push(p.stage) },
    );
    // The caller's arrays stay whole (a copy was transferred).
    expect(source.network.layers[0].weights.data.length).toBe(784 * 8);
    validateNetwork(model.network);
    expect(report.layers[0].from).toBe('ReLU');
    expect(report.epochs).toBe(1);
    await new Promise((r) => setTimeout(r, 0));
    expect(stages).toEqual(['evaluate-original', 'fit', 'evaluate-fit', 'fine-tune']);
  });
});
