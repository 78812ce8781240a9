import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command as calibrateCommand } from '../../src/cli/commands/calibrate';
import { command as inferCommand } from '../../src/cli/commands/infer';
import { LINEAR, SQUARE } from '../../src/core/model/activation';
import type { HepexModel } from '../../src/core/io/model';
import { planTiles } from '../../src/core/tiling/tilePlan';
import { createTileShape } from '../../src/core/tiling/tileShape';
import { setupBackend } from '../../src/engines/tfjs/backend';
import { writeModelDir } from '../../src/engines/tfjs/modelDir';
import { randomNetwork, randomPermutation, tilePrune } from '../fixtures/networks';

const io = { progress: () => {}, signal: new AbortController().signal };
let dir: string;

beforeAll(async () => {
  await setupBackend({ prefer: 'cpu' }); // writing a model dir goes through tf.io
  dir = await mkdtemp(join(tmpdir(), 'hepex-infer-'));
  const sizes = [20, 12, 5];
  const tile = createTileShape(4, 8, { ringDegree: 16384 });
  const network = tilePrune(
    randomNetwork(sizes, [SQUARE, LINEAR], 200),
    planTiles(sizes, tile),
    0.3,
    201,
  );
  const model: HepexModel = {
    name: 'tiny-mlp',
    network,
    tile,
    permutation: randomPermutation(sizes, 202),
  };
  await writeModelDir(join(dir, 'mlp'), model);
  // Four square layers: more levels than N = 8192 carries at 128-bit security.
  const deep = [16, 8, 8, 8, 16];
  await writeModelDir(join(dir, 'deep'), {
    name: 'deep',
    network: randomNetwork(deep, [SQUARE, SQUARE, SQUARE, LINEAR], 203),
    tile,
  });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('hepex infer --he', () => {
  it('prints latency, peak memory, ops equal to the cost model, error and agreement as JSON', async () => {
    const result = await inferCommand.run(
      [
        '--model',
        join(dir, 'mlp'),
        '--he',
        '--samples',
        '6',
        '--timings',
        'reference',
        '--mode',
        'encrypted-model',
      ],
      io,
    );
    const json = result.json as Record<string, unknown> & {
      ops: Record<string, number>;
      expectedOps: Record<string, number>;
      parameters: {
        ringDegree: number;
        coeffModulusBits: number[];
        tile: { t1: number; t2: number };
      };
    };
    expect(json.he).toBe(true);
    expect(json.mode).toBe('encrypted-model');
    expect(json.latencyMs).toBeGreaterThan(0);
    expect(json.peakBytes).toBeGreaterThan(0);
    expect(json.maxAbsError).toBeLessThan(1e-3);
    expect(json.agreement).toBe(1);
    expect(json.ops).toEqual(json.expectedOps);
    expect(json.ops.multiply).toBeGreaterThan(0);
    expect(json.opsMatchPlan).toBe(true);
    expect(json.parameters.ringDegree).toBe(16384);
    // B-first: no mask after layer 1, so one level less than the A chain.
    expect(json.parameters.coeffModulusBits).toEqual([60, 40, 40, 40, 60]);
    expect(json.parameters.tile).toMatchObject({ t1: 4, t2: 8 });
    expect(result.text).toMatch(/operation counts equal the cost model/);
    // Per-layer server time, measured next to predicted, with the layer's own operations.
    const layers = json.layers as {
      layer: number;
      weightCiphertexts: number;
      ops: Record<string, number>;
      measuredMs: number;
      predictedMs: number;
    }[];
    expect(layers.map((l) => l.layer)).toEqual([0, 1]);
    for (const l of layers) {
      expect(l.measuredMs).toBeGreaterThan(0);
      expect(l.predictedMs).toBeGreaterThan(0);
      expect(l.weightCiphertexts).toBeGreaterThan(0);
    }
    expect(layers.reduce((s, l) => s + l.ops.multiply, 0)).toBe(json.ops.multiply);
    expect(layers.reduce((s, l) => s + l.measuredMs, 0)).toBeLessThanOrEqual(
      json.inferMs as number,
    );
    expect(result.text).toMatch(/measured\s+predicted/);
  });

  it('honours --ring-degree and --batch, and refuses a ring degree too small in words', async () => {
    const run = (extra: string[]) =>
      inferCommand.run(
        ['--model', join(dir, 'mlp'), '--he', '--samples', '2', '--timings', 'reference', ...extra],
        io,
      );
    const at32768 = (await run(['--ring-degree', '32768'])).json as {
      parameters: { ringDegree: number; tile: { batch: number } };
    };
    expect(at32768.parameters.ringDegree).toBe(32768);
    expect(at32768.parameters.tile.batch).toBe(512);
    // --batch 256 with 4x8 tiles fills 8192 slots: N = 16384.
    const batched = (await run(['--batch', '256'])).json as typeof at32768;
    expect(batched.parameters).toMatchObject({ ringDegree: 16384, tile: { batch: 256 } });
    await expect(run(['--ring-degree', '16384', '--batch', '256'])).rejects.toMatchObject({
      code: 'invalid-argument',
    });
    await expect(run(['--ring-degree', '1234'])).rejects.toMatchObject({
      code: 'invalid-tile-shape',
    });
    await expect(
      inferCommand.run(['--model', join(dir, 'deep'), '--he', '--ring-degree', '8192'], io),
    ).rejects.toThrow(/Ring degree 8192 cannot carry this model's \d+ levels/);
  });

  it('fails in words on a missing model directory', async () => {
    await expect(
      inferCommand.run(['--model', join(dir, 'nope'), '--he'], io),
    ).rejects.toMatchObject({
      code: 'invalid-model-file',
    });
  });
});

describe('hepex calibrate', () => {
  it('prints a timing table for every primitive', async () => {
    const result = await calibrateCommand.run(
      ['--ring-degree', '8192', '--depth', '1', '--repetitions', '3'],
      io,
    );
    const json = result.json as { ringDegree: number; ms: Record<string, number> };
    expect(json.ringDegree).toBe(8192);
    expect(Object.keys(json.ms)).toHaveLength(12);
    expect(Object.values(json.ms).every((v) => v > 0)).toBe(true);
  });
});
