import { beforeAll, describe, expect, it } from 'vitest';
import { LINEAR, SQUARE, type Activation } from '../../src/core/model/activation';
import { costOfExecution } from '../../src/core/he/costModel';
import { HepexError } from '../../src/core/model/errors';
import { OP_KINDS, type HeMode } from '../../src/core/tiling/executionPlan';
import { chooseHeTile, prepareHeModel, referenceOutputs } from '../../src/core/he/heModel';
import type { Network } from '../../src/core/model/network';
import { planTiles } from '../../src/core/tiling/tilePlan';
import { calibrate } from '../../src/engines/seal/calibrate';
import { runHeInference } from '../../src/engines/seal/heInference';
import { SealHeSession } from '../../src/engines/seal/heSession';
import { HeClientSide } from '../../src/engines/seal/heClientSide';
import { HeServerSide } from '../../src/engines/seal/heServerSide';
import { SessionContext } from '../../src/engines/seal/sessionContext';
import type { Seal } from '../../src/engines/seal/loadSeal';
import { loadSealWithHeap } from '../fixtures/sealHeap';
import {
  maxAbsDiff,
  randomInputs,
  randomNetwork,
  randomPermutation,
  tilePrune,
} from '../fixtures/networks';

// Real node-seal (Node 24 via scripts/node). N = 16384 is the smallest ring degree that carries
// these depths (3 to 8 levels, B-first chains); the networks are small so each case takes seconds.
const POLY: Activation = { type: 'poly', coefficients: [0.1, 0.5, 0.25] };

let seal: Seal;
let memory: WebAssembly.Memory | undefined;

beforeAll(async () => {
  ({ seal, memory } = await loadSealWithHeap());
});

interface Case {
  readonly name: string;
  readonly sizes: readonly number[];
  readonly acts: readonly Activation[];
  readonly t: readonly [number, number];
}

const MLP: Case = { name: 'MLP 20-12-5', sizes: [20, 12, 5], acts: [POLY, LINEAR], t: [4, 8] };
// Six levels (B-first: the A layers 2 and 4 carry no activation, only layer 2 a mask).
const DEEP_AUTOENCODER: Case = {
  name: 'autoencoder 24-12-6-12-24',
  sizes: [24, 12, 6, 12, 24],
  acts: [SQUARE, LINEAR, LINEAR, LINEAR],
  t: [4, 4],
};
// Eight levels (B, A + mask, B, A; three squares): fits N = 16384 only with the 50-bit first prime.
const DEPTH_8_AUTOENCODER: Case = {
  name: 'autoencoder 24-12-6-12-24, depth 8',
  sizes: [24, 12, 6, 12, 24],
  acts: [SQUARE, SQUARE, SQUARE, LINEAR],
  t: [4, 4],
};
const AUTOENCODER: Case = {
  name: 'autoencoder 24-12-24',
  sizes: [24, 12, 24],
  acts: [SQUARE, POLY],
  t: [4, 4],
};

function build(c: Case, pruned: boolean, mode: HeMode) {
  const task = c.sizes[0] === c.sizes[c.sizes.length - 1] ? 'reconstruction' : 'classification';
  let network: Network = randomNetwork(c.sizes, c.acts, 100, task);
  const tile = chooseHeTile(network, { t1: c.t[0], t2: c.t[1] });
  if (pruned) network = tilePrune(network, planTiles(c.sizes, tile), 0.35, 101);
  const model = prepareHeModel(network, tile, {
    mode,
    permutation: randomPermutation(c.sizes, 102),
  });
  return { network, model };
}

