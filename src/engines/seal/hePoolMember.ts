import { accumulateBlock, finishBlock, interpretLayer } from '../../core/he/heInterpreter';
import { prepareHeModel, type HeModel } from '../../core/he/heModel';
import type { LayerShare } from '../../core/he/poolPlan';
import { HepexError, throwIfAborted } from '../../core/model/errors';
import type { Network } from '../../core/model/network';
import type { NetworkPermutation } from '../../core/model/permutation';
import { zeroOps, type HeMode, type OpCounts } from '../../core/tiling/executionPlan';
import type { TileShape } from '../../core/tiling/tileShape';
import type { PoolKeys } from './heClientSide';
import { HeServerSide } from './heServerSide';
import type { Seal } from './loadSeal';
import { toError } from './sealErrors';
import { SessionContext } from './sessionContext';
import type { SerializedBatch } from './sessionTypes';
import { loadBatch, loadCiphertexts, saveBatch } from './hePoolCiphertexts';

type Ciphertext = InstanceType<Seal['Ciphertext']>;

/**
 * One worker of an HE pool (hePool.ts): a server side that holds the evaluation keys and the
 * encoded operands of its share of every layer's output blocks, and runs one layer at a time on
 * ciphertexts that arrive serialized. It never sees the secret key. The same object serves a
 * browser Web Worker (workers/hePool.worker.ts) and a Node worker thread (hePoolNodeWorker.ts).
 */
export interface PoolMemberInit {
  /** The model as the client prepared it: rebuilt here with prepareHeModel (deterministic). */
  readonly network: Network;
  readonly tile: TileShape;
  readonly mode: HeMode;
  readonly permutation?: NetworkPermutation;
  /** Per layer, this member's share (poolPlan.ts LayerShare). */
  readonly shares: readonly LayerShare[];
  readonly keys: PoolKeys;
  readonly weights: 'resident' | 'streamed';
}

export interface PoolLayerResult {
  /**
   * Per chunk, serialized uncompressed: this member's finished output blocks (null elsewhere),
   * or from `accumulate` its partial sums, one per output block (null where it has no tile).
   */
  readonly outputs: SerializedBatch;
  readonly ops: OpCounts;
  /** Time in products, reductions and activations, ms (load and save excluded). */
  readonly computeMs: number;
  /** Loading the inputs and saving the outputs, ms. */
  readonly serializeMs: number;
}

type Ciphertexts = (Ciphertext | null)[][];

export class HePoolMember {
  private readonly inputSets: (Set<number> | null)[];
  /** A streamed layer's running sums (per chunk, per output block) and the inputs seen. */
  private streaming: { layer: number; sums: Ciphertexts; received: Set<number>[] } | null = null;

  private constructor(
    private readonly context: SessionContext,
    private readonly server: HeServerSide,
    private readonly shares: readonly LayerShare[],
  ) {
    this.inputSets = shares.map((s) => (s.inputs ? new Set(s.inputs) : null));
  }

  static async create(seal: Seal, init: PoolMemberInit): Promise<HePoolMember> {
    const model: HeModel = prepareHeModel(init.network, init.tile, {
      mode: init.mode,
      permutation: init.permutation,
    });
    if (init.shares.length !== model.exec.layers.length) {
      throw new HepexError(
        'invalid-argument',
        `The pool's split has ${init.shares.length} layers; the model has ${model.exec.layers.length}.`,
      );
    }
    const context = new SessionContext(seal, model);
    try {
      const publicKey = context.tracker.add(new seal.PublicKey());
      try {
        publicKey.loadFromArray(context.ctx.context, init.keys.publicKey);
      } catch (error) {
        throw toError(error, 'The public key is corrupted or was made with other parameters');
      }
      const encryptor = context.tracker.add(new seal.Encryptor(context.ctx.context, publicKey));
      const blocks = init.shares.map((share) => new Set(share.blocks));
      const inputs = init.shares.map((share) => (share.inputs ? new Set(share.inputs) : null));
      const server = new HeServerSide(
        context,
        { relin: null, galois: null },
        encryptor,
        init.weights === 'streamed',
        {
          tile: (l, k) => {
            const perRow = model.exec.layers[l].tiling.inBlocks;
            const set = inputs[l];
            return set ? set.has(k % perRow) : blocks[l].has(Math.floor(k / perRow));
          },
          block: (l, o) => blocks[l].has(o),
        },
      );
      server.importEvaluationKeys({ relin: init.keys.relin, galois: init.keys.galois });
      await server.encodeModel({});
      return new HePoolMember(context, server, init.shares);
    } catch (error) {
      context.delete();
      throw toError(error, 'Preparing an HE pool worker');
    }
  }

