import { HepexError } from '../model/errors';
import { zeroOps, type ExecutionPlan } from '../tiling/executionPlan';
import type { HeModel } from './heModel';
import {
  costOfExecution,
  opsMs,
  polyBytes,
  REFERENCE_TIMINGS,
  streamedWeightMs,
  timingFor,
  type CostOptions,
  type CostReport,
} from './costModel';

/**
 * Encrypted inference on K workers. A layer's output blocks are independent of each other
 * (heInterpreter.interpretLayer), and each block's products are summed with exact modular
 * additions, so a layer splits either by output blocks (each worker reads every input) or by
 * input blocks (each worker sums its inputs' products, the partial sums are added and finished
 * by the block's owner); outputs gather before the next layer. Either way the operations in
 * total are exactly the single worker's, and because CKKS evaluation is deterministic, so are
 * the ciphertexts.
 */

/** Hard cap on pool size: beyond it the per-layer broadcast of inputs outweighs the split. */
export const MAX_HE_WORKERS = 16;

export function checkWorkerCount(workers: number): number {
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_HE_WORKERS) {
    throw new HepexError(
      'invalid-argument',
      `The HE worker count must be a whole number from 1 to ${MAX_HE_WORKERS}, got ${workers}.`,
    );
  }
  return workers;
}

/**
 * One worker's part of one layer. `split: 'outputs'`: it computes `blocks` whole, reading every
 * input block. `split: 'inputs'`: it first sums the products of its `inputs` for every output
 * block (partial sums travel, not the inputs), then finishes `blocks` from everyone's partials.
 */
export interface LayerShare {
  readonly split: 'outputs' | 'inputs';
  readonly blocks: readonly number[];
  readonly inputs?: readonly number[];
}

export interface BlockAssignment {
  readonly workers: number;
  /** Per layer, per worker. */
  readonly shares: readonly (readonly LayerShare[])[];
  /** Per layer: predicted wall ms of the layer on the pool, one chunk (slowest worker per phase). */
  readonly layerMs: readonly number[];
  /** Per layer: every worker's compute added up, one chunk, ms (what shares the cores). */
  readonly workMs: readonly number[];
}

interface LayerCosts {
  /** One product and the addition that accumulates it, ms. */
  readonly productMs: number;
  /** Everything after the products for one output block, ms. */
  readonly finishMs: number;
}

/**
 * Per layer, one chunk: the ms of one product (with its accumulating addition, and its encode
 * when weights are streamed) and of finishing one output block (rescales, rotations, bias,
 * activation, mask: the layer's figure less its products, shared equally by computed blocks).
 */
function layerCosts(
  exec: ExecutionPlan,
  cost: CostReport,
  timings: CostOptions['timings'] = REFERENCE_TIMINGS,
  streamed = false,
): LayerCosts[] {
  const table = timingFor(exec.plan.tile.ringDegree, timings);
  const dataPrimes = exec.depth + 1;
  return exec.layers.map((layer, l) => {
    const computed = layer.computedOutputs.reduce((s, v) => s + v, 0);
    const product = zeroOps();
    product[exec.mode === 'encrypted-model' ? 'multiply' : 'multiplyPlain'] = 1;
    product.add = 1;
    const multiplyMs = opsMs(product, table, dataPrimes - layer.levelIn);
    // Streamed weights are made per use: an encode, and in the encrypted-model mode a
    // public-key encryption at the layer's level (the cost model's own price of it).
    const productMs =
      multiplyMs + (streamed ? streamedWeightMs(exec.mode, layer.levelIn, table, dataPrimes) : 0);
    const layerMs = cost.layers[l].predictedMs / cost.chunks;
    const finishMs = computed
      ? Math.max(0, layerMs - layer.activeTileCount * multiplyMs) / computed
      : 0;
    return { productMs, finishMs };
  });
}