describe('encrypted inference with SEAL CKKS', () => {
  // The deep autoencoder in the plain-model mode only, to keep the suite fast.
  const runs = [
    [MLP, 'plain-model'],
    [MLP, 'encrypted-model'],
    [DEEP_AUTOENCODER, 'plain-model'],
    [DEPTH_8_AUTOENCODER, 'plain-model'],
    [AUTOENCODER, 'encrypted-model'],
  ] as const;
  for (const [c, mode] of runs) {
    {
      for (const pruned of [false, true]) {
        it(`${c.name}, ${mode}, ${pruned ? 'tile-pruned' : 'unpruned'}: matches the forward pass, counts = cost model`, async () => {
          const { network, model } = build(c, pruned, mode);
          expect(model.params.ringDegree).toBe(16384);
          if (c === DEPTH_8_AUTOENCODER) {
            expect(model.exec.depth).toBe(8);
            expect(model.params.coeffModulusBits).toEqual([50, ...Array(8).fill(40), 60]);
          }
          const session = await SealHeSession.create(seal, model);
          try {
            // Keys for exactly the plan's rotation steps (all powers of two would be 2 x 13).
            expect(session.info.galoisKeys).toBe(model.exec.rotationSteps.length);
            expect(session.info.galoisKeys).toBeLessThan(10);
            const samples = 7;
            const report = await runHeInference(
              session,
              network,
              randomInputs(samples, c.sizes[0], 103),
              samples,
            );
            // The spec asks for 1e-3; exact scale tracking gives ~1e-5, so 1e-4 catches regressions.
            expect(report.maxAbsError).toBeLessThan(1e-4);
            expect(report.maxAbsError).toBeGreaterThan(0); // really went through CKKS
            for (const k of OP_KINDS) expect(report.ops[k], k).toBe(report.expectedOps[k]);
            expect(report.opsMatchPlan).toBe(true);
            if (model.task === 'classification') expect(report.agreement).toBe(1);
            if (pruned) {
              expect(model.exec.weightCiphertexts).toBeLessThan(model.exec.plan.weightTiles);
              expect(session.info.weightCiphertexts).toBe(model.exec.weightCiphertexts);
            }
            expect(report.peakBytes).toBeGreaterThan(
              session.info.keyBytes + session.info.modelBytes,
            );
            // The cost model's peak is what the memory budget is checked against: an upper
            // bound of the measured peak, and not a loose one.
            const predictedPeak = costOfExecution(model.exec, { samples }).total.peakBytes;
            expect(report.peakBytes).toBeLessThanOrEqual(predictedPeak);
            expect(report.peakBytes).toBeGreaterThan(0.6 * predictedPeak);
            // Only keys and model remain after the run.
            expect(session.liveObjects.bytes).toBe(session.info.keyBytes + session.info.modelBytes);
          } finally {
            session.delete();
          }
          expect(session.liveObjects.count).toBe(0);
        });
      }
    }
  }

  it('the client and server sides split cleanly: the server holds no secret key, inputs travel as bytes', async () => {
    const { network, model } = build(MLP, true, 'plain-model');
    const context = new SessionContext(seal, model);
    try {
      const client = new HeClientSide(context);
      const server = new HeServerSide(
        context,
        client.evaluationKeys,
        client.publicEncryptor,
        false,
      );
      await server.encodeModel({});
      // Nothing the server side holds is a secret key or can decrypt.
      const held = Object.values(server as unknown as Record<string, unknown>);
      for (const v of held) {
        expect(v).not.toBeInstanceOf(seal.SecretKey);
        expect(v).not.toBeInstanceOf(seal.Decryptor);
      }
      const samples = 6;
      const inputs = randomInputs(samples, 20, 105);
      const uploaded = client.serialize(client.encrypt(inputs, samples));
      const { result } = await server.infer(server.deserialize(uploaded));
      const outputs = client.decrypt(result);
      const expected = referenceOutputs(model, network, inputs, samples);
      expect(maxAbsDiff(outputs, expected)).toBeLessThan(1e-3);
    } finally {
      context.delete();
    }
    expect(context.tracker.liveCount).toBe(0);
  });

  it('handles several batch chunks (the last partial)', async () => {
    const { network, model } = build(MLP, true, 'plain-model');
    const session = await SealHeSession.create(seal, model);
    try {
      const samples = model.tile.batch + 5;
      const report = await runHeInference(
        session,
        network,
        randomInputs(samples, 20, 104),
        samples,
      );
      expect(report.maxAbsError).toBeLessThan(1e-3);
      expect(report.opsMatchPlan).toBe(true);
      expect(report.ops.encrypt).toBe(2 * model.exec.inputCiphertexts);
    } finally {
      session.delete();
    }
  });

  it('reports measured ms and operations per layer (summed over chunks) next to the cost model', async () => {
    const { network, model } = build(DEEP_AUTOENCODER, true, 'plain-model');
    const session = await SealHeSession.create(seal, model);
    try {
      const samples = model.tile.batch + 3; // two chunks
      const report = await runHeInference(
        session,
        network,
        randomInputs(samples, DEEP_AUTOENCODER.sizes[0], 110),
        samples,
      );
      const cost = costOfExecution(model.exec, { samples });
      expect(report.layers).toHaveLength(DEEP_AUTOENCODER.sizes.length - 1);
      report.layers.forEach((l, i) => {
        expect(l.layer).toBe(i);
        expect(Number.isFinite(l.measuredMs)).toBe(true);
        expect(l.measuredMs).toBeGreaterThan(0);
        // Operations land in the layer that did them: both chunks, equal to the plan's layer.
        for (const k of OP_KINDS) expect(l.ops[k], `layer ${i} ${k}`).toBe(cost.layers[i].ops[k]);
        expect(l.rotations).toBe(cost.layers[i].rotations);
        expect(l.multiplications).toBe(cost.layers[i].multiplications);
        expect(l.weightCiphertexts).toBe(cost.layers[i].activeWeightTiles);
        expect(l.predictedMs).toBe(cost.layers[i].predictedMs);
        expect(l.predictedMs).toBeGreaterThan(0);
      });
      const measured = report.layers.reduce((s, l) => s + l.measuredMs, 0);
      // Layers are timed inside the server's inference, and they are nearly all of it.
      expect(measured).toBeLessThanOrEqual(report.inferMs);
      expect(measured).toBeGreaterThanOrEqual(report.inferMs / 2);
      // The server's per-layer predictions plus the client's encrypt/decrypt make the total.
      const predicted = report.layers.reduce((s, l) => s + l.predictedMs, 0);
      expect(predicted).toBeLessThan(report.predictedMs);
    } finally {
      session.delete();
    }
  });

  it('leaves no SEAL object behind over repeated inferences (live objects and WASM heap)', async () => {
    expect(memory).toBeDefined();
    const { network, model } = build(MLP, false, 'encrypted-model');
    const session = await SealHeSession.create(seal, model);
    const x = randomInputs(4, 20, 105);
    try {
      await runHeInference(session, network, x, 4); // warm-up: SEAL's memory pool grows once
      const live = session.liveObjects;
      const heap = memory!.buffer.byteLength;
      for (let k = 0; k < 4; k++) await runHeInference(session, network, x, 4);
      expect(session.liveObjects).toEqual(live);
      // One leaked ciphertext per run would be 4 x 2 x 5 primes x 16384 x 8 B = 5 MiB.
      expect(memory!.buffer.byteLength).toBe(heap);
    } finally {
      session.delete();
    }
    expect(session.liveObjects).toEqual({ count: 0, bytes: 0 });
  });
});