  get liveObjects(): { count: number; bytes: number } {
    return { count: this.context.tracker.liveCount, bytes: this.context.tracker.liveBytes };
  }

  get peakBytes(): number {
    return this.context.tracker.peakBytes;
  }

  private checkLayer(l: number): void {
    this.context.assertAlive();
    if (!Number.isInteger(l) || l < 0 || l >= this.shares.length) {
      throw new HepexError('invalid-argument', `The model has no layer ${l + 1}.`);
    }
  }

  /** Loads, computes per chunk, saves; everything loaded or made is freed. */
  private async step(
    load: () => Ciphertexts[],
    compute: (loaded: Ciphertexts[], ops: OpCounts) => Promise<Ciphertexts>,
    samples: number,
  ): Promise<PoolLayerResult> {
    const t0 = performance.now();
    const loaded = load();
    const ops = zeroOps();
    let made: Ciphertexts = [];
    try {
      const t1 = performance.now();
      made = await compute(loaded, ops);
      const t2 = performance.now();
      const outputs = saveBatch(this.context.seal, { samples, chunks: made });
      return { outputs, ops, computeMs: t2 - t1, serializeMs: t1 - t0 + (performance.now() - t2) };
    } finally {
      for (const chunks of loaded) this.context.free({ chunks });
      this.context.free({ chunks: made });
    }
  }

  /**
   * The transfer probe: loads top-level ciphertexts as a layer's inputs would be loaded and
   * saves them as outputs would be, so the pool can time moving ciphertexts for real.
   */
  probe(batch: SerializedBatch): number {
    this.context.assertAlive();
    const count = batch.chunks[0]?.length ?? 0;
    const loaded = loadCiphertexts(this.context, batch, {
      blocks: count,
      live: new Uint8Array(count).fill(1),
      primes: this.context.model.params.depth + 1,
      what: 'the transfer probe',
    });
    try {
      return saveBatch(this.context.seal, loaded).chunks[0].length;
    } finally {
      this.context.free(loaded);
    }
  }

  /** An output-split layer: this member's output blocks, whole, on every chunk. */
  runLayer(l: number, inputs: SerializedBatch, signal?: AbortSignal): Promise<PoolLayerResult> {
    this.checkLayer(l);
    const { backend, operands } = this.server.tools();
    return this.step(
      () => [loadBatch(this.context, inputs, l).chunks as Ciphertexts],
      async ([current], ops) => {
        const out: Ciphertexts = [];
        try {
          for (const blocks of current)
            out.push(
              await interpretLayer(
                this.context.model,
                backend,
                operands,
                l,
                blocks,
                this.shares[l].blocks,
                ops,
                {
                  signal,
                  yieldNow: yielder(),
                },
              ),
            );
        } catch (error) {
          this.context.free({ chunks: out });
          throw error;
        }
        return out;
      },
      inputs.samples,
    );
  }

