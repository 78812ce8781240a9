import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { HepexError, type HepexErrorCode } from '../../core/model/errors';

/**
 * Node only: reading a file a person named, bounded. Only regular files are read (not
 * /dev/zero, a FIFO, a socket or a directory, which would block or never end), and never more
 * than `limit` bytes, whatever the size said when it was checked (a file may grow meanwhile).
 */
export interface BoundedRead {
  /** Largest accepted size, bytes. */
  readonly limit: number;
  /** Names the file in messages, e.g. 'images file' or 'Model file'. */
  readonly what: string;
  readonly code: HepexErrorCode;
  /** What such files are, in the size message: 'models', 'data files'. */
  readonly noun: string;
  /** Appended to the "cannot read" message (e.g. what a model directory holds). */
  readonly hint?: string;
}

export async function readBoundedFile(path: string, options: BoundedRead): Promise<Uint8Array> {
  const { limit, what, code, hint, noun } = options;
  const named = `${what} ${JSON.stringify(path)}`;
  const fail = (message: string) => new HepexError(code, `${named} ${message}`);
  let handle;
  try {
    // O_NONBLOCK: opening a FIFO nobody writes to returns at once instead of waiting forever;
    // fstat below then refuses it. Regular files ignore the flag.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new HepexError(code, `Cannot read ${named} (${reason})${hint ? `; ${hint}` : '.'}`);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) {
      const kind = info.isDirectory()
        ? 'a directory'
        : info.isFIFO()
          ? 'a named pipe'
          : info.isCharacterDevice() || info.isBlockDevice()
            ? 'a device'
            : 'not a regular file';
      throw fail(`is ${kind}, not a regular file${hint ? `; ${hint}` : '.'}`);
    }
    if (info.size > limit)
      throw fail(`is ${info.size} bytes; the studio reads ${noun} up to ${limit} bytes.`);
    // One byte more than its size tells a file that grew while read (e.g. past the limit).
    const buffer = new Uint8Array(Math.min(info.size, limit) + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buffer.length) throw fail('grew while it was being read.');
    }
    return buffer.subarray(0, length);
  } catch (error) {
    if (error instanceof HepexError) throw error;
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new HepexError(code, `Cannot read ${named} (${reason}).`);
  } finally {
    await handle.close();
  }
}
