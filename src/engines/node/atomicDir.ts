import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { HepexError } from '../../core/model/errors';

/**
 * Node only: replacing a directory's files all at once. The new files are written into a
 * temporary sibling (DIR.tmp-*), then swapped in by renames: DIR -> DIR.old-*, DIR.tmp-* -> DIR.
 * A crash at any point leaves either the old directory (as DIR, or whole as DIR.old-*) or the
 * new one, never a mix of old and new files. Entries of the old directory that the new files do
 * not replace (e.g. a pruned twin in DIR/hepex/) are moved into the new one before the swap.
 * A lock (an exclusive mkdir of DIR.lock, holding the owner's pid) keeps two runs writing the
 * same DIR from interleaving: the second waits for the first, then replaces its result whole.
 */

/** How long a second writer waits for the lock before failing in words: 10 minutes. */
const LOCK_WAIT_MS = 10 * 60_000;
const LOCK_POLL_MS = 50;

const errno = (error: unknown): string | undefined => (error as NodeJS.ErrnoException)?.code;

/**
 * Refuses, before any work, an output directory that cannot be one: an existing file (or
 * device), or a path under a file. A missing directory is fine (it is created).
 */
export async function checkOutDir(dir: string, option = '--out'): Promise<void> {
  let path = resolve(dir);
  for (;;) {
    try {
      const info = await stat(path);
      if (!info.isDirectory()) {
        throw new HepexError(
          'invalid-argument',
          path === resolve(dir)
            ? `${option} ${JSON.stringify(dir)} is a file, not a directory; a model is written as a directory (model.json + weights.bin).`
            : `${option} ${JSON.stringify(dir)} is under ${JSON.stringify(path)}, which is a file, not a directory.`,
        );
      }
      return;
    } catch (error) {
      if (error instanceof HepexError) throw error;
      if (errno(error) !== 'ENOENT') {
        throw new HepexError(
          'invalid-argument',
          `${option} ${JSON.stringify(dir)} cannot be used (${errno(error) ?? (error as Error).message}).`,
        );
      }
      const parent = dirname(path);
      if (parent === path) return;
      path = parent;
    }
  }
}

/** True while process `pid` exists (signal 0 checks without signalling). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errno(error) === 'EPERM';
  }
}

async function acquireLock(lock: string, target: string, signal?: AbortSignal): Promise<void> {
  const started = Date.now();
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, 'pid'), String(process.pid));
      return;
    } catch (error) {
      if (errno(error) !== 'EEXIST') {
        throw new HepexError(
          'invalid-argument',
          `Cannot write ${JSON.stringify(target)}: its lock ${JSON.stringify(lock)} cannot be made (${errno(error) ?? (error as Error).message}).`,
        );
      }
    }
    // A lock whose owner has died (killed mid-write) is stale: take it over.
    const owner = Number(await readFile(join(lock, 'pid'), 'utf8').catch(() => ''));
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && !alive(owner)) {
      await rm(lock, { recursive: true, force: true });
      continue;
    }
    if (signal?.aborted) throw new HepexError('cancelled', 'The job was cancelled.');
    if (Date.now() - started > LOCK_WAIT_MS) {
      throw new HepexError(
        'invalid-argument',
        `Another run is writing ${JSON.stringify(target)} (lock ${JSON.stringify(lock)}); if none is, remove that lock directory.`,
      );
    }
    await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
  }
}

/** Runs `fn` holding the lock `<path>.lock` (waiting for another run that holds it). */
export async function withLock<T>(
  path: string,
  fn: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const lock = `${resolve(path)}.lock`;
  await mkdir(dirname(lock), { recursive: true }).catch(() => undefined);
  await acquireLock(lock, path, signal);
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/**
 * Writes a directory atomically: `write(tmp)` puts the new files into an empty temporary
 * directory and returns their names; then the swap above. If `write` throws, the temporary
 * directory is removed and DIR is exactly as it was.
 */
export async function writeDirAtomic(
  dir: string,
  write: (tmp: string) => Promise<readonly string[]>,
  options: { signal?: AbortSignal } = {},
): Promise<void> {
  await checkOutDir(dir);
  const target = resolve(dir);
  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  const lock = `${target}.lock`;
  await acquireLock(lock, dir, options.signal);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = join(parent, `${basename(target)}.tmp-${tag}`);
  const old = join(parent, `${basename(target)}.old-${tag}`);
  try {
    await mkdir(tmp);
    let written: readonly string[];
    try {
      written = await write(tmp);
    } catch (error) {
      await rm(tmp, { recursive: true, force: true });
      throw error;
    }
    const existing = await readdir(target).catch((error: unknown) => {
      if (errno(error) === 'ENOENT') return null;
      throw error;
    });
    if (existing) {
      // What the new files do not replace stays (same file system: renames, no copies).
      const moved: string[] = [];
      try {
        for (const name of existing) {
          if (written.includes(name)) continue;
          await rename(join(target, name), join(tmp, name));
          moved.push(name);
        }
        await rename(target, old);
      } catch (error) {
        for (const name of moved) await rename(join(tmp, name), join(target, name));
        await rm(tmp, { recursive: true, force: true });
        throw error;
      }
      try {
        await rename(tmp, target);
      } catch (error) {
        await rename(old, target);
        throw error;
      }
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(tmp, target);
    }
  } catch (error) {
    // File-system failures (ENOSPC, EACCES...) in words; anything else is the caller's own.
    if (error instanceof HepexError || errno(error) === undefined) throw error;
    throw new HepexError(
      'invalid-argument',
      `Cannot write ${JSON.stringify(dir)} (${errno(error) ?? (error as Error).message}).`,
    );
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}
