import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command as evalCommand } from '../../src/cli/commands/eval';
import { command as inferCommand } from '../../src/cli/commands/infer';
import { command as pruneCommand } from '../../src/cli/commands/prune';
import { command as sweepCommand } from '../../src/cli/commands/sweep';
import { command as trainCommand } from '../../src/cli/commands/train';
import type { CommandIo } from '../../src/cli/command';
import {
  checkTrainedData,
  dataProvenance,
  identifyDataset,
  trainedDataOf,
} from '../../src/core/io/dataIdentity';
import { imagesToFloat, subsetDataset, takeSamples, type Dataset } from '../../src/core/io/dataset';
import { encodeIdx } from '../../src/core/io/idx';
import { mnistSplit } from '../../src/core/io/mnist';
import { HepexError } from '../../src/core/model/errors';
import { loadDataSplit, loadMnist, mnistIdentity } from '../../src/engines/tfjs/mnistNode';
import { readModelDir } from '../../src/engines/tfjs/modelDir';

// A model knows its data: trained on IDX files, it records them (name, count, content hash), and
// eval / prune / sweep / infer without --data stop instead of scoring it on the built-in MNIST.
// Also: a pruned model's files, loaded in plain tfjs, score what `hepex eval` says.

const run = promisify(execFile);
const messages: string[] = [];
const io: CommandIo = {
  progress: (m) => void messages.push(m),
  signal: new AbortController().signal,
};
let dir: string;
let train: Dataset;
let test: Dataset;
let trainPair: string;
let testPair: string;
let otherPair: string;
let modelDir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hepex-model-data-'));
  const split = mnistSplit(await loadMnist(), 1);
  const write = async (name: string, data: Dataset): Promise<string> => {
    const i = join(dir, `${name}-images`);
    const l = join(dir, `${name}-labels`);
    await writeFile(i, encodeIdx([data.count, 28, 28], data.images));
    await writeFile(l, encodeIdx([data.count], data.labels));
    return `${i},${l}`;
  };
  train = { ...takeSamples(split.train, 300), name: 'train-images' };
  test = { ...takeSamples(split.test, 100), name: 'test-images' };
  trainPair = await write('train', train);
  testPair = await write('test', test);
  otherPair = await write(
    'other',
    subsetDataset(
      split.test,
      Uint32Array.from({ length: 50 }, (_, k) => 1000 + k),
    ),
  );
  modelDir = join(dir, 'mlp');
  await trainCommand.run(
    [
      ...['--arch', 'mlp', '--layers', '784,32,10', '--epochs', '4', '--lr', '0.005'],
      ...['--data', trainPair, '--test-data', testPair, '--out', modelDir],
    ],
    io,
  );
});

afterAll(() => rm(dir, { recursive: true, force: true }));

const TRAINED_ON = /trained on train-images \(300 images\), not on MNIST 10k; pass --data/;

describe('a model knows its data', () => {
  it('records the IDX files it was trained and tested on (name, count, FNV-1a hash)', async () => {
    const model = await readModelDir(modelDir);
    expect(trainedDataOf(model.provenance)).toEqual({
      data: identifyDataset(train),
      testData: identifyDataset(test),
    });
    expect(model.provenance?.dataHash).toMatch(/^[0-9a-f]{8}$/);
    // The same pixels and labels under another name: the same hash; one pixel changed: another.
    expect(identifyDataset({ ...train, name: 'x' }).hash).toBe(identifyDataset(train).hash);
    const images = train.images.slice();
    images[500] ^= 1;
    expect(identifyDataset({ ...train, images }).hash).not.toBe(identifyDataset(train).hash);
  });

  it('the built-in MNIST is recorded too', async () => {
    const split = await loadDataSplit({});
    expect(split.sources?.data).toEqual(await mnistIdentity());
    expect(split.sources?.data).toMatchObject({ name: 'MNIST 10k', count: 10_000 });
    expect(dataProvenance(split.sources!)).toMatchObject({
      dataName: 'MNIST 10k',
      dataCount: 10_000,
      dataHash: split.sources!.data.hash,
    });
  });

  it('eval, prune, sweep and infer without --data stop with a plain error', async () => {
    const out = join(dir, 'never');
    const cases = [
      () => evalCommand.run(['--model', modelDir], io),
      () => pruneCommand.run(['--model', modelDir, '--method', 'magnitude', '--out', out], io),
      () => sweepCommand.run(['--model', modelDir, '--method', 'magnitude'], io),
      () => inferCommand.run(['--model', modelDir, '--samples', '2'], io),
    ];
    for (const c of cases) {
      const error = await c().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(HepexError);
      expect(error).toMatchObject({ code: 'invalid-argument' });
      expect((error as Error).message).toMatch(TRAINED_ON);
    }
    await expect(readFile(join(out, 'model.json'))).rejects.toThrow();
  });

  it('--data naming other data warns; the training or test set does not', async () => {
    const other = await evalCommand.run(['--model', modelDir, '--data', otherPair], io);
    expect((other.json as { warning?: string }).warning).toMatch(
      /trained on train-images \(300 images, hash [0-9a-f]{8}\) and tested on test-images .*--data is other-images \(50 images/,
    );
    expect(other.text).toMatch(/^warning: /);
    const same = await evalCommand.run(['--model', modelDir, '--data', testPair], io);
    expect(same.json).not.toHaveProperty('warning');
    // Models that record nothing (older files, imports) are never judged.
    expect(checkTrainedData({ seed: 1 }, identifyDataset(test), false)).toBeUndefined();
  });

  it('prune --test-data is documented', () => {
    expect(pruneCommand.usage).toMatch(/--test-data IMAGES,LABELS/);
    expect(sweepCommand.usage).toMatch(/--test-data IMAGES,LABELS/);
  });

  it('prune --method hepex --out: plain tfjs on raw pixels scores what hepex eval says', async () => {
    const out = join(dir, 'hepex');
    await pruneCommand.run(
      [
        ...['--model', modelDir, '--method', 'hepex', '--sparsity', '0.9', '--tile', '4x8'],
        ...['--retrain-epochs', '1', '--data', trainPair, '--test-data', testPair, '--out', out],
      ],
      io,
    );
    const pruned = await readModelDir(out);
    expect(pruned.permutation).toBeDefined();
    // The pruned model inherits its source's data record.
    expect(trainedDataOf(pruned.provenance).data).toEqual(identifyDataset(train));
    const evaluated = await evalCommand.run(['--model', out, '--data', testPair], io);
    const accuracy = (evaluated.json as { accuracy: number }).accuracy;
    const x = join(dir, 'x.bin');
    const y = join(dir, 'y.bin');
    await writeFile(x, new Uint8Array(imagesToFloat(test).buffer));
    await run(process.execPath, [
      'node_modules/tsx/dist/cli.mjs',
      'test/fixtures/plainTfjsPredict.ts',
      ...[out, x, String(test.count), y],
    ]);
    const bytes = await readFile(y);
    const scores = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    let correct = 0;
    for (let s = 0; s < test.count; s++) {
      const row = scores.subarray(s * 10, s * 10 + 10);
      if (row.indexOf(Math.max(...row)) === test.labels[s]) correct++;
    }
    expect(correct / test.count).toBe(accuracy);
    expect(accuracy).toBeGreaterThan(0.5);
  });
});
