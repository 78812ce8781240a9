import { beforeAll, describe, expect, it } from 'vitest';
import {
  PUBLIC_OVER_SYMMETRIC_ENCRYPT,
  REFERENCE_TIMINGS,
  costOfExecution,
  publicEncryptMs,
  streamedWeightMs,
  type OpTimingTable,
} from '../../src/core/he/costModel';
import { chooseHeTile, prepareHeModel } from '../../src/core/he/heModel';
import { SQUARE, LINEAR } from '../../src/core/model/activation';
import { OP_KINDS, zeroOps, type HeMode } from '../../src/core/tiling/executionPlan';
import { runHeInference } from '../../src/engines/seal/heInference';
import { SealHeSession } from '../../src/engines/seal/heSession';
import { loadSeal, type Seal } from '../../src/engines/seal/loadSeal';
import { randomInputs, randomNetwork, randomPermutation } from '../fixtures/networks';

// The encrypted-model cost model's missing term: a model too big to hold encrypted
// streams its weights, and every weight use is then an encode and a PUBLIC-key encryption (the
// server has no secret key; ~2.5x the client's symmetric one), per chunk, made at the layer's
// level. These tests pin that structure with real SEAL: the operations the cost model prices
// are the ones the session performs (counted, not timed).

let seal: Seal;
beforeAll(async () => {
  ({ seal } = await loadSeal());
});

// Depth 6 (B square: 2, A square + mask: 3, B linear: 1): weights at levels 0, 2 and 5, so each
// layer's weights are encrypted at a different level. N = 16384, 7 data primes.
const sizes = [20, 12, 12, 5];
const acts = [SQUARE, SQUARE, LINEAR];

