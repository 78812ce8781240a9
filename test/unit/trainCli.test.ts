import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command as evalCommand } from '../../src/cli/commands/eval';
import { command as trainCommand } from '../../src/cli/commands/train';
import type { CommandIo } from '../../src/cli/command';
import { takeSamples } from '../../src/core/io/dataset';
import { encodeIdx } from '../../src/core/io/idx';
import { mnistSplit } from '../../src/core/io/mnist';
import { HepexError } from '../../src/core/model/errors';
import { createMask } from '../../src/core/model/matrix';
import { identityPermutation } from '../../src/core/model/permutation';
import { foldClientPermutation } from '../../src/core/prune/clientPermutation';
import { createRng, shuffleInPlace } from '../../src/core/model/random';
import { readModelDir, writeModelDir } from '../../src/engines/tfjs/modelDir';
import { loadMnist } from '../../src/engines/tfjs/mnistNode';

const io: CommandIo = { progress: () => undefined, signal: new AbortController().signal };
let dir: string;
let trainPair: string;
let testPair: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hepex-cli-'));
  const split = mnistSplit(await loadMnist(), 1);
  const write = async (
    name: string,
    data: ReturnType<typeof takeSamples>,
    gz: boolean,
  ): Promise<string> => {
    const images = encodeIdx([data.count, 28, 28], data.images);
    const labels = encodeIdx([data.count], data.labels);
    const i = join(dir, `${name}-images${gz ? '.gz' : ''}`);
    const l = join(dir, `${name}-labels`);
    await writeFile(i, gz ? gzipSync(images) : images);
    await writeFile(l, labels);
    return `${i},${l}`;
  };
  trainPair = await write('train', takeSamples(split.train, 300), true);
  testPair = await write('test', takeSamples(split.test, 100), false);
});

afterAll(() => rm(dir, { recursive: true, force: true }));

describe('hepex train / eval', () => {
  it('trains on IDX files (gzipped or not), saves a model dir, and eval reports accuracy', async () => {
    const out = join(dir, 'mlp');
    const trained = await trainCommand.run(
      [
        '--arch',
        'mlp',
        '--layers',
        '784,16,10',
        '--epochs',
        '3',
        '--lr',
        '0.005',
        '--batch-size',
        '32',
        '--data',
        trainPair,
        '--test-data',
        testPair,
        '--out',
        out,
      ],
      io,
    );
    const json = trained.json as { accuracy: number; epochs: number; msPerEpoch: number };
    expect(json.epochs).toBe(3);
    expect(json.accuracy).toBeGreaterThan(0.3);
    const meta = JSON.parse(await readFile(join(out, 'model.json'), 'utf8')).userDefinedMetadata
      .hepex;
    expect(meta.metrics.accuracy).toBe(json.accuracy);
    expect(meta.layers[0].activation).toEqual({ type: 'poly', coefficients: [0, 0.5, 0.25] });
    const evaluated = await evalCommand.run(['--model', out, '--data', testPair], io);
    expect((evaluated.json as { accuracy: number }).accuracy).toBe(json.accuracy);
    expect(evaluated.text).toMatch(/accuracy \d+\.\d\d% on 100 samples/);

    // The same model with a client-side input/output permutation folded in scores the same.
    const model = await readModelDir(out);
    const rng = createRng(3);
    const permutation = {
      input: shuffleInPlace(identityPermutation(784), rng),
      output: shuffleInPlace(identityPermutation(10), rng),
    };
    const masks = model.network.layers.map((l) => createMask(l.weights.rows, l.weights.cols));
    const folded = foldClientPermutation(model.network, masks, permutation);
    const permutedDir = join(dir, 'mlp-permuted');
    await writeModelDir(permutedDir, {
      ...model,
      network: folded.network,
      masks: folded.masks,
      permutation,
    });
    const permuted = (await evalCommand.run(['--model', permutedDir, '--data', testPair], io))
      .json as { accuracy: number; clientPermutation: boolean };
    expect(permuted.clientPermutation).toBe(true);
    expect(permuted.accuracy).toBe(json.accuracy);
  });

  it('reports mse and the mean-image baseline for an autoencoder', async () => {
    const out = join(dir, 'ae');
    await trainCommand.run(
      [
        '--arch',
        'ae',
        '--layers',
        '784,32,16,32,784',
        '--epochs',
        '1',
        '--data',
        trainPair,
        '--out',
        out,
      ],
      io,
    );
    const evaluated = (await evalCommand.run(['--model', out, '--data', testPair], io)).json as {
      mse: number;
      meanImageMse: number;
    };
    expect(evaluated.mse).toBeGreaterThan(0);
    expect(evaluated.meanImageMse).toBeGreaterThan(0.04);
  });

  it('gives typed errors for bad options and data the model cannot take', async () => {
    await expect(trainCommand.run(['--arch', 'rnn', '--out', dir], io)).rejects.toBeInstanceOf(
      HepexError,
    );
    await expect(
      trainCommand.run(['--arch', 'mlp', '--layers', '784,16,7', '--out', dir], io),
    ).rejects.toThrow(/10 outputs/);
    await expect(
      trainCommand.run(
        ['--arch', 'ae', '--layers', '100,16,100', '--data', trainPair, '--out', dir],
        io,
      ),
    ).rejects.toThrow(/784-pixel images but the model takes 100/);
    await expect(trainCommand.run(['--data', 'only-one-file', '--out', dir], io)).rejects.toThrow(
      /IMAGES,LABELS/,
    );
    await expect(evalCommand.run(['--model', join(dir, 'nothing')], io)).rejects.toMatchObject({
      code: 'invalid-model-file',
    });
  });
});
