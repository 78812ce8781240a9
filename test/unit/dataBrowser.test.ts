import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodeIdx } from '../../src/core/io/idx';
import { datasetFromIdxFiles, gunzipIfNeeded } from '../../src/engines/tfjs/mnistBrowser';

// The browser loader's gzip path (DecompressionStream exists in Node too, so it runs here).
describe('browser IDX loading', () => {
  const images = encodeIdx(
    [2, 2, 3],
    Uint8Array.from({ length: 12 }, (_, i) => i * 20),
  );
  const labels = encodeIdx([2], Uint8Array.from([7, 1]));

  it('reads gzipped and plain files alike', async () => {
    const data = await datasetFromIdxFiles(new Uint8Array(gzipSync(images)), labels, 'opened');
    expect(data).toMatchObject({ name: 'opened', count: 2, rows: 2, cols: 3 });
    expect(Array.from(data.images)).toEqual(Array.from({ length: 12 }, (_, i) => i * 20));
    expect(await gunzipIfNeeded(labels)).toBe(labels);
  });

  it('reports damaged gzip and stops gzip bombs', async () => {
    const gz = new Uint8Array(gzipSync(images));
    await expect(gunzipIfNeeded(gz.subarray(0, gz.length - 10))).rejects.toMatchObject({
      code: 'invalid-data-file',
    });
    // 16 MiB of zeros compress to ~16 KiB; with a 1 MiB cap decompression stops early.
    const bomb = new Uint8Array(gzipSync(new Uint8Array(16 * 2 ** 20)));
    await expect(gunzipIfNeeded(bomb, 2 ** 20)).rejects.toThrow(/more than 1048576 bytes/);
  });
});
