import { availableParallelism, totalmem } from 'node:os';
import { Worker } from 'node:worker_threads';
import { wrap } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import type { PoolWorker } from './hePool';
import type { PoolMemberApi } from './hePoolMemberApi';

/**
 * HE pool workers as Node worker threads (the CLI and the benches). Each thread loads its own
 * node-seal (its own WASM heap, capped at 4 GiB). TypeScript sources run through tsx, which the
 * thread loads itself: vitest and tsx's CLI both start threads without it.
 */
export function spawnNodePoolWorkers(count: number): PoolWorker[] {
  return Array.from({ length: count }, () => {
    const worker = new Worker(new URL('./hePoolNodeWorker.ts', import.meta.url), {
      execArgv: ['--import', 'tsx'],
    });
    const api = wrap<PoolMemberApi>(nodeEndpoint(worker));
    const died = new Promise<never>((_, reject) => {
      worker.once('error', (error) => reject(error));
      worker.once('exit', (code) => reject(new Error(`exit code ${code}`)));
    });
    died.catch(() => {});
    return {
      api: api as unknown as PoolWorker['api'],
      died,
      terminate: () => void worker.terminate(),
    };
  });
}

/**
 * Workers to use when none are asked for: one per core, at most as many as half the machine's
 * memory holds at `bytesPerWorker` each, at least 1.
 */
export function defaultNodeWorkerCount(bytesPerWorker: number): number {
  const byMemory = Math.floor((totalmem() * 0.5) / Math.max(1, bytesPerWorker));
  return Math.max(1, Math.min(availableParallelism(), byMemory));
}
