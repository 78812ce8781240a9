import { gzipSync } from 'node:zlib';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { datasetFromIdx } from '../../src/core/io/dataset';
import { encodeIdx, isGzip, parseIdx } from '../../src/core/io/idx';
import { HepexError } from '../../src/core/model/errors';
import { loadIdxPair } from '../../src/engines/tfjs/mnistNode';

const images = Uint8Array.from({ length: 3 * 4 * 5 }, (_, i) => (i * 7) % 256);
const labels = Uint8Array.from([3, 0, 9]);
const imageFile = encodeIdx([3, 4, 5], images);
const labelFile = encodeIdx([3], labels);

function errorOf(f: () => unknown): HepexError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(HepexError);
    return e as HepexError;
  }
  throw new Error('expected a HepexError');
}

describe('IDX', () => {
  it('parses what it encodes, with the standard header', () => {
    expect(Array.from(imageFile.subarray(0, 8))).toEqual([0, 0, 8, 3, 0, 0, 0, 3]);
    const back = parseIdx(imageFile);
    expect(back.dims).toEqual([3, 4, 5]);
    expect(Array.from(back.data)).toEqual(Array.from(images));
  });

  it('builds a dataset from an images + labels pair', () => {
    const data = datasetFromIdx(imageFile, labelFile, 'toy');
    expect(data).toMatchObject({ name: 'toy', count: 3, rows: 4, cols: 5 });
    expect(Array.from(data.labels)).toEqual([3, 0, 9]);
    expect(data.images[59]).toBe(images[59]);
  });

  it('names a wrong magic number', () => {
    const bad = imageFile.slice();
    bad[0] = 0x12;
    const e = errorOf(() => parseIdx(bad, 'images'));
    expect(e.code).toBe('invalid-data-file');
    expect(e.message).toMatch(/magic number 12 00 08 03/);
  });

  it('names non-byte element types', () => {
    const bad = imageFile.slice();
    bad[2] = 0x0d;
    expect(errorOf(() => parseIdx(bad)).message).toMatch(/float/);
  });

  it('names a truncated file and trailing bytes', () => {
    expect(errorOf(() => parseIdx(imageFile.subarray(0, imageFile.length - 1))).message).toMatch(
      /truncated: sizes 3 x 4 x 5 need 60 data bytes but only 59/,
    );
    expect(errorOf(() => parseIdx(imageFile.subarray(0, 10))).message).toMatch(
      /truncated inside its header/,
    );
    const long = new Uint8Array(imageFile.length + 2);
    long.set(imageFile);
    expect(errorOf(() => parseIdx(long)).message).toMatch(/2 unexpected bytes/);
  });

  it('refuses absurd sizes without allocating', () => {
    const huge = encodeIdx([1], new Uint8Array(1));
    const header = new Uint8Array(16);
    header.set([0, 0, 8, 3]);
    new DataView(header.buffer).setUint32(4, 0xffffffff);
    new DataView(header.buffer).setUint32(8, 28);
    new DataView(header.buffer).setUint32(12, 28);
    expect(errorOf(() => parseIdx(header)).message).toMatch(/more than/);
    expect(parseIdx(huge).dims).toEqual([1]);
  });

  it('names mismatched counts, swapped files and bad labels', () => {
    expect(
      errorOf(() => datasetFromIdx(imageFile, encodeIdx([2], Uint8Array.from([1, 2])))).message,
    ).toMatch(/3 images but 2 labels/);
    expect(errorOf(() => datasetFromIdx(labelFile, imageFile)).message).toMatch(/swapped/);
    expect(
      errorOf(() => datasetFromIdx(imageFile, encodeIdx([3], Uint8Array.from([1, 12, 2])))).message,
    ).toMatch(/label 1 is 12/);
  });

  it('loads gzipped and plain files from disk alike, and reports damaged gzip', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hepex-idx-'));
    try {
      await writeFile(join(dir, 'i.gz'), gzipSync(imageFile));
      await writeFile(join(dir, 'l'), labelFile);
      expect(isGzip(gzipSync(imageFile))).toBe(true);
      const data = await loadIdxPair(join(dir, 'i.gz'), join(dir, 'l'));
      expect(Array.from(data.images)).toEqual(Array.from(images));
      const gz = gzipSync(imageFile);
      await writeFile(join(dir, 'bad.gz'), gz.subarray(0, gz.length - 6));
      await expect(loadIdxPair(join(dir, 'bad.gz'), join(dir, 'l'))).rejects.toThrow(
        /gzip data is damaged/,
      );
      await expect(loadIdxPair(join(dir, 'missing'), join(dir, 'l'))).rejects.toThrow(
        /Cannot read images file/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