describe('models too big to hold encoded', () => {
  it('streams weight tiles (encode, multiply, free) with the same result and plan counts', async () => {
    const { network, model } = build(MLP, true, 'plain-model');
    const session = await SealHeSession.create(seal, model, { weights: 'streamed' });
    try {
      expect(session.info.weights).toBe('streamed');
      const report = await runHeInference(session, network, randomInputs(5, 20, 109), 5);
      expect(report.maxAbsError).toBeLessThan(1e-3);
      expect(report.opsMatchPlan).toBe(true);
      expect(report.modelOps.encode).toBe(model.exec.weightCiphertexts);
      expect(session.liveObjects.bytes).toBe(session.info.keyBytes + session.info.modelBytes);
      // What the budget check charges a streamed session bounds the measured peak.
      const t = costOfExecution(model.exec, { samples: 5 }).total;
      const streamedNeed = t.keyBytes + t.inputBytes + t.workingSetBytes + t.streamedModelBytes;
      expect(report.peakBytes).toBeLessThanOrEqual(streamedNeed);
      expect(report.peakBytes).toBeGreaterThan(0.6 * streamedNeed);
    } finally {
      session.delete();
    }
  });

  it('refuses a session above the memory budget before allocating anything', async () => {
    const { model } = build(MLP, false, 'plain-model');
    await expect(
      SealHeSession.create(seal, model, { memoryBudgetBytes: 32 * 2 ** 20 }),
    ).rejects.toMatchObject({
      code: 'out-of-memory',
      message: expect.stringMatching(/above the 0.03 GiB budget/),
    });
  });
});

