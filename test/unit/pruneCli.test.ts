import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command as pruneCommand } from '../../src/cli/commands/prune';
import { command as sweepCommand } from '../../src/cli/commands/sweep';
import { command as trainCommand } from '../../src/cli/commands/train';
import type { CommandIo } from '../../src/cli/command';
import { takeSamples } from '../../src/core/io/dataset';
import { encodeIdx } from '../../src/core/io/idx';
import { mnistSplit } from '../../src/core/io/mnist';
import { HepexError } from '../../src/core/model/errors';
import { unfoldClientPermutation } from '../../src/core/prune/clientPermutation';
import { loadDataSplit, loadMnist } from '../../src/engines/tfjs/mnistNode';
import { evaluateNetwork } from '../../src/engines/tfjs/train';
import { readModelDir } from '../../src/engines/tfjs/modelDir';

const io: CommandIo = { progress: () => undefined, signal: new AbortController().signal };
let dir: string;
let trainPair: string;
let testPair: string;
let modelDir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hepex-prune-cli-'));
  const split = mnistSplit(await loadMnist(), 1);
  const write = async (name: string, data: ReturnType<typeof takeSamples>): Promise<string> => {
    const i = join(dir, `${name}-images`);
    const l = join(dir, `${name}-labels`);
    await writeFile(i, encodeIdx([data.count, 28, 28], data.images));
    await writeFile(l, encodeIdx([data.count], data.labels));
    return `${i},${l}`;
  };
  trainPair = await write('train', takeSamples(split.train, 300));
  testPair = await write('test', takeSamples(split.test, 100));
  modelDir = join(dir, 'mlp');
  await trainCommand.run(
    [
      '--arch',
      'mlp',
      '--layers',
      '784,32,10',
      '--epochs',
      '4',
      '--lr',
      '0.005',
      '--data',
      trainPair,
      '--test-data',
      testPair,
      '--out',
      modelDir,
    ],
    io,
  );
});

afterAll(() => rm(dir, { recursive: true, force: true }));

const data = () => ['--data', trainPair, '--test-data', testPair];

/** The records of a one-round HE-PEx run: the start, then every step. */
const HEPEX_STEP_KINDS = ['start', 'prune', 'retrain', 'permute', 'expand', 'retrain'];

/** The prune command on the test model at 0.9, one retraining epoch, on the small IDX data. */
const prune = (out: string, ...options: string[]) =>
  pruneCommand.run(
    [
      '--model',
      modelDir,
      '--sparsity',
      '0.9',
      '--retrain-epochs',
      '1',
      '--out',
      out,
      ...options,
      ...data(),
    ],
    io,
  );

