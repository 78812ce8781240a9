import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command as costCommand } from '../../src/cli/commands/cost';
import { command as inferCommand } from '../../src/cli/commands/infer';
import {
  SEAL_MAX_COEFF_BITS_128,
  checkCkksParameters,
  checkRingDegree,
  chooseCkksParameters,
  ckksParametersFor,
  fitsSecurity,
  maxDepth,
  totalBits,
  type CkksParameters,
} from '../../src/core/he/ckksParameters';
import { costOf } from '../../src/core/he/costModel';
import { chooseHeTile, prepareHeModel, resolveRing } from '../../src/core/he/heModel';
import { LINEAR, SQUARE } from '../../src/core/model/activation';
import { HepexError } from '../../src/core/model/errors';
import { planTiles } from '../../src/core/tiling/tilePlan';
import { RING_DEGREES, createTileShape, type RingDegree } from '../../src/core/tiling/tileShape';
import { createCkksContext } from '../../src/engines/seal/ckksContext';
import { loadSeal, type Seal } from '../../src/engines/seal/loadSeal';
import { setupBackend } from '../../src/engines/tfjs/backend';
import { writeModelDir } from '../../src/engines/tfjs/modelDir';
import { randomNetwork } from '../fixtures/networks';

// Every CKKS parameter set the cost model and the HE runtime can pick, against SEAL's 128-bit
// table and against SEAL itself (real node-seal: CoeffModulus.MaxBitCount, SEALContext at tc128).

let seal: Seal;
const io = { progress: () => {}, signal: new AbortController().signal };
let dir: string;