describe('bad input', () => {
  it('rejects a model no parameter set can carry', () => {
    const deep = randomNetwork(Array(10).fill(4), Array(9).fill(SQUARE), 106);
    expect(() => chooseHeTile(deep, { t1: 2, t2: 2 })).toThrow(HepexError);
    expect(() =>
      prepareHeModel(deep, chooseHeTile(randomNetwork([4, 4], [LINEAR], 1), { t1: 2, t2: 2 })),
    ).toThrow(/multiplicative levels/);
  });

  it('reports wrong input sizes, corrupted ciphertexts and key blobs clearly, and keeps working', async () => {
    const { network, model } = build(MLP, true, 'plain-model');
    const session = await SealHeSession.create(seal, model);
    try {
      const baseline = session.liveObjects;
      expect(() => session.encrypt(new Float32Array(19), 1)).toThrow(/20 inputs per sample/);

      const batch = session.encrypt(randomInputs(2, 20, 107), 2);
      const serialized = session.serialize(batch);
      session.free(batch);
      const block = serialized.chunks[0].findIndex((b) => b !== null);
      const corrupt = (bytes: Uint8Array) => ({
        samples: 2,
        chunks: [serialized.chunks[0].map((b, i) => (i === block ? bytes : b))],
      });
      const truncated = serialized.chunks[0][block]!.slice(0, 200);
      const flipped = Uint8Array.from(serialized.chunks[0][block]!);
      for (let k = 0; k < 16; k++) flipped[k] ^= 0xff; // header garbage
      for (const bad of [truncated, flipped]) {
        let error: unknown;
        try {
          session.deserialize(corrupt(bad));
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(HepexError);
        expect((error as HepexError).code).toBe('he-runtime');
        expect((error as Error).message).toMatch(/corrupted or was made with other parameters/);
      }
      expect(session.liveObjects).toEqual(baseline);

      // A good upload still round-trips after the failures.
      const loaded = session.deserialize(serialized);
      const { result } = await session.infer(loaded);
      session.free(loaded);
      const y = session.decrypt(result);
      session.free(result);
      expect(y.length).toBe(2 * 5);

      const keys = session.exportEvaluationKeys();
      expect(keys.galois).not.toBeNull();
      const badKeys = {
        relin: keys.relin,
        galois: keys.galois!.slice(0, keys.galois!.length >> 1),
      };
      expect(() => session.importEvaluationKeys(badKeys)).toThrow(
        /evaluation key blob is corrupted/,
      );
      session.importEvaluationKeys(keys); // the genuine blob loads
      const report = await runHeInference(session, network, randomInputs(3, 20, 108), 3);
      expect(report.maxAbsError).toBeLessThan(1e-3);
      expect(session.liveObjects).toEqual(baseline);
    } finally {
      session.delete();
    }
  });
});

describe('calibration', () => {
  it('times every primitive on this machine and frees what it made', async () => {
    const heapBefore = memory!.buffer.byteLength;
    const table = await calibrate(seal, 8192, { depth: 1, repetitions: 3 });
    expect(table.ringDegree).toBe(8192);
    expect(table.dataPrimes).toBe(2);
    for (const k of OP_KINDS) expect(table.ms[k], k).toBeGreaterThan(0);
    // Key switching dominates a plaintext multiplication (about 10x in SEAL).
    expect(table.ms.rotate).toBeGreaterThan(2 * table.ms.multiplyPlain);
    expect(table.source).toMatch(/calibrated/);
    await calibrate(seal, 8192, { depth: 1, repetitions: 3 });
    expect(memory!.buffer.byteLength).toBeLessThanOrEqual(
      Math.max(heapBefore, memory!.buffer.byteLength),
    );
  });
});
