import type { OpTimingTable } from '../../core/he/costModel';
import { prepareHeModel, type HeModel } from '../../core/he/heModel';
import {
  assignBlocks,
  checkWorkerCount,
  poolCost,
  DEFAULT_STREAM_GROUP,
  workerPeakBytes,
  type LayerShare,
  type PoolCost,
} from '../../core/he/poolPlan';
import { HepexError, throwIfAborted } from '../../core/model/errors';
import type { Network } from '../../core/model/network';
import { addOps, zeroOps, type OpCounts } from '../../core/tiling/executionPlan';
import type { TileShape } from '../../core/tiling/tileShape';
import { HeClientSide, type PoolKeys } from './heClientSide';
import { loadCiphertexts, saveBatchInto, transferProbe } from './hePoolCiphertexts';
import {
  measureTransfer,
  watch,
  WorkerDied,
  type PoolInferStats,
  type PoolOptions,
  type PoolWorker,
} from './hePoolWorkers';
import type { Seal } from './loadSeal';
import { toError } from './sealErrors';
import { PoolLayerRunner, type PoolLayerStep } from './hePoolLayers';
import type { InputSource } from './hePoolStream';
import { canShareMemory } from './hePoolWire';
import { SessionContext } from './sessionContext';
import { DEFAULT_MEMORY_BUDGET, type CipherBatch, type SerializedBatch } from './sessionTypes';

/**
 * Encrypted inference on a pool of workers. This object is the client (it holds the secret key,
 * which never leaves it: the workers get only evaluation keys and the public key) and the
 * coordinator: per layer it sends the layer's input ciphertexts to every worker, each computes
 * its share of the output blocks (assignBlocks), and the outputs gather for the next layer.
 */
export type { PoolInferStats, PoolOptions, PoolWorker };

type Ciphertext = InstanceType<Seal['Ciphertext']>;

/** Below this many MiB moved after the first layer, a run's timing is too coarse to re-price. */
const MIN_REMEASURE_MIB = 4;