describe('hepex prune', () => {
  it('hepex: reports ciphertexts and metric before/after with per-layer lower bounds, and saves a model that keeps its word', async () => {
    const out = join(dir, 'pruned');
    const res = await prune(out, '--method', 'hepex', '--tile', '4x8');
    const json = res.json as {
      ciphertexts: { before: number; after: number };
      metric: { name: string; before: number; after: number };
      layers: { nonZeroTiles: number; lowerBound: number; tiles: number; orientation: string }[];
      steps: { kind: string }[];
    };
    // 784-32-10 with 4x8 tiles, B first: B 196 x 4 = 784 tiles, A ceil(10/4) x ceil(32/8) = 12.
    expect(json.ciphertexts.before).toBe(796);
    expect(json.ciphertexts.after).toBeLessThan(json.ciphertexts.before);
    expect(json.metric.name).toBe('accuracy');
    expect(json.layers.map((l) => [l.tiles, l.orientation])).toEqual([
      [784, 'B'],
      [12, 'A'],
    ]);
    for (const l of json.layers) expect(l.nonZeroTiles).toBeGreaterThanOrEqual(l.lowerBound);
    expect(json.steps.map((s) => s.kind)).toEqual(HEPEX_STEP_KINDS);
    // The saved model: masks held, client permutation stored, and its function is what was measured.
    const saved = await readModelDir(out);
    expect(saved.permutation).toBeDefined();
    saved.network.layers.forEach((l, i) =>
      l.weights.data.forEach((w, k) => (saved.masks![i].data[k] ? null : expect(w).toBe(0))),
    );
    expect(saved.metrics?.accuracy).toBe(json.metric.after);
    // Evaluated through the client permutation, the saved model scores what the command reported.
    const unfolded = unfoldClientPermutation(
      saved.network,
      saved.masks!,
      saved.permutation!,
    ).network;
    const split = await loadDataSplit({ data: trainPair, testData: testPair });
    expect((await evaluateNetwork(unfolded, undefined, split.test)).metric.value).toBeCloseTo(
      json.metric.after,
      6,
    );
    expect(res.text).toMatch(/weight ciphertexts 796 -> \d+/);
  });

  it('--group-lasso trains with the penalty first and records it in the output and the saved model', async () => {
    const out = join(dir, 'lasso');
    const res = await prune(
      out,
      '--method',
      'magnitude',
      '--group-lasso',
      '5e-3',
      '--train-epochs',
      '2',
    );
    const json = res.json as { groupLasso: number; steps: { kind: string }[] };
    expect(json.groupLasso).toBe(5e-3);
    expect(json.steps.map((s) => s.kind)).toEqual(['start', 'train', 'prune', 'retrain']);
    expect((await readModelDir(out)).provenance?.groupLasso).toBe(5e-3);
  });

  it('--final-epochs, --distill and --max-tiles shape the end of the run and are recorded', async () => {
    const out = join(dir, 'distilled');
    const res = await prune(
      out,
      '--method',
      'hepex',
      '--final-epochs',
      '2',
      '--distill',
      '--max-tiles',
      '20',
    );
    const json = res.json as {
      finalEpochs: number;
      distill: boolean;
      maxTiles: number;
      steps: { kind: string; nonZeroTiles: number }[];
      ciphertexts: { before: number; after: number };
    };
    expect([json.finalEpochs, json.distill, json.maxTiles]).toEqual([2, true, 20]);
    expect(json.steps.map((s) => s.kind)).toEqual(HEPEX_STEP_KINDS);
    // The budget binds: the permuted network had more tiles than it allows.
    expect(json.steps[3].nonZeroTiles).toBeGreaterThan(20);
    expect(json.ciphertexts.after).toBeLessThanOrEqual(20);
    const saved = (await readModelDir(out)).provenance;
    expect([saved?.finalEpochs, saved?.distill, saved?.maxTiles]).toEqual([2, true, 20]);
  });

  it('rejects bad sparsity, theta, method and tile shapes before loading anything', async () => {
    const out = join(dir, 'never');
    const cases = [
      ['--sparsity', '1'],
      ['--sparsity', '-0.1'],
      ['--theta', '1.5'],
      ['--method', 'random'],
      ['--tile', '3x8'],
      ['--scope', 'everywhere'],
      ['--prune-steps', '0'],
      ['--group-lasso', '2'],
      ['--group-lasso', '-1e-3'],
      ['--group-lasso', '1e-3', '--train-epochs', '2.5'],
      ['--final-epochs', '-1'],
      ['--max-tiles', '0.5'],
      ['--max-tiles', 'many'],
      ['--method', 'tile', '--max-tiles', '50'],
    ];
    // The model directory does not exist: every case must fail on its argument first.
    for (const extra of cases) {
      const run = pruneCommand.run(['--model', join(dir, 'missing'), '--out', out, ...extra], io);
      await expect(run).rejects.toBeInstanceOf(HepexError);
      await expect(run).rejects.toMatchObject({
        code: expect.stringMatching(/^invalid-(argument|tile-shape)$/),
      });
    }
    // A missing model directory is a plain-words file error.
    await expect(
      pruneCommand.run(['--model', join(dir, 'missing'), '--out', out], io),
    ).rejects.toMatchObject({ code: 'invalid-model-file' });
  });
});

describe('hepex sweep', () => {
  it('prints the frontier with Pareto marks', async () => {
    const res = await sweepCommand.run(
      [
        '--model',
        modelDir,
        '--method',
        'magnitude,tile',
        '--sparsities',
        '0.5,0.9',
        '--retrain-epochs',
        '0',
        ...data(),
      ],
      io,
    );
    const json = res.json as {
      baseline: { ciphertexts: number };
      points: { method: string; ciphertexts: number; metric: number; pareto: boolean }[];
    };
    expect(json.baseline.ciphertexts).toBe(796);
    expect(json.points.map((p) => p.method)).toEqual(['magnitude', 'magnitude', 'tile', 'tile']);
    expect(json.points.some((p) => p.pareto)).toBe(true);
    for (const p of json.points) {
      const dominated = json.points.some(
        (q) =>
          q !== p &&
          q.ciphertexts <= p.ciphertexts &&
          q.metric >= p.metric &&
          (q.ciphertexts < p.ciphertexts || q.metric > p.metric),
      );
      expect(p.pareto).toBe(!dominated);
    }
    // Tile pruning at tile sparsity 0.9 leaves about a tenth of the tiles.
    expect(json.points[3].ciphertexts).toBeLessThanOrEqual(Math.ceil(0.1 * 800) + 1);
  });
});