/** Longest first onto the least-loaded worker (LPT): within 4/3 of the best split, deterministic. */
function lpt(items: readonly number[], weight: (item: number) => number, workers: number) {
  const order = [...items].sort((a, b) => weight(b) - weight(a) || a - b);
  const load = new Array<number>(workers).fill(0);
  const mine: number[][] = Array.from({ length: workers }, () => []);
  for (const item of order) {
    let best = 0;
    for (let w = 1; w < workers; w++) if (load[w] < load[best]) best = w;
    mine[best].push(item);
    load[best] += weight(item);
  }
  mine.forEach((list) => list.sort((a, b) => a - b));
  return { mine, load };
}

/**
 * Splits every layer over `workers`. A layer with more live inputs than workers x computed
 * outputs (the first layer of an MLP: 196 inputs, 32 outputs) splits by input blocks, so each
 * input ciphertext goes to one worker and only partial sums travel; any other layer splits by
 * output blocks, each worker reading every input.
 */
export function assignBlocks(
  exec: ExecutionPlan,
  workers: number,
  options: CostOptions & { streamed?: boolean } = {},
): BlockAssignment {
  checkWorkerCount(workers);
  const cost = costOfExecution(exec, { ...options, samples: exec.plan.tile.batch });
  const costs = layerCosts(exec, cost, options.timings, options.streamed);
  const shares: LayerShare[][] = [];
  const layerMs: number[] = [];
  const workMs: number[] = [];
  const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
  exec.layers.forEach((layer, l) => {
    const { productMs, finishMs } = costs[l];
    const t = layer.tiling;
    const computed = [...layer.computedOutputs.keys()].filter((o) => layer.computedOutputs[o]);
    const live = [...layer.liveInputs.keys()].filter((i) => layer.liveInputs[i]);
    const byInputs = workers > 1 && live.length > workers * computed.length;
    if (byInputs) {
      const column = (i: number) => {
        let n = 0;
        for (let o = 0; o < t.outBlocks; o++) n += layer.activeTiles[o * t.inBlocks + i];
        return n * productMs;
      };
      const ins = lpt(live, column, workers);
      const outs = lpt(computed, () => finishMs, workers);
      shares.push(ins.mine.map((inputs, j) => ({ split: 'inputs', inputs, blocks: outs.mine[j] })));
      layerMs.push(Math.max(0, ...ins.load) + Math.max(0, ...outs.load));
      workMs.push(sum(ins.load) + sum(outs.load));
    } else {
      const block = (o: number) => layer.activePerOutput[o] * productMs + finishMs;
      const outs = lpt(computed, block, workers);
      shares.push(outs.mine.map((blocks) => ({ split: 'outputs', blocks })));
      layerMs.push(Math.max(0, ...outs.load));
      workMs.push(sum(outs.load));
    }
  });
  return { workers, shares, layerMs, workMs };
}

export interface PoolCost {
  readonly workers: number;
  /** Client: encode + encrypt inputs, decrypt + decode outputs, ms (one thread does it). */
  readonly clientMs: number;
  /** The client's encode + encrypt share of clientMs, ms: it overlaps the first layer. */
  readonly encryptMs: number;
  /** Per layer: the pool's wall time, all chunks, ms (the first layer's includes the encryption). */
  readonly layerMs: readonly number[];
  /** Per layer: ciphertext bytes moved between the client and the workers. */
  readonly transferBytes: readonly number[];
  readonly transferMs: number;
  /** Wall time of one inference on the pool, ms. */
  readonly predictedMs: number;
  /** The single-worker prediction of the same plan, ms: one thread, nothing moved. */
  readonly singleWorkerMs: number;
  readonly speedup: number;
}

/**
 * Input blocks per streamed message of the first layer (hePool.ts): small enough that the
 * workers start early (8 blocks at N = 16384 is ~40 ms of the client's encryption), large
 * enough that messages stay few.
 */
export const DEFAULT_STREAM_GROUP = 8;

