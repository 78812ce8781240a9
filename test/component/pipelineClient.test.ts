import { expose } from 'comlink';
import { afterEach, describe, expect, it } from 'vitest';
import { HepexError } from '../../src/core/model/errors';
import { createTileShape } from '../../src/core/tiling/tileShape';
import { PipelineClient, type StepProgress } from '../../src/services/pipelineClient';
import { seededNetwork } from '../fixtures/studio';

/**
 * The client's scheduling (lazy start, latest wins, abort = terminate, fresh worker after) over
 * comlink on a MessageChannel: the "worker" answers permute after `delayMs` with the network it
 * was sent, so the test sees which call got through. The real worker runs in the e2e suite.
 */
function channelWorker(delayMs: number) {
  const stats = { started: 0, terminated: 0 };
  const create = () => {
    stats.started++;
    const { port1, port2 } = new MessageChannel();
    expose(
      {
        async permute(
          job: { network: unknown; masks: unknown },
          onProgress?: (p: StepProgress) => void,
        ) {
          await Promise.resolve(onProgress?.({ fraction: 0.5, detail: 'halfway' }));
          await new Promise((r) => setTimeout(r, delayMs));
          return {
            network: job.network,
            masks: job.masks,
            permutation: { input: new Uint32Array(0), output: new Uint32Array(0) },
            nonZeroTilesBefore: 2,
            nonZeroTilesAfter: 1,
            lowerBound: 1,
            elapsedMs: delayMs,
            maxOutputChange: 0,
            checkSamples: 0,
          };
        },
      },
      port2,
    );
    return Object.assign(port1, {
      terminate() {
        stats.terminated++;
        port1.close();
        port2.close();
      },
    }) as unknown as Worker;
  };
  return { create, stats };
}

const network = seededNetwork([8, 4, 8], 1);
const masks = network.layers.map((l) => ({
  rows: l.weights.rows,
  cols: l.weights.cols,
  data: new Uint8Array(l.weights.data.length).fill(1),
}));
const tile = createTileShape(2, 2, { ringDegree: 8192 });
const permuteJob = { network, masks, tile };

let client: PipelineClient | undefined;
afterEach(() => client?.dispose());

describe('PipelineClient', () => {
  it('starts the worker lazily, forwards progress, sends copies so the caller keeps its arrays', async () => {
    const w = channelWorker(5);
    client = new PipelineClient({ createWorker: w.create });
    expect(w.stats.started).toBe(0);
    const progress: StepProgress[] = [];
    const result = await client.permute(permuteJob, {
      onProgress: (p) => progress.push(p),
    });
    expect(w.stats.started).toBe(1);
    expect(progress).toEqual([{ fraction: 0.5, detail: 'halfway' }]);
    expect(Array.from(result.network.layers[0].weights.data)).toEqual(
      Array.from(network.layers[0].weights.data),
    );
    // The caller's arrays were not transferred away (still readable, same length).
    expect(network.layers[0].weights.data.length).toBe(32);
  });

  it('latest wins: a new job cancels the running one (the worker is replaced)', async () => {
    const w = channelWorker(50);
    client = new PipelineClient({ createWorker: w.create });
    const first = client.permute(permuteJob);
    const second = client.permute(permuteJob);
    await expect(first).rejects.toMatchObject({ code: 'cancelled' });
    await expect(second).resolves.toMatchObject({ nonZeroTilesAfter: 1 });
    expect(w.stats.terminated).toBe(1);
    expect(w.stats.started).toBe(2);
  });

  it('aborting the signal rejects with a cancelled HepexError; the next job runs on a fresh worker', async () => {
    const w = channelWorker(50);
    client = new PipelineClient({ createWorker: w.create });
    const controller = new AbortController();
    const job = client.permute(permuteJob, { signal: controller.signal });
    controller.abort();
    const error = await job.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HepexError);
    expect((error as HepexError).code).toBe('cancelled');
    await expect(client.permute(permuteJob)).resolves.toMatchObject({ lowerBound: 1 });
    expect(w.stats.started).toBe(2);
  });

  it('refuses work after dispose', async () => {
    const w = channelWorker(1);
    client = new PipelineClient({ createWorker: w.create });
    client.dispose();
    await expect(client.permute(permuteJob)).rejects.toThrow(/shut down/);
  });
});
