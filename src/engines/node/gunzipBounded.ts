import { createGunzip } from 'node:zlib';
import { HepexError } from '../../core/model/errors';

/**
 * Node only: gunzip with a bound on the output, streamed, so a gzip bomb (a few KiB that expand
 * to gigabytes) stops as soon as the output passes `limitFor(head)` bytes: `head` is the output
 * so far (its start, e.g. a file header that declares the length, see idx.ts idxOutputLimit).
 */
export function gunzipBounded(
  bytes: Uint8Array,
  what: string,
  limitFor: (head: Uint8Array) => number,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const gunzip = createGunzip();
    const chunks: Buffer[] = [];
    let total = 0;
    let limit = Infinity;
    let settled = false;
    const settle = (error: HepexError | null) => {
      if (settled) return;
      settled = true;
      if (error) {
        gunzip.destroy();
        reject(error);
      } else resolve(new Uint8Array(Buffer.concat(chunks, total)));
    };
    gunzip.on('data', (chunk: Buffer) => {
      if (settled) return;
      chunks.push(chunk);
      total += chunk.length;
      // The limit is fixed once the first chunk (zlib's are 16 KiB, more than any header) is out.
      if (limit === Infinity) limit = limitFor(chunks.length === 1 ? chunk : Buffer.concat(chunks));
      if (total > limit) {
        settle(
          new HepexError(
            'invalid-data-file',
            `${what}: the gzip data expands to more than the ${limit} bytes its header allows (a damaged file or a gzip bomb).`,
          ),
        );
      }
    });
    gunzip.on('end', () => settle(null));
    gunzip.on('error', (error) =>
      settle(
        new HepexError(
          'invalid-data-file',
          `${what}: the gzip data is damaged or truncated (${error.message}).`,
        ),
      ),
    );
    gunzip.end(bytes);
  });
}