beforeAll(async () => {
  ({ seal } = await loadSeal());
  await setupBackend({ prefer: 'cpu' }); // writing a model dir goes through tf.io
  dir = await mkdtemp(join(tmpdir(), 'hepex-params-'));
  const tile = createTileShape(4, 8, { ringDegree: 16384 });
  // Four square layers: 7 levels, more than N = 8192 carries at 128-bit security.
  await writeModelDir(join(dir, 'deep'), {
    name: 'deep',
    network: randomNetwork(
      [16, 8, 8, 8, 16],
      [SQUARE, SQUARE, SQUARE, LINEAR],
      300,
      'reconstruction',
    ),
    tile,
  });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every depth each ring degree can be asked for: 1 up to one past the deepest any carries. */
const DEPTHS = Array.from({ length: maxDepth(32768) + 1 }, (_, k) => k + 1);

/** Every parameter set the choosers return: chooseCkksParameters for each depth and floor. */
function chosenPlans(): { floor: RingDegree; p: CkksParameters }[] {
  const plans: { floor: RingDegree; p: CkksParameters }[] = [];
  for (const floor of RING_DEGREES) {
    for (const depth of DEPTHS) {
      try {
        plans.push({ floor, p: chooseCkksParameters(depth, floor) });
      } catch (error) {
        // Refused: only when no ring degree from `floor` up carries the depth.
        expect(error).toBeInstanceOf(HepexError);
        expect(depth).toBeGreaterThan(maxDepth(32768));
      }
    }
  }
  return plans;
}

describe('every CKKS plan the cost model can choose is within SEAL 128-bit bounds', () => {
  it("the studio's table is SEAL's own (CoeffModulus.MaxBitCount at tc128)", () => {
    for (const [n, bits] of Object.entries(SEAL_MAX_COEFF_BITS_128))
      expect(seal.CoeffModulus.MaxBitCount(Number(n), seal.SecLevelType.tc128)).toBe(bits);
    expect(SEAL_MAX_COEFF_BITS_128).toEqual({
      1024: 27,
      2048: 54,
      4096: 109,
      8192: 218,
      16384: 438,
      32768: 881,
    });
  });

  it('every chosen plan, at every depth and ring-degree floor, fits its ring degree', () => {
    const plans = chosenPlans();
    // 3 floors: depths 1-19 from 8192, 1-19 from 16384, 1-19 from 32768.
    expect(plans).toHaveLength(3 * maxDepth(32768));
    for (const { floor, p } of plans) {
      expect(p.ringDegree).toBeGreaterThanOrEqual(floor);
      const max = seal.CoeffModulus.MaxBitCount(p.ringDegree, seal.SecLevelType.tc128);
      expect(totalBits(p)).toBeLessThanOrEqual(max);
      expect(fitsSecurity(p)).toBe(true);
      // The chain's shape: first prime, `depth` scale primes, special prime; SEAL's 60-bit cap.
      expect(p.coeffModulusBits).toHaveLength(p.depth + 2);
      expect(Math.max(...p.coeffModulusBits)).toBeLessThanOrEqual(60);
      expect(checkCkksParameters(p)).toEqual(p);
      // The smallest secure ring degree from the floor: every one between cannot carry the depth.
      for (const n of RING_DEGREES.filter((m) => m >= floor && m < p.ringDegree))
        expect(fitsSecurity(ckksParametersFor(p.depth, n))).toBe(false);
    }
  });

  it('the cost model flags every plan it prices but cannot run: fits = within the SEAL bound', () => {
    for (const n of RING_DEGREES) {
      for (const depth of DEPTHS) {
        const p = ckksParametersFor(depth, n);
        const within = totalBits(p) <= seal.CoeffModulus.MaxBitCount(n, seal.SecLevelType.tc128);
        expect(fitsSecurity(p)).toBe(within);
        expect(within).toBe(depth <= maxDepth(n));
        if (!within) expect(() => checkCkksParameters(p)).toThrow(HepexError);
      }
    }
    // Through a real plan: a deep network priced at N = 8192 says it does not fit.
    const sizes = [16, 8, 8, 8, 16];
    const tile = createTileShape(4, 8, { ringDegree: 8192 });
    const report = costOf(planTiles(sizes, tile), [SQUARE, SQUARE, SQUARE, LINEAR]);
    expect(report.heParameters.fits).toBe(false);
    expect(report.heParameters.totalBits).toBeGreaterThan(218);
    // ...and the ring the studio would run it at is secure.
    const network = randomNetwork(sizes, [SQUARE, SQUARE, SQUARE, LINEAR], 301);
    const ring = resolveRing(network, tile, 8192);
    expect(ring.secure).toBe(16384);
    const model = prepareHeModel(network, chooseHeTile(network, tile));
    expect(totalBits(model.params)).toBeLessThanOrEqual(
      SEAL_MAX_COEFF_BITS_128[model.params.ringDegree],
    );
  });

  it('SEAL accepts the deepest chain of each ring degree at tc128 and refuses one bit more', () => {
    for (const n of RING_DEGREES) {
      const deepest = chooseCkksParameters(maxDepth(n), n);
      expect(deepest.ringDegree).toBe(n);
      expect(sealAccepts(n, [...deepest.coeffModulusBits])).toBe(true);
    }
    // Our context builder too, at the smallest ring (the others cost seconds each to build).
    const ctx = createCkksContext(seal, chooseCkksParameters(maxDepth(8192), 8192));
    try {
      expect(ctx.context.parametersSet()).toBe(true);
    } finally {
      ctx.delete();
    }
    // Proof the bound is SEAL's: one bit over 218 at N = 8192 is what SEAL itself rejects.
    expect(sealAccepts(8192, [60, 40, 40, 40, 39])).toBe(false); // 219 bits
    expect(sealAccepts(8192, [60, 40, 40, 40, 38])).toBe(true); // 218 bits
    expect(sealAccepts(16384, [60, ...Array(8).fill(40), 59])).toBe(false); // 439 bits
  });
});

/**
 * Whether SEAL itself (no checks of ours) takes a chain at 128-bit security. The modulus chain
 * is not expanded (SEAL checks the security bound on the whole modulus either way), which keeps
 * N = 32768 with 21 primes to a fraction of a second.
 */
function sealAccepts(n: number, bits: number[]): boolean {
  const parms = new seal.EncryptionParameters(seal.SchemeType.ckks);
  const coeff = seal.CoeffModulus.Create(n, Int32Array.from(bits));
  let context: InstanceType<Seal['SEALContext']> | undefined;
  try {
    parms.setPolyModulusDegree(n);
    parms.setCoeffModulus(coeff);
    context = new seal.SEALContext(parms, false, seal.SecLevelType.tc128);
    return context.parametersSet();
  } finally {
    context?.delete();
    coeff.delete();
    parms.delete();
  }
}

describe('an insecure or malformed request is refused in words', () => {
  const refused = (fn: () => unknown, pattern: RegExp) => {
    let caught: unknown;
    try {
      fn();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(HepexError);
    expect((caught as HepexError).code).toBe('he-parameters');
    expect((caught as Error).message).toMatch(pattern);
  };

  it('by the core functions', () => {
    // Too many bits for N.
    refused(
      () =>
        checkCkksParameters({
          ringDegree: 8192,
          coeffModulusBits: [60, 40, 40, 40, 40, 60],
          scaleBits: 40,
        }),
      /total 280 bits; at 128-bit security ring degree 8192 allows at most 218/,
    );
    // N too small for the depth.
    refused(
      () => chooseCkksParameters(maxDepth(32768) + 1),
      /needs 20 multiplicative levels; at 128-bit security the largest ring degree \(32768\) carries 19/,
    );
    expect(() =>
      prepareHeModel(
        randomNetwork([16, 8, 8, 8, 16], [SQUARE, SQUARE, SQUARE, LINEAR], 302),
        createTileShape(4, 8, { ringDegree: 8192 }),
      ),
    ).toThrow(/ring degree 8192 carries at most 2 at 128-bit security/);
    refused(() => checkRingDegree(4096), /4096 is not supported.*allows only 109 bits/);
    // A bad scale.
    refused(() => ckksParametersFor(2, 8192, 10), /scale must be 2\^k .* from 20 to 50, got 2\^10/);
    refused(() => ckksParametersFor(2, 8192, 40.5), /got 2\^40.5/);
    refused(
      () =>
        checkCkksParameters({ ringDegree: 8192, coeffModulusBits: [60, 30, 60], scaleBits: 40 }),
      /level prime must have the scale's 40 bits/,
    );
    refused(
      () =>
        checkCkksParameters({ ringDegree: 8192, coeffModulusBits: [61, 40, 60], scaleBits: 40 }),
      /61 bits; SEAL's primes have 20 to 60 bits/,
    );
    // A non-power-of-two N.
    refused(() => checkRingDegree(12288), /12288 is not a power of two/);
    refused(() => chooseCkksParameters(2, 12288 as RingDegree), /not a power of two/);
    // Depth below 1.
    refused(() => ckksParametersFor(0, 8192), /at least 1/);
  });

  it('by the SEAL engine: no context is built from an insecure set', () => {
    const insecure = {
      ringDegree: 8192,
      coeffModulusBits: [60, 40, 40, 40, 60],
      scaleBits: 40,
      depth: 3,
    } as const;
    expect(() => createCkksContext(seal, insecure)).toThrow(/allows at most 218/);
  });

  it('by the CLI flags that select parameters (--ring-degree, --batch, --tile)', async () => {
    const infer = (extra: string[]) =>
      inferCommand.run(
        [
          '--model',
          join(dir, 'deep'),
          '--he',
          '--samples',
          '1',
          '--timings',
          'reference',
          ...extra,
        ],
        io,
      );
    // N too small for the depth.
    await expect(infer(['--ring-degree', '8192'])).rejects.toThrow(
      /Ring degree 8192 cannot carry this model's \d+ levels at 128-bit security; use 16384/,
    );
    // --batch that puts the tile at that ring degree: the same refusal.
    await expect(infer(['--batch', '128'])).rejects.toThrow(/Ring degree 8192 cannot carry/);
    // N below what the studio supports, and N not a power of two.
    await expect(infer(['--ring-degree', '4096'])).rejects.toThrow(
      /Ring degree 4096 is not supported/,
    );
    await expect(infer(['--ring-degree', '12288'])).rejects.toThrow(
      /Ring degree 12288 is not supported/,
    );
    for (const extra of [
      ['--ring-degree', '4096'],
      ['--ring-degree', '12288'],
      ['--ring-degree', '8192'],
    ]) {
      await expect(infer(extra)).rejects.toBeInstanceOf(HepexError);
    }
    // `cost` prices an insecure choice (so a person can see why) but says so in words.
    const cost = await costCommand.run(
      ['--layers', '16,8,8,8,16', '--tile', '4x8', '--ring-degree', '8192'],
      io,
    );
    expect(cost.text).toMatch(/exceeds 128-bit security at this ring degree/);
    expect((cost.json as { heParameters: { fits: boolean } }).heParameters.fits).toBe(false);
  });
});