  /**
   * An input-split layer, first half: for every computed output block, the sum of the products
   * of this member's input blocks (null where it holds no active tile of that row).
   */
  accumulate(l: number, inputs: SerializedBatch, signal?: AbortSignal): Promise<PoolLayerResult> {
    this.checkLayer(l);
    const set = this.inputSets[l];
    if (!set) throw new HepexError('invalid-argument', `Layer ${l + 1} is not split by inputs.`);
    const { backend, operands } = this.server.tools();
    const { model } = this.context;
    const layer = model.exec.layers[l];
    const next = yielder();
    return this.step(
      () => [loadBatch(this.context, inputs, l, set).chunks as Ciphertexts],
      async ([current], ops) => {
        const out: Ciphertexts = [];
        try {
          for (const blocks of current) {
            const row: (Ciphertext | null)[] = new Array<Ciphertext | null>(
              layer.tiling.outBlocks,
            ).fill(null);
            out.push(row);
            for (let o = 0; o < row.length; o++) {
              if (!layer.computedOutputs[o]) continue;
              throwIfAborted(signal);
              row[o] = accumulateBlock(
                model,
                backend,
                operands,
                l,
                o,
                blocks,
                (i) => set.has(i),
                ops,
              );
              await next();
            }
          }
        } catch (error) {
          this.context.free({ chunks: out });
          throw error;
        }
        return out;
      },
      inputs.samples,
    );
  }

  /**
   * An input-split layer, second half: this member's output blocks from every member's partial
   * sums (`partials`: per chunk, outBlocks x members entries, block o's at o * members + j),
   * added (one addition per partial past the first: the single worker's count) and finished.
   */
  finish(
    l: number,
    partials: SerializedBatch,
    members: number,
    signal?: AbortSignal,
  ): Promise<PoolLayerResult> {
    this.checkLayer(l);
    const { backend, operands } = this.server.tools();
    const { model } = this.context;
    const layer = model.exec.layers[l];
    const mine = new Set(this.shares[l].blocks);
    const next = yielder();
    return this.step(
      () => [
        loadCiphertexts(this.context, partials, {
          blocks: layer.tiling.outBlocks * members,
          live: Uint8Array.from({ length: layer.tiling.outBlocks * members }, (_, e) =>
            mine.has(Math.floor(e / members)) ? 1 : 0,
          ),
          primes: model.params.depth + 1 - layer.levelIn,
          polys: model.mode === 'encrypted-model' ? 3 : 2,
          what: `the partial sums of layer ${l + 1}`,
        }).chunks as Ciphertexts,
      ],
      async ([loaded], ops) => {
        const out: Ciphertexts = [];
        try {
          for (const row of loaded) {
            const done: (Ciphertext | null)[] = new Array<Ciphertext | null>(
              layer.tiling.outBlocks,
            ).fill(null);
            out.push(done);
            for (const o of this.shares[l].blocks) {
              throwIfAborted(signal);
              let acc: Ciphertext | null = null;
              for (let j = 0; j < members; j++) {
                const part = row[o * members + j];
                if (!part) continue;
                if (acc === null) {
                  // Taken over (finishBlock consumes it), so the loaded batch no longer frees it.
                  acc = part;
                  row[o * members + j] = null;
                } else {
                  backend.add(acc, part);
                  ops.add++;
                }
              }
              if (acc === null)
                throw new HepexError(
                  'he-runtime',
                  `Layer ${l + 1} output block ${o} has no partial sum.`,
                );
              done[o] = finishBlock(model, backend, operands, l, o, acc, ops);
              await next();
            }
          }
        } catch (error) {
          this.context.free({ chunks: out });
          throw error;
        }
        return out;
      },
      partials.samples,
    );
  }