/**
 * Predicted wall time on `workers` workers. The client streams the first layer's inputs in
 * groups of `streamGroup` blocks as it encrypts them, so that layer ends no sooner than the
 * client's encryption plus the last group's share of work, nor sooner than the slowest
 * worker's compute; every other layer is its slowest worker; then the client decrypts. With
 * fewer `cores` than threads (the client and the workers), no phase ends sooner than its work
 * added up over the cores. Moving ciphertexts costs `transferMsPerMiB` (measured by the pool:
 * moving, loading and saving 1 MiB). Bytes per layer: split by outputs, every worker loads
 * every input (`sharedInputs`: packed once into memory they all read, else copied to each);
 * split by inputs, each input once plus every worker's partial sums; then the finished outputs.
 */
export function poolCost(
  exec: ExecutionPlan,
  workers: number,
  transferMsPerMiB: number,
  options: CostOptions & {
    sharedInputs?: boolean;
    streamed?: boolean;
    /** Cores the threads share (default: one each, workers + 1). */
    cores?: number;
    streamGroup?: number;
  } = {},
): PoolCost {
  const assignment = assignBlocks(exec, workers, options);
  const cost = costOfExecution(exec, options);
  const chunks = cost.chunks;
  const N = exec.plan.tile.ringDegree;
  const dataPrimes = exec.depth + 1;
  const table = timingFor(N, options.timings ?? REFERENCE_TIMINGS);
  const serverMs = cost.layers.reduce((s, l) => s + l.predictedMs, 0);
  const clientMs = cost.total.predictedMs - serverMs;
  const { encode, encrypt } = exec.clientOps;
  const encryptMs = chunks * opsMs({ ...zeroOps(), encode, encrypt }, table, dataPrimes);
  // One worker's time from the same costs, with nothing overlapped or moved: the single session.
  const single = assignBlocks(exec, 1, options).layerMs.reduce((s, v) => s + v, 0);
  const singleWorkerMs = clientMs + chunks * single;
  const cores = Math.max(1, Math.min(options.cores ?? workers + 1, workers + 1));
  const group = options.streamGroup ?? DEFAULT_STREAM_GROUP;
  const layerMs = assignment.layerMs.map((ms, l) => {
    const wall = chunks * ms;
    const work = chunks * assignment.workMs[l];
    if (l > 0) return Math.max(wall, work / Math.min(cores, workers));
    // The first layer: the last group's work still follows the client's last encryption.
    const share = assignment.shares[0][0];
    const perWorker = Math.max(
      1,
      ...assignment.shares[0].map((sh) =>
        share.split === 'inputs'
          ? (sh.inputs?.length ?? 0)
          : exec.layers[0].liveInputs.reduce((a, v) => a + v, 0),
      ),
    );
    const tailMs = wall / Math.ceil(perWorker / group);
    return Math.max(encryptMs + tailMs, wall, (encryptMs + work) / cores);
  });
  const transferBytes = exec.layers.map((layer, l) => {
    const primes = dataPrimes - layer.levelIn;
    const inputs = layer.liveInputs.reduce((s, v) => s + v, 0);
    const outputs = layer.computedOutputs.reduce((s, v) => s + v, 0);
    const outPrimes = dataPrimes - layer.levelIn - layer.depth;
    const partialPolys = exec.mode === 'encrypted-model' ? 3 : 2;
    const moved =
      assignment.shares[l][0].split === 'inputs'
        ? inputs * polyBytes(N, primes, 2) + workers * outputs * polyBytes(N, primes, partialPolys)
        : (options.sharedInputs ? 1 : workers) * inputs * polyBytes(N, primes, 2);
    return chunks * (moved + outputs * polyBytes(N, outPrimes, 2));
  });
  const transferMs =
    (transferBytes.reduce((s, b) => s + b, 0) / 2 ** 20) * Math.max(0, transferMsPerMiB);
  // The encryption is inside the first layer's wall time; the decryption follows the last.
  const predictedMs = clientMs - encryptMs + layerMs.reduce((s, v) => s + v, 0) + transferMs;
  return {
    workers,
    clientMs,
    encryptMs,
    layerMs,
    transferBytes,
    transferMs,
    predictedMs,
    singleWorkerMs,
    speedup: singleWorkerMs / predictedMs,
  };
}

