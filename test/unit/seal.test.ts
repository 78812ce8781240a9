import { describe, expect, it } from 'vitest';
import { HepexError } from '../../src/core/model/errors';
import { createCkksContext } from '../../src/engines/seal/ckksContext';
import { loadSeal } from '../../src/engines/seal/loadSeal';
import { isSealException, sealExceptionMessage, toError } from '../../src/engines/seal/sealErrors';
import { sealSelfTest } from '../../src/engines/seal/selfTest';
import { ckksParametersFor } from '../../src/core/he/ckksParameters';

// Runs under scripts/node (Node 24): node-seal 7 cannot even compile on the system's Node 20,
// so this file passing is the proof that the pinned runtime is the one in use.
describe('node-seal on the pinned Node', () => {
  it('runs on Node >= 22', () => {
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(22);
  });

  it('creates a CKKS context and round-trips a full slot vector', async () => {
    const { seal } = await loadSeal();
    const result = sealSelfTest(seal, 8192);
    expect(result.slots).toBe(4096);
    expect(result.coeffModulusBits).toEqual([60, 40, 60]);
    // Fresh CKKS encryption at scale 2^40 is accurate to ~1e-8 or so; 1e-5 leaves room, and a
    // broken encode/decode (wrong scale, wrong slots) would be off by ~1.
    expect(result.maxAbsError).toBeLessThan(1e-5);
    expect(result.maxAbsError).toBeGreaterThan(0);
  });

  it('loads once per process (memoised)', async () => {
    const a = await loadSeal();
    const b = await loadSeal();
    expect(a.seal).toBe(b.seal);
  });

  it('turns SEAL C++ exceptions into HepexErrors with the message', async () => {
    const { seal } = await loadSeal();
    const ctx = createCkksContext(seal, ckksParametersFor(1, 8192));
    const cipher = new seal.Ciphertext();
    let thrown: unknown;
    try {
      cipher.loadFromArray(ctx.context, new Uint8Array(32).fill(7));
    } catch (error) {
      thrown = error;
    } finally {
      cipher.delete();
      ctx.delete();
    }
    expect(isSealException(thrown)).toBe(true);
    expect(sealExceptionMessage(thrown)?.what).toMatch(/version|invalid|magic/i);
    const error = toError(thrown, 'Loading a ciphertext');
    expect(error).toBeInstanceOf(HepexError);
    expect((error as HepexError).code).toBe('he-runtime');
    expect(error.message).toMatch(/^Loading a ciphertext: SEAL reported "/);
  });
});
