import { beforeAll, describe, expect, it } from 'vitest';
import { pruneModel } from '../../src/cli/commands/prune';
import { parseFlags } from '../../src/cli/args';
import { pruneFlags, settingsFromFlags } from '../../src/cli/pruneSettings';
import { takeSamples, type DatasetSplit } from '../../src/core/io/dataset';
import { mnistSplit } from '../../src/core/io/mnist';
import { LINEAR, SQUARE, type Activation } from '../../src/core/model/activation';
import { chooseHeTile, prepareHeModel } from '../../src/core/he/heModel';
import type { HeMode } from '../../src/core/tiling/executionPlan';
import { setupBackend, tf } from '../../src/engines/tfjs/backend';
import { loadMnist } from '../../src/engines/tfjs/mnistNode';
import { createSpec, initNetwork } from '../../src/engines/tfjs/models';
import { evaluateNetwork } from '../../src/engines/tfjs/train';
import { createTfjsTrainer } from '../../src/engines/tfjs/trainer';
import { runHeInference } from '../../src/engines/seal/heInference';
import { SealHeSession } from '../../src/engines/seal/heSession';
import type { Seal } from '../../src/engines/seal/loadSeal';
import { loadSealWithHeap } from '../fixtures/sealHeap';
import { randomInputs, randomNetwork } from '../fixtures/networks';

// Leak checks with real node-seal and real tfjs: many calls in one process must leave the
// count of live SEAL objects (every object the engine creates goes through its SealTracker),
// the WebAssembly heap (which never shrinks) and tf.memory().numTensors flat after the first.

const RUNS = 100;
let seal: Seal;
let memory: WebAssembly.Memory | undefined;

beforeAll(async () => {
  ({ seal, memory } = await loadSealWithHeap());
});

interface SealCase {
  readonly name: string;
  readonly sizes: readonly number[];
  readonly acts: readonly Activation[];
  readonly mode: HeMode;
  readonly ringDegree: number;
}

// Everything at N = 8192 (the smallest ring) to keep 100 runs quick: linear activations keep
// the MLP at depth 2; the one-layer square network (depth 2 too) runs the ct x ct square and its
// relinearization.
const CASES: readonly SealCase[] = [
  {
    name: 'MLP 20-12-5, plain model',
    sizes: [20, 12, 5],
    acts: [LINEAR, LINEAR],
    mode: 'plain-model',
    ringDegree: 8192,
  },
  {
    name: 'MLP 20-12-5, encrypted model',
    sizes: [20, 12, 5],
    acts: [LINEAR, LINEAR],
    mode: 'encrypted-model',
    ringDegree: 8192,
  },
  {
    name: 'square layer 20-5, encrypted model',
    sizes: [20, 5],
    acts: [SQUARE],
    mode: 'encrypted-model',
    ringDegree: 8192,
  },
];

describe(`${RUNS} encrypted inferences in one SEAL session`, () => {
  for (const c of CASES) {
    it(`${c.name}: live SEAL objects exactly flat, WASM heap stops growing`, async () => {
      expect(memory).toBeDefined();
      const network = randomNetwork(c.sizes, c.acts, 400);
      const model = prepareHeModel(network, chooseHeTile(network, { t1: 4, t2: 8 }), {
        mode: c.mode,
      });
      expect(model.params.ringDegree).toBe(c.ringDegree);
      const session = await SealHeSession.create(seal, model);
      const live: number[] = [];
      const heap: number[] = [];
      try {
        for (let k = 0; k < RUNS; k++) {
          // One sample each, a different one every time (the same code path as hepex infer --he).
          const x = randomInputs(1, c.sizes[0], 500 + k);
          const report = await runHeInference(session, network, x, 1);
          expect(report.maxAbsError).toBeLessThan(1e-3);
          live.push(session.liveObjects.count);
          heap.push(memory!.buffer.byteLength);
        }
        // Exactly flat after the first (warm-up) inference: keys and model only.
        expect(new Set(live.slice(1))).toEqual(new Set([live[0]]));
        // WASM memory never shrinks; SEAL's pool grows during the first few inferences and
        // then stops. One leaked ciphertext per run would be >= 2 x 3 x 8192 x 8 B = 384 KiB.
        expect(heap[RUNS - 1]).toBe(heap[9]);
        console.info(
          `[leak] ${c.name}, N=${c.ringDegree}: live SEAL objects ${live[0]} after run 1, ${live[RUNS - 1]} after run ${RUNS}; WASM heap ${mib(heap[0])} after run 1, ${mib(heap[9])} after run 10, ${mib(heap[RUNS - 1])} after run ${RUNS}`,
        );
      } finally {
        session.delete();
      }
      // And everything goes with the session.
      expect(session.liveObjects).toEqual({ count: 0, bytes: 0 });
    });
  }
});

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

describe(`${RUNS} eval and prune calls keep tf.memory().numTensors flat`, () => {
  let small: DatasetSplit;
  beforeAll(async () => {
    await setupBackend({ prefer: 'cpu' });
    const split = mnistSplit(await loadMnist(), 1);
    // Tiny real data: 32 training and 32 test digits.
    small = { ...split, train: takeSamples(split.train, 32), test: takeSamples(split.test, 32) };
  });

  it('eval: evaluateNetwork (what hepex eval calls), classifier and autoencoder', async () => {
    const mlp = initNetwork(createSpec('mlp', [784, 16, 10]), 1);
    const ae = initNetwork(createSpec('ae', [784, 16, 784]), 2);
    const counts: number[] = [];
    for (let k = 0; k < RUNS; k++) {
      await evaluateNetwork(k % 2 ? ae : mlp, small.train, small.test, {
        noise: k % 4 === 3 ? 0.3 : 0,
      });
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts)).toEqual(new Set([counts[0]]));
    console.info(
      `[leak] eval x${RUNS}: numTensors ${counts[0]} after call 1, ${counts[RUNS - 1]} after call ${RUNS}`,
    );
  });

  it('prune: pruneModel (what hepex prune calls), hepex method with a 1-epoch retrain', async () => {
    const network = initNetwork(createSpec('mlp', [784, 16, 10]), 3);
    const settings = settingsFromFlags(
      parseFlags(['--tile', '4x8', '--retrain-epochs', '1', '--seed', '5'], pruneFlags),
    );
    const trainer = createTfjsTrainer(small, { seed: 5 });
    const io = { progress: () => {}, signal: new AbortController().signal };
    const counts: number[] = [];
    for (let k = 0; k < RUNS; k++) {
      const method = (['hepex', 'tile', 'magnitude'] as const)[k % 3];
      const result = await pruneModel(
        { name: 'leak', network },
        trainer,
        method,
        0.9,
        settings,
        io,
      );
      expect(result.records.length).toBeGreaterThan(1);
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts)).toEqual(new Set([counts[0]]));
    console.info(
      `[leak] prune x${RUNS}: numTensors ${counts[0]} after call 1, ${counts[RUNS - 1]} after call ${RUNS}`,
    );
  });
});
