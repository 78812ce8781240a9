import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hepex } from '../fixtures/cli';
import { buildHostileCorpus, corpusCounts, type HostileCorpus } from '../fixtures/hostileCorpus';
import {
  idxCommands,
  judge,
  modelCommands,
  runInProcess,
  Tally,
  treeDigest,
} from '../fixtures/hostileRun';

/**
 * Issue #20: the generated hostile corpus (test/fixtures/hostileCorpus.ts) through the CLI.
 * Every case runs in this process through runCli (what main.ts runs, minus the process), and a
 * sample of each category through the real child process too: a typed error, exit 1 (2 for an
 * unknown command), exactly one {error: {code, message}} object under --json, no stack trace,
 * the inputs and an existing --out directory byte for byte as they were.
 */
let root: string;
let corpus: HostileCorpus;
let before: Map<string, string>;
const tally = new Tally();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hepex-hostile-'));
  corpus = await buildHostileCorpus(root);
  before = await treeDigest(root);
}, 120_000);

afterAll(async () => {
  console.log(`hostile corpus (CLI):\n${tally.table()}`);
  await rm(root, { recursive: true, force: true });
});

const categories = (items: readonly { category: string }[]) => [
  ...new Set(items.map((c) => c.category)),
];

describe('the hostile corpus', () => {
  it('is generated at its minimum size: 60 model files, 20 IDX pairs, 30 argument sets', () => {
    expect(corpus.models.length).toBeGreaterThanOrEqual(60);
    expect(corpus.idx.length).toBeGreaterThanOrEqual(20);
    expect(corpus.args.length).toBeGreaterThanOrEqual(30);
    const counts = corpusCounts(corpus);
    // The cases a hostile-user probe found: deep nesting, contradicting metadata, endless data, --depth 1.5.
    expect(counts.models['deep-nesting']).toBeGreaterThanOrEqual(40);
    expect(counts.models['metadata-contradicts-graph']).toBeGreaterThanOrEqual(16);
    expect(corpus.idx.map((c) => c.images)).toContain('/dev/zero');
    expect(corpus.args.map((c) => c.argv.join(' '))).toContain('calibrate --depth 1.5');
    expect(corpus.args.map((c) => c.argv.join(' '))).toContain('frobnicate');
  });
});

describe('hostile model files through every command that reads a model (in-process)', () => {
  // Categories are fixed by the generator; the cases are read once the corpus is built.
  it('every model file is refused as invalid-model-file by eval, prune, infer, convert, export', async () => {
    for (const c of corpus.models) {
      for (const argv of modelCommands(c.dir, corpus)) {
        const problem = judge(await runInProcess(argv), 1, 'invalid-model-file');
        tally.add('model', c.category, `${c.id} ${argv[0]}`, problem);
      }
    }
    for (const category of categories(corpus.models))
      expect(tally.failures('model', category), category).toEqual([]);
  }, 240_000);
});

describe('hostile IDX data through eval and train (in-process)', () => {
  it('every IDX pair is refused as invalid-data-file, fast, without reading endless files', async () => {
    for (const c of corpus.idx) {
      for (const argv of idxCommands(c.images, c.labels, corpus)) {
        const problem = judge(await runInProcess(argv), 1, 'invalid-data-file');
        tally.add('idx', c.category, `${c.id} ${argv[0]}`, problem);
      }
    }
    for (const category of categories(corpus.idx))
      expect(tally.failures('idx', category), category).toEqual([]);
  }, 120_000);
});

describe('hostile arguments (in-process)', () => {
  it('every argument set is refused with a typed error and its usage exit code', async () => {
    for (const c of corpus.args) {
      const problem = judge(await runInProcess(c.argv), c.exitCode);
      tally.add('args', c.category, c.id, problem);
    }
    for (const category of categories(corpus.args))
      expect(tally.failures('args', category), category).toEqual([]);
  }, 120_000);
});

describe('a sample of every category through the real CLI process', () => {
  it('prints one JSON error object and no stack trace, as in-process', async () => {
    const firstOf = <T extends { category: string }>(items: readonly T[]) =>
      categories(items).map((cat) => items.find((c) => c.category === cat) as T);
    const runs: { id: string; argv: string[]; exit: number; code?: string }[] = [
      ...firstOf(corpus.models).map((c) => ({
        id: `model ${c.id}`,
        argv: modelCommands(c.dir, corpus)[c.category === 'deep-nesting' ? 1 : 0],
        exit: 1,
        code: 'invalid-model-file',
      })),
      // Deep nesting and contradicting metadata crashed eval, prune and infer.
      ...['mlp-deep-nesting-dtype', 'mlp-metadata-contradicts-graph-task'].flatMap((id) => {
        const c = corpus.models.find((m) => m.id === id);
        if (!c) throw new Error(`no case ${id}`);
        return modelCommands(c.dir, corpus)
          .slice(0, 3)
          .map((argv) => ({ id: `model ${id}`, argv, exit: 1, code: 'invalid-model-file' }));
      }),
      ...firstOf(corpus.idx).map((c) => ({
        id: `idx ${c.id}`,
        argv: idxCommands(c.images, c.labels, corpus)[0],
        exit: 1,
        code: 'invalid-data-file',
      })),
      // The endless file: train and eval hung on it.
      ...idxCommands('/dev/zero', join(root, 'idx', 'good-labels-idx1-ubyte'), corpus).map(
        (argv) => ({ id: 'idx /dev/zero', argv, exit: 1, code: 'invalid-data-file' }),
      ),
      ...firstOf(corpus.args).map((c) => ({
        id: `args ${c.id}`,
        argv: [...c.argv],
        exit: c.exitCode,
      })),
      { id: 'args calibrate 1.5', argv: ['calibrate', '--depth', '1.5'], exit: 1 },
    ];
    const problems: string[] = [];
    // Two at a time: each child pays tsx's start-up (~1-2 s); the machine has two cores.
    for (let k = 0; k < runs.length; k += 2) {
      await Promise.all(
        runs.slice(k, k + 2).map(async (r) => {
          const result = await hepex(...r.argv, '--json');
          const problem = judge(result, r.exit, r.code);
          if (problem) problems.push(`${r.id} (${r.argv.join(' ')}): ${problem}`);
        }),
      );
    }
    expect(runs.length).toBeGreaterThanOrEqual(20);
    expect(problems).toEqual([]);
  }, 240_000);

  it('without --json an unknown command still prints its usage on stderr, exit 2', async () => {
    const r = await hepex('frobnicate');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/unknown command "frobnicate"[\s\S]*usage:/);
  });
});

describe('after every run', () => {
  it('left every input file and the existing --out directory byte for byte as they were', async () => {
    const after = await treeDigest(root);
    const changed = [...new Set([...before.keys(), ...after.keys()])].filter(
      (path) => before.get(path) !== after.get(path),
    );
    expect(changed).toEqual([]);
    expect(before.size).toBeGreaterThan(corpus.models.length);
  });
});
