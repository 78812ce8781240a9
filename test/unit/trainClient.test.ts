import { expose } from 'comlink';
import { afterEach, describe, expect, it } from 'vitest';
import { HepexError } from '../../src/core/model/errors';
import type { TrainProgress } from '../../src/core/model/trainer';
import { TrainClient } from '../../src/services/trainClient';
import { installHepexErrorTransfer } from '../../workers/errorTransfer';

/**
 * The client's job logic (lazy start, per-epoch progress through comlink.proxy, cancel by id,
 * dispose) over a real MessageChannel. The stand-in worker exposes the same method names as
 * workers/train.worker.ts and "trains" by emitting epochs until cancelled; the real training
 * it wraps is covered by train.test.ts.
 */
function fakeWorker(log: string[]): Worker {
  const { port1, port2 } = new MessageChannel();
  const cancelled = new Set<number>();
  installHepexErrorTransfer();
  const api = {
    async train(id: number, request: { epochs?: number }, onProgress?: (p: TrainProgress) => void) {
      log.push(`train ${id}`);
      const epochs = request.epochs ?? 3;
      for (let epoch = 1; epoch <= epochs; epoch++) {
        await new Promise((r) => setTimeout(r, 5));
        if (cancelled.has(id)) throw new HepexError('cancelled', 'The job was cancelled.');
        await Promise.resolve(
          onProgress?.({
            epoch,
            epochs,
            loss: 1 / epoch,
            metric: { name: 'accuracy', value: epoch / epochs },
          }),
        );
      }
      return { name: 'fake', epochs };
    },
    async evaluate() {
      throw new HepexError('invalid-network', 'bad network');
    },
    cancel(id: number) {
      log.push(`cancel ${id}`);
      cancelled.add(id);
    },
  };
  expose(api, port2);
  const worker = port1 as unknown as Worker;
  (worker as unknown as { terminate: () => void }).terminate = () => {
    log.push('terminate');
    port1.close();
    port2.close();
  };
  return worker;
}

let client: TrainClient | undefined;
afterEach(() => client?.dispose());

describe('TrainClient', () => {
  it('starts the worker lazily and streams per-epoch progress', async () => {
    const log: string[] = [];
    let started = 0;
    client = new TrainClient({ createWorker: () => (started++, fakeWorker(log)) });
    expect(started).toBe(0);
    const epochs: number[] = [];
    const model = await client.train(
      { arch: 'mlp', epochs: 3 },
      { onProgress: (p) => epochs.push(p.epoch) },
    );
    expect(model).toMatchObject({ name: 'fake' });
    expect(epochs).toEqual([1, 2, 3]);
    await client.train({ arch: 'mlp', epochs: 1 });
    expect(started).toBe(1);
  });

  it('cancels a running job through its signal and keeps HepexError codes', async () => {
    const log: string[] = [];
    client = new TrainClient({ createWorker: () => fakeWorker(log) });
    const controller = new AbortController();
    const job = client.train(
      { arch: 'mlp', epochs: 1000 },
      { signal: controller.signal, onProgress: (p) => p.epoch === 2 && controller.abort() },
    );
    await expect(job).rejects.toMatchObject({ code: 'cancelled' });
    await new Promise((r) => setTimeout(r, 20));
    expect(log).toContain('cancel 1');
    await expect(client.evaluate({ task: 'classification', layers: [] })).rejects.toMatchObject({
      code: 'invalid-network',
    });
  });

  it('dispose terminates the worker and refuses new jobs', async () => {
    const log: string[] = [];
    client = new TrainClient({ createWorker: () => fakeWorker(log) });
    const job = client.train({ arch: 'mlp', epochs: 1000 });
    await new Promise((r) => setTimeout(r, 10));
    client.dispose();
    await expect(job).rejects.toBeInstanceOf(HepexError);
    expect(log).toContain('terminate');
    await expect(client.train({ arch: 'mlp' })).rejects.toMatchObject({ code: 'cancelled' });
  });
});