/** Counts what the server does to weight operands, by wrapping the session's SEAL objects. */
function instrument(session: SealHeSession) {
  type Methods = Record<string, (...a: unknown[]) => unknown>;
  const inner = session as unknown as {
    context: { ctx: { evaluator: Methods } };
    client: { publicEncryptor: Methods; encryptor: Methods };
  };
  const seen = {
    /** Primes of each public-key encryption's result: the level it was made at. */
    publicEncryptionPrimes: [] as number[],
    symmetricEncryptions: 0,
    cipherSwitches: 0,
  };
  const ev = inner.context.ctx.evaluator;
  const cipherSwitch = ev.cipherModSwitchToInplace.bind(ev);
  ev.cipherModSwitchToInplace = (...a: unknown[]) => {
    seen.cipherSwitches++;
    return cipherSwitch(...a);
  };
  const pub = inner.client.publicEncryptor;
  const publicEncrypt = pub.encrypt.bind(pub);
  pub.encrypt = (pt: unknown, ct: unknown) => {
    publicEncrypt(pt, ct);
    seen.publicEncryptionPrimes.push((ct as { coeffModulusSize(): number }).coeffModulusSize());
  };
  const sym = inner.client.encryptor;
  const symmetricEncrypt = sym.encryptSymmetric.bind(sym);
  sym.encryptSymmetric = (...a: unknown[]) => {
    seen.symmetricEncryptions++;
    return symmetricEncrypt(...a);
  };
  return seen;
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

describe('resident weights take the bytes the memory model counts', () => {
  it('plaintexts switched to a lower level give back their top-level allocation', async () => {
    const network = randomNetwork(sizes, acts, 704);
    const model = prepareHeModel(network, chooseHeTile(network, { t1: 4, t2: 8 }));
    const session = await SealHeSession.create(seal, model, { weights: 'resident' });
    try {
      type Pt = { coeffCount(): number; capacity(): number };
      const server = (session as unknown as { server: { weights: Map<number, Pt>[] } }).server;
      const N = model.params.ringDegree;
      model.exec.layers.forEach((l, i) => {
        const weights = [...server.weights[i].values()];
        expect(weights).toHaveLength(l.activeTileCount);
        // N x (primes at the layer's level) coefficients, and not one more allocated.
        for (const w of weights) {
          expect(w.coeffCount()).toBe(N * (model.params.depth + 1 - l.levelIn));
          expect(w.capacity()).toBe(w.coeffCount());
        }
      });
    } finally {
      session.delete();
    }
  });
});

describe('streamed weights: the cost model counts the operand work the session does', () => {
  for (const mode of ['encrypted-model', 'plain-model'] as const satisfies readonly HeMode[]) {
    it(`${mode}: encodes, public-key encryptions and level switches per weight use, per chunk`, async () => {
      const network = randomNetwork(sizes, acts, 700);
      const model = prepareHeModel(network, chooseHeTile(network, { t1: 4, t2: 8 }), {
        mode,
        permutation: randomPermutation(sizes, 701),
      });
      const levels = model.exec.layers.map((l) => l.levelIn);
      expect(levels).toEqual([0, 2, 5]);
      const session = await SealHeSession.create(seal, model, { weights: 'streamed' });
      try {
        const seen = instrument(session);
        // Two chunks (the second partial): every weight is encoded once per chunk.
        const samples = model.tile.batch + 3;
        const report = await runHeInference(
          session,
          network,
          randomInputs(samples, 20, 702),
          samples,
        );
        expect(report.maxAbsError).toBeLessThan(1e-2);
        const cost = costOfExecution(model.exec, { samples, weights: 'streamed' });
        const uses = model.exec.layers.reduce((s, l) => s + l.activeTileCount, 0) * cost.chunks;
        // Counted = performed: the encodes and encryptions of the streamed weights...
        expect(cost.total.streamedOps).toEqual(report.modelOps);
        expect(report.modelOps.encode).toBe(uses);
        const encrypted = mode === 'encrypted-model';
        expect(report.modelOps.encrypt).toBe(encrypted ? uses : 0);
        // ...are public-key encryptions (the client's inputs alone are symmetric), each made
        // at its layer's level (p = dataPrimes - levelIn primes, what the cost model scales
        // by), never at the top level and switched down.
        const dataPrimes = model.params.depth + 1;
        const expectedPrimes = model.exec.layers.flatMap((l) =>
          Array<number>(l.activeTileCount * cost.chunks).fill(dataPrimes - l.levelIn),
        );
        expect(sorted(seen.publicEncryptionPrimes)).toEqual(
          encrypted ? sorted(expectedPrimes) : [],
        );
        expect(seen.symmetricEncryptions).toBe(cost.total.inputCiphertexts);
        expect(seen.cipherSwitches).toBe(0);
        // The plan's own operations are unchanged by streaming.
        expect(report.opsMatchPlan).toBe(true);
        // The prediction the run reports includes that work, layer by layer.
        const resident = costOfExecution(model.exec, { samples });
        expect(cost.total.predictedMs - resident.total.predictedMs).toBeCloseTo(
          cost.total.streamedMs,
          6,
        );
        expect(report.predictedMs).toBeCloseTo(cost.total.predictedMs, 6);
        cost.layers.forEach((l, i) => {
          expect(l.predictedMs - resident.layers[i].predictedMs).toBeCloseTo(l.streamedMs, 6);
          expect(report.layers[i].predictedStreamingMs).toBe(l.streamedMs);
          expect(l.streamedMs).toBeGreaterThan(0);
        });
      } finally {
        session.delete();
      }
    });
  }

  it('prices a streamed encrypted weight at the public-key rate at its level', () => {
    const base = REFERENCE_TIMINGS.find((t) => t.ringDegree === 16384)!;
    const table: OpTimingTable = {
      ...base,
      ms: {
        ...Object.fromEntries(OP_KINDS.map((k) => [k, 1])),
        encode: 2,
        encrypt: 3,
      } as OpTimingTable['ms'],
      publicEncrypt: 8,
      dataPrimes: 6,
    };
    // Encode at the top level (6 primes), public-key encryption at level 3 (3 primes): 4 / 7.
    expect(streamedWeightMs('encrypted-model', 3, table, 6)).toBeCloseTo(2 + (8 * 4) / 7, 12);
    expect(streamedWeightMs('encrypted-model', 0, table, 6)).toBeCloseTo(2 + 8, 12);
    // Plain weights: the encode only (the plaintext switch is a truncation).
    expect(streamedWeightMs('plain-model', 3, table, 6)).toBeCloseTo(2, 12);
    // A table without a measured public-key rate falls back to the reference ratio.
    const { publicEncrypt: _, ...older } = table;
    expect(publicEncryptMs(older)).toBeCloseTo(3 * PUBLIC_OVER_SYMMETRIC_ENCRYPT, 12);
    expect(PUBLIC_OVER_SYMMETRIC_ENCRYPT).toBeGreaterThan(2);
    // Resident weights: no operand work in the prediction at all.
    const network = randomNetwork(sizes, acts, 703);
    const model = prepareHeModel(network, chooseHeTile(network, { t1: 4, t2: 8 }), {
      mode: 'encrypted-model',
    });
    const resident = costOfExecution(model.exec, { timings: [table] });
    expect(resident.total.streamedOps).toEqual(zeroOps());
    expect(resident.total.streamedMs).toBe(0);
  });
});
