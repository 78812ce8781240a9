import { HepexError } from '../../core/model/errors';
import { HePoolMember, type PoolLayerResult, type PoolMemberInit } from './hePoolMember';
import { unpackBatch, type PackedBatch } from './hePoolWire';
import type { Seal } from './loadSeal';

/**
 * What a pool worker exposes (the comlink facades wrap exactly this): one member at a time,
 * a cancel that stops the running layer between output blocks, and a close that frees it.
 */
export function createPoolMemberApi(load: () => Promise<Seal>) {
  let member: HePoolMember | null = null;
  let running: AbortController | null = null;
  const need = (): HePoolMember => {
    if (!member) throw new HepexError('he-runtime', 'This HE pool worker holds no model.');
    return member;
  };
  /** Runs one step with a signal that `cancel` aborts. */
  const cancellable = async <T>(step: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    const controller = new AbortController();
    running = controller;
    try {
      return await step(controller.signal);
    } finally {
      if (running === controller) running = null;
    }
  };
  // Streamed groups run one after another, in the order sent (a comlink call does not wait for
  // the one before it); `cancel` moves to a new epoch, and groups sent before it then fail
  // instead of starting.
  let queue: Promise<unknown> = Promise.resolve();
  let epoch = 0;
  return {
    async init(init: PoolMemberInit): Promise<{ setupMs: number }> {
      member?.delete();
      member = null;
      const t0 = performance.now();
      member = await HePoolMember.create(await load(), init);
      return { setupMs: performance.now() - t0 };
    },
    runLayer: (l: number, inputs: PackedBatch): Promise<PoolLayerResult> =>
      cancellable((signal) => need().runLayer(l, unpackBatch(inputs), signal)),
    accumulate: (l: number, inputs: PackedBatch): Promise<PoolLayerResult> =>
      cancellable((signal) => need().accumulate(l, unpackBatch(inputs), signal)),
    finish: (l: number, partials: PackedBatch, members: number): Promise<PoolLayerResult> =>
      cancellable((signal) => need().finish(l, unpackBatch(partials), members, signal)),
    stream: (
      l: number,
      inputs: PackedBatch,
      flags: { first: boolean; last: boolean },
    ): Promise<PoolLayerResult> => {
      const sentIn = epoch;
      const run = queue.then(() => {
        if (sentIn !== epoch) throw new HepexError('cancelled', 'The job was cancelled.');
        return cancellable((signal) => need().stream(l, unpackBatch(inputs), flags, signal));
      });
      queue = run.catch(() => {});
      return run;
    },
    cancel(): void {
      epoch++;
      running?.abort();
    },
    /** Loads and saves the probe's ciphertexts (the pool times it to price moving them). */
    probe(batch: PackedBatch): number {
      return need().probe(unpackBatch(batch));
    },
    stats(): { liveObjects: number; liveBytes: number; peakBytes: number } {
      const m = need();
      return {
        liveObjects: m.liveObjects.count,
        liveBytes: m.liveObjects.bytes,
        peakBytes: m.peakBytes,
      };
    },
    close(): void {
      member?.delete();
      member = null;
    },
  };
}

export type PoolMemberApi = ReturnType<typeof createPoolMemberApi>;

/** The buffers of a layer result, to hand over (transfer) instead of copying. */
export function resultBuffers(result: PoolLayerResult): ArrayBuffer[] {
  return result.outputs.chunks.flatMap((blocks) =>
    blocks.flatMap((b) => (b ? [b.buffer as ArrayBuffer] : [])),
  );
}
