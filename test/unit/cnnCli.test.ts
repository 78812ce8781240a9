import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandIo } from '../../src/cli/command';
import { command as trainCommand } from '../../src/cli/commands/train';
import { HepexError } from '../../src/core/model/errors';
import type { ConvLayer } from '../../src/core/model/network';
import { readModelDir } from '../../src/engines/tfjs/modelDir';

const io: CommandIo = { progress: () => undefined, signal: new AbortController().signal };
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hepex-cnn-cli-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('hepex train --arch cnn', () => {
  it('trains a tiny CNN (2 filters, 1 epoch on the built-in split) and saves a conv model dir', async () => {
    const out = join(dir, 'cnn');
    const run = await trainCommand.run(
      [
        '--arch',
        'cnn',
        '--layers',
        '784,10',
        '--filters',
        '2',
        '--kernel',
        '4',
        '--stride',
        '3',
        '--epochs',
        '1',
        '--out',
        out,
      ],
      io,
    );
    const json = run.json as { accuracy: number; epochs: number; conv: unknown };
    expect(json.epochs).toBe(1);
    expect(json.conv).toEqual({ filters: 2, kernel: 4, stride: 3 });
    expect(json.accuracy).toBeGreaterThan(0.5);
    expect(run.text).toMatch(/cnn 784-10 \(conv 2 x 4x4 stride 3\) trained/);
    const back = await readModelDir(out);
    const conv = back.network.layers[0] as ConvLayer;
    // 28 x 28 under 4 x 4 stride 3: 9 x 9 = 81 positions, 16 taps padded to 16.
    expect(conv.geometry).toEqual({
      height: 28,
      width: 28,
      channels: 1,
      kernel: 4,
      stride: 3,
      filters: 2,
      patchWidth: 16,
    });
    expect(back.network.layers[1].weights.cols).toBe(81 * 2);
    expect(back.metrics?.accuracy).toBeCloseTo(json.accuracy, 10);
  });

  it('refuses conv options on other architectures and bad conv sizes, in words', async () => {
    const fail = (argv: string[]): Promise<unknown> =>
      trainCommand.run([...argv, '--out', join(dir, 'x')], io).catch((e: unknown) => e);
    const e1 = await fail(['--arch', 'mlp', '--filters', '8']);
    expect(e1).toBeInstanceOf(HepexError);
    expect((e1 as Error).message).toMatch(
      /--filters describes a convolution; use it with --arch cnn/,
    );
    expect(((await fail(['--arch', 'cnn', '--kernel', '2.5'])) as Error).message).toMatch(
      /--kernel must be a whole number/,
    );
    expect(((await fail(['--arch', 'cnn', '--kernel', '30'])) as Error).message).toMatch(
      /does not fit a 28 x 28 image/,
    );
    expect(((await fail(['--arch', 'cnn', '--layers', '780,10'])) as Error).message).toMatch(
      /pixel count/,
    );
  });
});