  /**
   * The first layer while its inputs arrive in groups (the client encrypts and sends as it
   * goes, so the workers start before the last input is encrypted): each group's products are
   * added into running sums per target block (this member's blocks when split by outputs,
   * every computed output when split by inputs), and the group's inputs are freed. The sums
   * are exact modular arithmetic, so the result and the operation counts equal one pass over
   * all inputs. `first` drops any sums a cancelled run left; `last` checks every input this
   * member reads arrived once, then finishes its blocks (split by outputs) or returns the
   * partial sums (split by inputs: `finish` comes next, as after `accumulate`).
   */
  stream(
    l: number,
    inputs: SerializedBatch,
    flags: { first: boolean; last: boolean },
    signal?: AbortSignal,
  ): Promise<PoolLayerResult> {
    this.checkLayer(l);
    if (flags.first) this.dropStream();
    const { backend, operands } = this.server.tools();
    const { model } = this.context;
    const layer = model.exec.layers[l];
    const share = this.shares[l];
    const set = this.inputSets[l];
    const targets =
      share.split === 'inputs'
        ? [...layer.computedOutputs.keys()].filter((o) => layer.computedOutputs[o])
        : share.blocks;
    const state = (this.streaming ??= { layer: l, sums: [], received: [] });
    if (state.layer !== l)
      throw new HepexError(
        'invalid-argument',
        `Layer ${l + 1}'s inputs arrived while layer ${state.layer + 1}'s were streaming.`,
      );
    const next = yielder();
    return this.step(
      () => [loadBatch(this.context, inputs, l, set ?? undefined).chunks as Ciphertexts],
      async ([loaded], ops) => {
        try {
          for (const [k, row] of loaded.entries()) {
            const received = (state.received[k] ??= new Set());
            const present = (i: number) => row[i] !== null;
            for (let i = 0; i < row.length; i++) {
              if (!present(i)) continue;
              if (received.has(i))
                throw new HepexError(
                  'he-runtime',
                  `Layer ${l + 1} input block ${i} arrived twice.`,
                );
              received.add(i);
            }
            const sums = (state.sums[k] ??= new Array<Ciphertext | null>(
              layer.tiling.outBlocks,
            ).fill(null));
            for (const o of targets) {
              throwIfAborted(signal);
              const part = accumulateBlock(model, backend, operands, l, o, row, present, ops);
              if (!part) continue;
              const sum = sums[o];
              if (sum === null) sums[o] = part;
              else {
                backend.add(sum, part);
                ops.add++;
                backend.free(part);
              }
              await next();
            }
          }
          if (!flags.last) return [];
          return this.endStream(l, targets, ops, signal);
        } catch (error) {
          this.dropStream();
          throw error;
        }
      },
      inputs.samples,
    );
  }

  /** The streamed layer's end: every input arrived once; its finished blocks or partial sums. */
  private endStream(
    l: number,
    targets: readonly number[],
    ops: OpCounts,
    signal?: AbortSignal,
  ): Ciphertexts {
    const state = this.streaming!;
    const { backend, operands } = this.server.tools();
    const { model } = this.context;
    const layer = model.exec.layers[l];
    const share = this.shares[l];
    const set = this.inputSets[l];
    for (const [k, received] of state.received.entries()) {
      for (let i = 0; i < layer.tiling.inBlocks; i++) {
        if (layer.liveInputs[i] && (!set || set.has(i)) && !received.has(i))
          throw new HepexError(
            'he-runtime',
            `Layer ${l + 1} input block ${i} of chunk ${k + 1} never arrived.`,
          );
      }
    }
    this.streaming = null;
    if (share.split === 'inputs') return state.sums;
    const out: Ciphertexts = [];
    try {
      for (const sums of state.sums) {
        const done = new Array<Ciphertext | null>(layer.tiling.outBlocks).fill(null);
        out.push(done);
        for (const o of targets) {
          throwIfAborted(signal);
          const acc = sums[o];
          if (acc === null)
            throw new HepexError(
              'he-runtime',
              `Layer ${l + 1} output block ${o} has no active tile.`,
            );
          // finishBlock consumes the sum.
          sums[o] = null;
          done[o] = finishBlock(model, backend, operands, l, o, acc, ops);
        }
      }
    } catch (error) {
      this.context.free({ chunks: out });
      throw error;
    } finally {
      this.context.free({ chunks: state.sums });
    }
    return out;
  }

  /** Frees a stream's running sums (a cancelled or failed run's, or before a new one). */
  dropStream(): void {
    if (!this.streaming) return;
    this.context.free({ chunks: this.streaming.sums });
    this.streaming = null;
  }

  delete(): void {
    this.streaming = null;
    this.context.delete();
  }
}

/** Lets a worker take a cancel message between output blocks, at most every ~30 ms. */
function yielder(): () => Promise<void> {
  let last = performance.now();
  return async () => {
    if (performance.now() - last < 30) return;
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
    last = performance.now();
  };
}
