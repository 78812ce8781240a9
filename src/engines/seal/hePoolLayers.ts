import { transfer } from 'comlink';
import type { HeModel } from '../../core/he/heModel';
import { streamSchedule, type LayerShare } from '../../core/he/poolPlan';
import { addOps, zeroOps, type OpCounts } from '../../core/tiling/executionPlan';
import type { PoolLayerResult } from './hePoolMember';
import { streamInputs, type InputSource } from './hePoolStream';
import { packBatch } from './hePoolWire';
import { watch, type PoolWorker } from './hePoolWorkers';
import type { SerializedBatch } from './sessionTypes';

/** One layer's run on the pool: its outputs in block order, the operations, the slowest compute. */
export interface PoolLayerStep {
  readonly outputs: SerializedBatch;
  readonly ops: OpCounts;
  readonly computeMs: number;
}

/**
 * How a layer runs across the pool's workers (hePool.ts keeps the keys, the run loop and the
 * client's side): the first layer streamed from the client, every other one on the inputs the
 * layer before gathered; split by outputs or by inputs as poolPlan.assignBlocks decided.
 */
export class PoolLayerRunner {
  /** The buffer layer inputs travel in, kept across layers and runs. */
  private wire: ArrayBufferLike | undefined;

  constructor(
    private readonly workers: readonly PoolWorker[],
    private readonly model: HeModel,
    private readonly shares: readonly (readonly LayerShare[])[],
    private readonly owners: readonly Int32Array[],
    private readonly sharedInputs: boolean,
    private readonly streamGroup: number,
  ) {}

  /**
   * Layer l across the pool on `current` (its input blocks). Split by outputs: the inputs in
   * one buffer to every worker, each returns its blocks. Split by inputs: each worker gets its
   * input blocks and returns partial sums for every output block; the partials go out again in
   * one buffer and each worker adds and finishes its blocks.
   */
  async runLayer(l: number, current: SerializedBatch): Promise<PoolLayerStep> {
    const ops = zeroOps();
    const shares = this.shares[l];
    const all = (calls: Promise<PoolLayerResult>[]) => Promise.all(calls);
    if (shares[0].split === 'outputs') {
      const payload = packBatch(current, this.sharedInputs, this.wire);
      // A shared buffer is reused next layer and next run (every worker has loaded its inputs
      // by the time it answers); a plain one is cloned per worker.
      this.wire = payload.buffer;
      const results = await all(
        this.workers.map((w, j) => watch(w, j, w.api.runLayer(l, payload))),
      );
      for (const r of results) addOps(ops, r.ops);
      return {
        outputs: this.gather(l, results, current.samples),
        ops,
        computeMs: Math.max(...results.map((r) => r.computeMs)),
      };
    }
    const partials = await all(
      this.workers.map((w, j) => {
        const mine = new Set(shares[j].inputs);
        const only = {
          samples: current.samples,
          chunks: current.chunks.map((row) => row.map((b, i) => (mine.has(i) ? b : null))),
        };
        // Each worker's own inputs: spans into the shared buffer, or a buffer of its own
        // handed over (not copied).
        const packed = packBatch(only, this.sharedInputs);
        const sent = this.sharedInputs ? packed : transfer(packed, [packed.buffer as ArrayBuffer]);
        return watch(w, j, w.api.accumulate(l, sent));
      }),
    );
    const second = await this.finishInputSplit(l, partials, current.samples);
    for (const r of partials) addOps(second.ops, r.ops);
    return {
      ...second,
      computeMs: Math.max(...partials.map((r) => r.computeMs)) + second.computeMs,
    };
  }

  /**
   * An input-split layer's second round: every worker's partial sums out again in one buffer,
   * each worker adds and finishes its blocks. Its own operations and compute time only.
   */
  private async finishInputSplit(
    l: number,
    partials: readonly PoolLayerResult[],
    samples: number,
  ): Promise<PoolLayerStep> {
    const K = this.workers.length;
    const ops = zeroOps();
    const outBlocks = this.model.exec.layers[l].tiling.outBlocks;
    const gathered: SerializedBatch = {
      samples,
      chunks: partials[0].outputs.chunks.map((_, k) =>
        Array.from(
          { length: outBlocks * K },
          (_, e) => partials[e % K].outputs.chunks[k][Math.floor(e / K)],
        ),
      ),
    };
    const payload = packBatch(gathered, this.sharedInputs);
    const results = await Promise.all(
      this.workers.map((w, j) => watch(w, j, w.api.finish(l, payload, K))),
    );
    for (const r of results) addOps(ops, r.ops);
    return {
      outputs: this.gather(l, results, samples),
      ops,
      computeMs: Math.max(...results.map((r) => r.computeMs)),
    };
  }

  /**
   * The first layer with its inputs streamed (hePoolStream.ts), `streamGroup` blocks a message
   * in poolPlan.streamSchedule's order. Each worker adds each message's products into running
   * sums, so the result and the counts equal one pass over all inputs; split by inputs, the
   * partial sums then meet as after `accumulate`.
   */
  async streamFirstLayer(
    samples: number,
    source: InputSource,
    signal?: AbortSignal,
  ): Promise<PoolLayerStep> {
    const layer = this.model.exec.layers[0];
    const chunks = Math.ceil(samples / this.model.tile.batch);
    const plan = streamSchedule(this.model.exec, this.shares[0], chunks, this.streamGroup);
    const empty: SerializedBatch = {
      samples,
      chunks: Array.from({ length: chunks }, () =>
        new Array<Uint8Array | null>(layer.tiling.inBlocks).fill(null),
      ),
    };
    const replies = await streamInputs(
      this.workers,
      plan,
      source,
      empty,
      this.sharedInputs,
      signal,
    );
    const ops = zeroOps();
    for (const list of replies) for (const r of list) addOps(ops, r.ops);
    const computeMs = Math.max(...replies.map((list) => list.reduce((s, r) => s + r.computeMs, 0)));
    const finals = replies.map((list) => list[list.length - 1]);
    if (this.shares[0][0].split === 'outputs')
      return { outputs: this.gather(0, finals, samples), ops, computeMs };
    const second = await this.finishInputSplit(0, finals, samples);
    addOps(ops, second.ops);
    return { outputs: second.outputs, ops, computeMs: computeMs + second.computeMs };
  }

  /** Every worker's share of layer l's outputs, as one batch in block order. */
  private gather(l: number, results: readonly PoolLayerResult[], samples: number): SerializedBatch {
    const owner = this.owners[l];
    const chunks = results[0].outputs.chunks.map((_, k) =>
      Array.from(owner, (j, o) => (j >= 0 ? results[j].outputs.chunks[k][o] : null)),
    );
    return { samples, chunks };
  }
}