/** One streamed message of the first layer: chunk `chunk`'s input `blocks`, to workers `to`. */
export interface StreamSend {
  readonly chunk: number;
  readonly blocks: readonly number[];
  readonly to: readonly number[];
}

/**
 * The order the client encrypts and sends the first layer's inputs in, `group` blocks a
 * message: split by inputs, each worker's own blocks, the workers taken in turn (so all start
 * at once); split by outputs, every live block to every worker. `lastOf[j]`: the index of
 * worker j's last message (-1 when none goes to it).
 */
export function streamSchedule(
  exec: ExecutionPlan,
  shares: readonly LayerShare[],
  chunks: number,
  group: number,
): { sends: StreamSend[]; lastOf: Int32Array } {
  const layer = exec.layers[0];
  const groupsOf = (blocks: readonly number[]) => {
    const out: number[][] = [];
    for (let at = 0; at < blocks.length; at += group) out.push(blocks.slice(at, at + group));
    return out;
  };
  const sends: StreamSend[] = [];
  for (let chunk = 0; chunk < chunks; chunk++) {
    if (shares[0].split === 'inputs') {
      const lists = shares.map((share) => groupsOf(share.inputs ?? []));
      const rounds = Math.max(...lists.map((g) => g.length));
      for (let r = 0; r < rounds; r++)
        lists.forEach((groups, j) => {
          if (groups[r]) sends.push({ chunk, blocks: groups[r], to: [j] });
        });
    } else {
      const live = [...layer.liveInputs.keys()].filter((i) => layer.liveInputs[i]);
      const all = shares.map((_, j) => j);
      for (const blocks of groupsOf(live)) sends.push({ chunk, blocks, to: all });
    }
  }
  const lastOf = new Int32Array(shares.length).fill(-1);
  sends.forEach((send, g) => send.to.forEach((j) => (lastOf[j] = g)));
  return { sends, lastOf };
}

/**
 * Predicted peak bytes of each worker: keys, the largest layer input it receives, the working
 * set, and its share of the model's operands (all of them resident, or with weights streamed:
 * biases and constants only, plus the tile being multiplied).
 */
export function workerPeakBytes(
  model: HeModel,
  shares: readonly (readonly LayerShare[])[],
  weights: 'resident' | 'streamed',
): number[] {
  const cost = costOfExecution(model.exec);
  const N = model.params.ringDegree;
  const polys = model.mode === 'encrypted-model' ? 2 : 1;
  const dataPrimes = model.params.depth + 1;
  const K = shares[0]?.length ?? 1;
  return Array.from({ length: K }, (_, j) => {
    let modelBytes = 0;
    let inputBytes = 0;
    model.exec.layers.forEach((layer, l) => {
      const share = shares[l][j];
      const t = layer.tiling;
      const primes = dataPrimes - layer.levelIn;
      const operand = polyBytes(N, primes, polys);
      let tiles = 0;
      if (weights === 'resident') {
        if (share.inputs)
          for (const i of share.inputs)
            for (let o = 0; o < t.outBlocks; o++) tiles += layer.activeTiles[o * t.inBlocks + i];
        else for (const o of share.blocks) tiles += layer.activePerOutput[o];
      }
      modelBytes += (tiles + share.blocks.length) * operand;
      modelBytes += (layer.quadraticActivation ? 2 : 0) * operand + (layer.masked ? operand : 0);
      const inputs = share.inputs
        ? share.inputs.length + t.outBlocks * K
        : layer.liveInputs.reduce((s, v) => s + v, 0);
      inputBytes = Math.max(inputBytes, inputs * polyBytes(N, primes, 2));
    });
    return cost.total.keyBytes + inputBytes + cost.total.workingSetBytes + modelBytes;
  });
}
