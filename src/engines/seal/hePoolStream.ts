import { transfer } from 'comlink';
import type { StreamSend } from '../../core/he/poolPlan';
import { throwIfAborted } from '../../core/model/errors';
import type { PoolLayerResult } from './hePoolMember';
import { packBatch, type PackedBatch } from './hePoolWire';
import { watch, type PoolWorker } from './hePoolWorkers';
import type { SerializedBatch } from './sessionTypes';

/**
 * The first layer's inputs of chunk k, blocks `blocks` (every other entry null), serialized:
 * encrypted on demand by the client, or taken from ciphertexts already made.
 */
export type InputSource = (k: number, blocks: readonly number[]) => SerializedBatch;

/**
 * Sends the first layer's inputs as `sends` says (poolPlan.streamSchedule), each message made
 * by `source` just before it is posted, so the workers compute while the client still
 * encrypts. Returns every worker's replies in order (the last one carries its result). The
 * first failure (a dead worker, an error in one) stops the sending and is thrown.
 */
export async function streamInputs(
  workers: readonly PoolWorker[],
  plan: { sends: readonly StreamSend[]; lastOf: Int32Array },
  source: InputSource,
  empty: SerializedBatch,
  sharedInputs: boolean,
  signal?: AbortSignal,
): Promise<PoolLayerResult[][]> {
  const started = new Uint8Array(workers.length);
  const calls: Promise<PoolLayerResult>[][] = workers.map(() => []);
  let failure: unknown = null;
  const post = (j: number, payload: PackedBatch, last: boolean) => {
    const w = workers[j];
    const call = watch(w, j, w.api.stream(0, payload, { first: !started[j], last }));
    // Handled at once (the sending goes on meanwhile): the first failure stops it.
    call.catch((error: unknown) => (failure ??= error));
    calls[j].push(call);
    started[j] = 1;
  };
  let yielded = performance.now();
  for (const [g, send] of plan.sends.entries()) {
    throwIfAborted(signal);
    if (failure) break;
    const packed = packBatch(source(send.chunk, send.blocks), sharedInputs);
    // A plain buffer to one worker is handed over; a shared one, or one to several, is read
    // in place or cloned.
    const handOver = send.to.length === 1 && !sharedInputs;
    for (const j of send.to)
      post(
        j,
        handOver ? transfer(packed, [packed.buffer as ArrayBuffer]) : packed,
        plan.lastOf[j] === g,
      );
    // Lets worker replies (and a dead worker's news) in between messages, every ~50 ms.
    if (performance.now() - yielded > 50) {
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
      yielded = performance.now();
    }
  }
  if (failure) throw failure;
  // A worker no message went to still opens and closes its (empty) stream.
  for (let j = 0; j < workers.length; j++)
    if (plan.lastOf[j] < 0) post(j, packBatch(empty, sharedInputs), true);
  return Promise.all(calls.map((list) => Promise.all(list)));
}
