import type { PoolLayerResult, PoolMemberInit } from './hePoolMember';
import type { OpTimingTable } from '../../core/he/costModel';
import type { PoolCost } from '../../core/he/poolPlan';
import type { NetworkPermutation } from '../../core/model/permutation';
import type { HeMode, OpCounts } from '../../core/tiling/executionPlan';
import type { PackedBatch } from './hePoolWire';

/**
 * A pool member as the coordinator sees it: the member API behind a worker boundary (comlink's
 * Remote of PoolMemberApi), a promise that rejects when the worker dies, and a way to end it.
 */
export interface PoolWorker {
  readonly api: {
    init(init: PoolMemberInit): Promise<{ setupMs: number }>;
    runLayer(l: number, inputs: PackedBatch): Promise<PoolLayerResult>;
    accumulate(l: number, inputs: PackedBatch): Promise<PoolLayerResult>;
    finish(l: number, partials: PackedBatch, members: number): Promise<PoolLayerResult>;
    stream(
      l: number,
      inputs: PackedBatch,
      flags: { first: boolean; last: boolean },
    ): Promise<PoolLayerResult>;
    cancel(): Promise<void>;
    probe(batch: PackedBatch): Promise<number>;
    stats(): Promise<{ liveObjects: number; liveBytes: number; peakBytes: number }>;
    close(): Promise<void>;
  };
  /** Rejects (with the reason in words) when the worker exits or crashes. */
  readonly died: Promise<never>;
  terminate(): void;
}

export interface PoolOptions {
  readonly mode?: HeMode;
  readonly permutation?: NetworkPermutation;
  /** Per worker: each has its own WASM heap, capped at 4 GiB. */
  readonly memoryBudgetBytes?: number;
  /** Default: resident when every worker's share fits the budget, else streamed. */
  readonly weights?: 'resident' | 'streamed';
  readonly timings?: readonly OpTimingTable[];
  /** Input blocks per streamed message of the first layer (default 8). */
  readonly streamGroup?: number;
  /** Cores the client and the workers share, for predictions (default: the machine's). */
  readonly cores?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (fraction: number, message: string) => void;
}

export interface PoolInferStats {
  readonly workers: number;
  readonly samples: number;
  readonly latencyMs: number;
  readonly encryptMs: number;
  /** From the first layer sent to the last result back, ms. */
  readonly inferMs: number;
  readonly decryptMs: number;
  /** Per layer: wall ms and the slowest worker's compute ms. */
  readonly layers: readonly { readonly wallMs: number; readonly maxComputeMs: number }[];
  /** Server operations summed over the workers: equal to a single worker's. */
  readonly ops: OpCounts;
  /** Client operations (encrypt, decrypt). */
  readonly clientOps: OpCounts;
  readonly predicted: PoolCost;
}

/** A pool worker exited or crashed mid-call. */
export class WorkerDied extends Error {}

/** A worker call that fails in words when its worker dies instead of hanging forever. */
export function watch<T>(worker: PoolWorker, index: number, call: Promise<T>): Promise<T> {
  return Promise.race([
    call,
    worker.died.catch((reason: unknown) => {
      throw new WorkerDied(
        `HE worker ${index + 1} stopped (${reason instanceof Error ? reason.message : String(reason)}); the encrypted run was abandoned.`,
      );
    }),
  ]);
}

/**
 * ms per MiB to move ciphertexts to the workers as a layer does: `packed` (real ciphertexts of
 * `mib` MiB) sent to every worker at once, loaded there and saved again, best of two. Counted per MiB as
 * poolCost counts bytes: once when the buffer is shared, once per worker when it is copied.
 */
export async function measureTransfer(
  workers: readonly PoolWorker[],
  packed: PackedBatch,
  mib: number,
  shared: boolean,
): Promise<number> {
  // The best of two: a fresh worker's first load also grows its WASM heap, a one-off cost
  // that no later layer pays.
  let best = Infinity;
  for (let r = 0; r < 2; r++) {
    const t0 = performance.now();
    await Promise.all(workers.map((w, j) => watch(w, j, w.api.probe(packed))));
    best = Math.min(best, performance.now() - t0);
  }
  return best / (mib * (shared ? 1 : workers.length));
}
