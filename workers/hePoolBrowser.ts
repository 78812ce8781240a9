/// <reference lib="webworker" />
import { wrap } from 'comlink';
import type { PoolWorker } from '../src/engines/seal/hePool';
import type { PoolMemberApi } from '../src/engines/seal/hePoolMemberApi';

/**
 * The studio's HE pool members: Web Workers the HE worker starts itself (nested workers), one
 * node-seal and one WASM heap each. A worker that fails to load or crashes (an error event)
 * rejects `died`, so the pool fails in words instead of waiting forever.
 */
export function spawnBrowserPoolWorkers(count: number): PoolWorker[] {
  return Array.from({ length: count }, (_, j) => {
    const worker = new Worker(new URL('./hePool.worker.ts', import.meta.url), {
      type: 'module',
      name: `hepex-he-pool-${j + 1}`,
    });
    const api = wrap<PoolMemberApi>(worker);
    const died = new Promise<never>((_, reject) => {
      worker.addEventListener('error', (event) =>
        reject(new Error(event.message || 'the worker failed to start or crashed')),
      );
    });
    died.catch(() => {});
    return {
      api: api as unknown as PoolWorker['api'],
      died,
      terminate: () => worker.terminate(),
    };
  });
}