/** The cores the pool's threads share: the machine's, where it says (Node and browsers do). */
const machineCores = (): number | undefined =>
  (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;

export class HePool {
  private broken: string | null = null;
  /** How each layer runs across the workers. */
  private readonly layers: PoolLayerRunner;
  /** Whether a layer's inputs reach the workers in one shared buffer (else a copy each). */
  readonly sharedInputs = canShareMemory();

  private constructor(
    private readonly context: SessionContext,
    private readonly client: HeClientSide,
    private readonly workers: readonly PoolWorker[],
    readonly model: HeModel,
    readonly owners: readonly Int32Array[],
    readonly shares: readonly (readonly LayerShare[])[],
    readonly setupMs: number,
    readonly weights: 'resident' | 'streamed',
    /**
     * ms to move 1 MiB of ciphertexts between the client and a worker, loading and saving
     * included: timed at set-up, then re-measured after every run (what the next run is priced with).
     */
    public transferMsPerMiB: number,
    private readonly timings: readonly OpTimingTable[] | undefined,
    private readonly streamGroup: number,
    /** The cores the client and the workers share (predictions only). */
    private readonly cores: number | undefined,
  ) {
    this.layers = new PoolLayerRunner(
      workers,
      model,
      shares,
      owners,
      this.sharedInputs,
      streamGroup,
    );
  }

  static async create(
    seal: Seal,
    network: Network,
    tile: TileShape,
    workers: readonly PoolWorker[],
    options: PoolOptions = {},
  ): Promise<HePool> {
    checkWorkerCount(workers.length);
    const group = options.streamGroup ?? DEFAULT_STREAM_GROUP;
    if (!Number.isInteger(group) || group < 1)
      throw new HepexError(
        'invalid-argument',
        `Input blocks per streamed message must be a whole number of at least 1, got ${group}.`,
      );
    const t0 = performance.now();
    const mode = options.mode ?? 'plain-model';
    const model = prepareHeModel(network, tile, { mode, permutation: options.permutation });
    // Blocks split by resident costs; streamed weights only add to every product alike.
    const assignment = assignBlocks(model.exec, workers.length, { timings: options.timings });
    // Resident weights when every worker's share fits its heap, else streamed (encoded per
    // use), else refused before any worker does any work.
    const budget = options.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET;
    const fits = (w: 'resident' | 'streamed') =>
      Math.max(...workerPeakBytes(model, assignment.shares, w)) <= budget;
    const weights = options.weights ?? (fits('resident') ? 'resident' : 'streamed');
    const worst = Math.max(...workerPeakBytes(model, assignment.shares, weights));
    if (worst > budget) {
      const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
      throw new HepexError(
        'out-of-memory',
        `Each HE worker would need up to ${gib(worst)} of encryption memory with ${weights} weights (ring degree ${model.params.ringDegree}, ${model.exec.weightCiphertexts} weight tiles over ${workers.length} workers), above the ${gib(budget)} budget per worker. Use more workers, prune more tiles or a smaller tile.`,
      );
    }
    const context = new SessionContext(seal, model);
    let client: HeClientSide;
    try {
      client = new HeClientSide(context);
    } catch (error) {
      context.delete();
      throw toError(error, 'Creating the CKKS keys');
    }
    try {
      const keys = client.exportServerKeys();
      options.onProgress?.(0, `sending keys and model shares to ${workers.length} HE workers`);
      await Promise.all(
        workers.map((w, j) =>
          watch(
            w,
            j,
            w.api.init({
              network,
              tile,
              mode,
              permutation: options.permutation,
              shares: assignment.shares.map((perWorker) => perWorker[j]),
              keys,
              weights,
            }),
          ),
        ),
      );
      throwIfAborted(options.signal);
      const shared = canShareMemory();
      const { packed, mib, clientMs } = transferProbe(seal, context, client, shared);
      const transferMsPerMiB =
        (await measureTransfer(workers, packed, mib, shared)) + clientMs / mib;
      const owners = assignment.shares.map((perWorker, l) => {
        const owner = new Int32Array(model.exec.layers[l].tiling.outBlocks).fill(-1);
        perWorker.forEach((share, j) => share.blocks.forEach((o) => (owner[o] = j)));
        return owner;
      });
      options.onProgress?.(1, 'HE workers ready');
      return new HePool(
        context,
        client,
        workers,
        model,
        owners,
        assignment.shares,
        performance.now() - t0,
        weights,
        transferMsPerMiB,
        options.timings,
        options.streamGroup ?? DEFAULT_STREAM_GROUP,
        options.cores ?? machineCores(),
      );
    } catch (error) {
      context.delete();
      throw toError(error, 'Starting the HE workers');
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /** The cost model's pool prediction for `samples`, with the transfer cost measured here. */
  predict(samples: number): PoolCost {
    return poolCost(this.model.exec, this.workers.length, this.transferMsPerMiB, {
      samples,
      timings: this.timings,
      sharedInputs: this.sharedInputs,
      streamed: this.weights === 'streamed',
      cores: this.cores,
      streamGroup: this.streamGroup,
    });
  }

  /** What every worker evaluates with (evaluation keys and public key): never the secret key. */
  serverKeys(): PoolKeys {
    return this.client.exportServerKeys();
  }

  /** Client: encrypts samples x inputs and serializes the ciphertexts for the workers. */
  encrypt(inputs: Float32Array, samples: number, ops: OpCounts = zeroOps()): SerializedBatch {
    this.context.assertAlive();
    return this.save(this.client.encrypt(inputs, samples, ops));
  }

  /** Client: saves (and frees) fresh ciphertexts into one buffer, shared where it can be. */
  private save(batch: CipherBatch): SerializedBatch {
    const { tracker } = this.context;
    const saved = new Set<unknown>();
    try {
      return saveBatchInto(this.context.seal, batch, this.sharedInputs, (ct) => {
        tracker.delete(ct);
        saved.add(ct);
      });
    } finally {
      for (const row of batch.chunks)
        for (const ct of row) if (ct && !saved.has(ct)) tracker.delete(ct);
    }
  }

  /** Every layer across the pool on serialized input ciphertexts; the last layer's outputs. */
  run(
    inputs: SerializedBatch,
    options: {
      signal?: AbortSignal;
      onProgress?: (fraction: number, message: string) => void;
    } = {},
  ): ReturnType<HePool['runFrom']> {
    // The given ciphertexts go out group by group, as the client's own would.
    const source: InputSource = (k, blocks) => ({
      samples: inputs.samples,
      chunks: inputs.chunks.map((row, kk) =>
        row.map((b, i) => (kk === k && blocks.includes(i) ? b : null)),
      ),
    });
    return this.runFrom(inputs.samples, source, options);
  }

  /**
   * Every layer across the pool, the first streamed from `source` group by group (each
   * worker starts on the first group while the rest are still being made); the last
   * layer's outputs.
   */
  private async runFrom(
    samples: number,
    source: InputSource,
    options: {
      signal?: AbortSignal;
      onProgress?: (fraction: number, message: string) => void;
    } = {},
  ): Promise<{
    outputs: SerializedBatch;
    ops: OpCounts;
    layers: PoolInferStats['layers'];
    /** The prediction the run was made against (before this run re-measured the transfers). */
    predicted: PoolCost;
  }> {
    if (this.broken) throw new HepexError('he-runtime', this.broken);
    this.context.assertAlive();
    const layerCount = this.model.exec.layers.length;
    let current: SerializedBatch | null = null;
    const ops = zeroOps();
    const layers: { wallMs: number; maxComputeMs: number }[] = [];
    const onAbort = () => this.workers.forEach((w) => void w.api.cancel().catch(() => {}));
    options.signal?.addEventListener('abort', onAbort);
    // Progress inside a layer is estimated from the cost model's share of each layer (the
    // workers report only when a layer is done), and never passes the layer's end.
    const predicted = this.predict(samples);
    const total = predicted.layerMs.reduce((a, b) => a + b, 0) || 1;
    let ticker: ReturnType<typeof setInterval> | undefined;
    try {
      let before = 0;
      for (let l = 0; l < layerCount; l++) {
        throwIfAborted(options.signal);
        const start = performance.now();
        const share = predicted.layerMs[l] / total;
        const from = before;
        ticker = setInterval(() => {
          const part = Math.min(0.95, (performance.now() - start) / (predicted.layerMs[l] || 1));
          options.onProgress?.(from + share * part, `layer ${l + 1} of ${layerCount}`);
        }, 250);
        const step: PoolLayerStep =
          l === 0
            ? await this.layers.streamFirstLayer(samples, source, options.signal)
            : await this.layers.runLayer(l, current!);
        clearInterval(ticker);
        before += share;
        throwIfAborted(options.signal);
        current = step.outputs;
        addOps(ops, step.ops);
        layers.push({ wallMs: performance.now() - start, maxComputeMs: step.computeMs });
        options.onProgress?.(before, `layer ${l + 1} of ${layerCount} done`);
      }
    } catch (error) {
      if (options.signal?.aborted) throw new HepexError('cancelled', 'The job was cancelled.');
      if (error instanceof WorkerDied) {
        this.broken = error.message;
        this.terminate();
        throw new HepexError('he-runtime', error.message);
      }
      throw toError(error, 'Encrypted inference on the pool');
    } finally {
      clearInterval(ticker);
      options.signal?.removeEventListener('abort', onAbort);
    }
    // What moving ciphertexts really cost this run (wall time beyond the slowest worker's
    // compute, over the bytes the cost model says moved) prices the next one.
    // The first layer is left out: its wall time also waits for the client's encryption.
    const moved = predicted.transferBytes.slice(1).reduce((a, b) => a + b, 0) / 2 ** 20;
    const overhead = layers
      .slice(1)
      .reduce((a, x) => a + Math.max(0, x.wallMs - x.maxComputeMs), 0);
    if (moved >= MIN_REMEASURE_MIB) this.transferMsPerMiB = overhead / moved;
    return { outputs: current!, ops, layers, predicted };
  }

  /** Client: loads the last layer's serialized outputs and decrypts them: samples x outputs. */
  decrypt(outputs: SerializedBatch, ops: OpCounts = zeroOps()): Float32Array {
    this.context.assertAlive();
    const { model } = this;
    const last = model.exec.layers[model.exec.layers.length - 1];
    const result = loadCiphertexts(this.context, outputs, {
      blocks: last.tiling.outBlocks,
      live: last.computedOutputs,
      primes: model.params.depth + 1 - model.exec.depth,
      what: 'the outputs',
    });
    try {
      return this.client.decrypt(result, ops);
    } finally {
      this.context.free(result);
    }
  }

  /** Encrypt here, run every layer across the pool, decrypt here: samples x outputs. */
  async infer(
    inputs: Float32Array,
    samples: number,
    options: {
      signal?: AbortSignal;
      onProgress?: (fraction: number, message: string) => void;
    } = {},
  ): Promise<{ outputs: Float32Array; stats: PoolInferStats }> {
    this.context.assertAlive();
    const clientOps = zeroOps();
    const t0 = performance.now();
    const packed = this.client.packInputs(inputs, samples);
    let encryptMs = 0;
    // Each group encrypted just before it is sent: the workers start on the first while the
    // client encrypts the rest.
    const source: InputSource = (k, blocks) => {
      const start = performance.now();
      const row = this.client.encryptBlocks(packed[k], blocks, clientOps);
      const chunks = packed.map((values, kk) =>
        kk === k ? row : new Array<Ciphertext | null>(values.length).fill(null),
      );
      const saved = this.save({ samples, chunks });
      encryptMs += performance.now() - start;
      return saved;
    };
    const t1 = performance.now();
    const { outputs: last, ops, layers, predicted } = await this.runFrom(samples, source, options);
    const t2 = performance.now();
    const outputs = this.decrypt(last, clientOps);
    const t3 = performance.now();
    return {
      outputs,
      stats: {
        workers: this.workers.length,
        samples,
        latencyMs: t3 - t0,
        // The client's encryption overlaps the first layer, whose time inferMs includes.
        encryptMs,
        inferMs: t2 - t1,
        decryptMs: t3 - t2,
        layers,
        ops,
        clientOps,
        predicted,
      },
    };
  }

  /** Each worker's live and peak bytes of SEAL objects (its own WASM heap). */
  memberStats(): Promise<{ liveObjects: number; liveBytes: number; peakBytes: number }[]> {
    return Promise.all(this.workers.map((w, j) => watch(w, j, w.api.stats())));
  }

  /** Frees the client's keys and ends every worker. */
  delete(): void {
    this.terminate();
    this.context.delete();
  }

  private terminate(): void {
    for (const w of this.workers) {
      void w.api.close().catch(() => {});
      w.terminate();
    }
  }
}
