import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeDirAtomic } from '../../src/engines/node/atomicDir';
import { readModelDir, writeModelDir } from '../../src/engines/tfjs/modelDir';
import { modelToFiles } from '../../src/engines/tfjs/modelFiles';
import { seededModel } from '../fixtures/studio';
import { treeDigest } from '../fixtures/hostileRun';
import { WRITER_SIZES } from '../fixtures/hostileWriter';
import type { HepexModel } from '../../src/core/io/model';

/**
 * Issue #20: a model directory is replaced all at once (node/atomicDir.ts), so prune, train
 * and convert --out never leave a half-written model, and two runs to the same --out never
 * interleave their files.
 */
const run = promisify(execFile);
let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'hepex-atomic-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Which of `models` the directory holds, checking model.json and weights.bin agree on it. */
async function whichModel(dir: string, models: readonly HepexModel[]): Promise<string> {
  const json = await readFile(join(dir, 'model.json'), 'utf8');
  const weights = new Uint8Array(await readFile(join(dir, 'weights.bin')));
  for (const m of models) {
    const files = await modelToFiles(m);
    const jsonMatches = json === files.modelJson;
    const weightsMatch = Buffer.from(weights).equals(Buffer.from(files.weights));
    if (jsonMatches && weightsMatch) return m.name;
    if (jsonMatches || weightsMatch)
      return `a mix (${m.name}'s ${jsonMatches ? 'model.json' : 'weights'})`;
  }
  return 'neither';
}

const leftovers = async (dir: string) =>
  (await readdir(dir)).filter((n) => /\.(tmp|old)-|\.lock$/.test(n));

describe('writing a model directory', () => {
  const a = seededModel([...WRITER_SIZES], 1, 'model A');
  const b = seededModel([...WRITER_SIZES], 2, 'model B');

  it('replaces the old model whole and keeps what else the directory holds (a twin in hepex/)', async () => {
    const out = join(root, 'mlp');
    await writeModelDir(out, a);
    await writeModelDir(join(out, 'hepex'), b);
    await writeFile(join(out, 'README'), 'notes');
    await writeModelDir(out, b);
    expect(await whichModel(out, [a, b])).toBe('model B');
    expect(await whichModel(join(out, 'hepex'), [a, b])).toBe('model B');
    expect(await readFile(join(out, 'README'), 'utf8')).toBe('notes');
    expect(await leftovers(root)).toEqual([]);
    expect((await readModelDir(out)).name).toBe('model B');
  });

  it('leaves the previous directory exactly as it was when the write fails midway', async () => {
    const out = join(root, 'out');
    await writeModelDir(out, a);
    const before = await treeDigest(out);
    const failing = writeDirAtomic(out, async (tmp) => {
      // One file written, then the failure (a full disk, a crash of the serialiser...).
      await writeFile(join(tmp, 'weights.bin'), new Uint8Array(12));
      throw new Error('injected failure after weights.bin');
    });
    await expect(failing).rejects.toThrow(/injected failure/);
    expect(await treeDigest(out)).toEqual(before);
    expect(await whichModel(out, [a, b])).toBe('model A');
    expect(await leftovers(root)).toEqual([]);
  });

  it('lets two concurrent writes to one directory end with one complete model (in one process)', async () => {
    const out = join(root, 'out');
    await writeModelDir(out, a);
    await Promise.all([writeModelDir(out, b), writeModelDir(out, a), writeModelDir(out, b)]);
    expect(['model A', 'model B']).toContain(await whichModel(out, [a, b]));
    expect(await leftovers(root)).toEqual([]);
  });

  it('never shows a mix while two processes write the same --out over and over', async () => {
    const out = join(root, 'out');
    await writeModelDir(out, a);
    const tsx = 'node_modules/tsx/dist/cli.mjs';
    const writers = [
      ['model A', '1'],
      ['model B', '2'],
    ].map(([name, seed]) =>
      run(process.execPath, [tsx, 'test/fixtures/hostileWriter.ts', out, name, seed, '15']),
    );
    let done = false;
    const all = Promise.all(writers).finally(() => (done = true));
    // Read while they write. Both files are read through one open handle of the directory
    // (Linux /proc/self/fd/N: the directory as it was when opened, even if renamed away), so
    // each read sees one state of the directory: it must be one model, never half of each. A
    // read may miss the directory between the two renames of a swap.
    const seen = new Set<string>();
    let reads = 0;
    while (!done) {
      const handle = await open(out, 'r').catch(() => null);
      if (handle) {
        try {
          // ENOENT: the directory was the old one, deleted after the swap (no files, no mix).
          const which = await whichModel(`/proc/self/fd/${handle.fd}`, [a, b]).catch(
            (error: NodeJS.ErrnoException) => {
              if (error.code === 'ENOENT') return 'removed';
              throw error;
            },
          );
          seen.add(which);
          if (which !== 'removed') reads++;
        } finally {
          await handle.close();
        }
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(reads).toBeGreaterThan(0);
    await all;
    expect([...seen].filter((s) => s.startsWith('a mix') || s === 'neither')).toEqual([]);
    expect(['model A', 'model B']).toContain(await whichModel(out, [a, b]));
    expect(await leftovers(root)).toEqual([]);
  }, 120_000);

  it('takes over the lock of a run that died, and waits for a live one', async () => {
    const out = join(root, 'out');
    // A pid that no longer exists: a child that has exited.
    const { stdout } = await run(process.execPath, [
      '-e',
      'process.stdout.write(String(process.pid))',
    ]);
    await mkdir(`${out}.lock`);
    await writeFile(join(`${out}.lock`, 'pid'), stdout);
    await writeModelDir(out, a);
    expect(await whichModel(out, [a, b])).toBe('model A');
    // A live owner (this process): the writer waits until the lock is gone.
    await mkdir(`${out}.lock`);
    await writeFile(join(`${out}.lock`, 'pid'), String(process.pid));
    let finished = false;
    const waiting = writeModelDir(out, b).then(() => (finished = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(finished).toBe(false);
    expect(await whichModel(out, [a, b])).toBe('model A');
    await rm(`${out}.lock`, { recursive: true });
    await waiting;
    expect(await whichModel(out, [a, b])).toBe('model B');
  });

  it('refuses an --out that is a file, in words, before writing anything', async () => {
    const file = join(root, 'file');
    await writeFile(file, 'x');
    await expect(writeModelDir(file, a)).rejects.toMatchObject({
      code: 'invalid-argument',
      message: expect.stringMatching(/is a file, not a directory/),
    });
    expect(await readFile(file, 'utf8')).toBe('x');
    expect(await leftovers(root)).toEqual([]);
  });
});
