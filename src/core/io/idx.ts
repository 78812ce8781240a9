import { HepexError } from '../model/errors';

/**
 * The IDX format MNIST-like data sets ship in (yann.lecun.com/exdb/mnist): a big-endian header
 *   bytes 0-1: 0, byte 2: element type (0x08 = unsigned byte), byte 3: number of dims k,
 *   then k uint32 sizes, then the elements row-major.
 * Only unsigned bytes are accepted (images 0..255, labels 0..9). Decompression happens outside
 * the core (node:zlib or DecompressionStream); `isGzip` lets loaders decide.
 */
export interface IdxArray {
  readonly dims: readonly number[];
  readonly data: Uint8Array;
}

const UBYTE = 0x08;
const TYPE_NAMES: Record<number, string> = {
  0x09: 'signed byte',
  0x0b: 'short',
  0x0c: 'int',
  0x0d: 'float',
  0x0e: 'double',
};

/** Largest element count accepted: 2^28 bytes (256 MiB), far above MNIST's 47 MB. */
export const MAX_IDX_ELEMENTS = 1 << 28;

/** Largest IDX file accepted, bytes: the largest element count plus the largest header. */
export const MAX_IDX_BYTES = MAX_IDX_ELEMENTS + 4 + 4 * 4;

/**
 * The length in bytes the header at the start of `head` declares for the whole file, once
 * enough of it is there (undefined before that, or when it is not an IDX header): what a
 * decompressor may produce at most, so a gzip bomb stops at the size its header promised.
 */
export function idxDeclaredBytes(head: Uint8Array): number | undefined {
  if (head.length < 4 || head[0] !== 0 || head[1] !== 0 || head[3] < 1 || head[3] > 4)
    return undefined;
  const k = head[3];
  if (head.length < 4 + 4 * k) return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let count = 1;
  for (let d = 0; d < k; d++) count *= view.getUint32(4 + 4 * d, false);
  return 4 + 4 * k + count;
}

/**
 * How many decompressed bytes to accept given what has come out so far (`head`, at least its
 * first 20 bytes when there are that many): the declared length when the header is readable,
 * else the cap. One byte more than that makes the file wrong either way.
 */
export function idxOutputLimit(head: Uint8Array): number {
  return Math.min(MAX_IDX_BYTES, idxDeclaredBytes(head) ?? MAX_IDX_BYTES);
}

/** True when the bytes start with the gzip magic number 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Parses one (already decompressed) IDX file. `what` names it in error messages. */
export function parseIdx(bytes: Uint8Array, what = 'IDX file'): IdxArray {
  const fail = (message: string): never => {
    throw new HepexError('invalid-data-file', `${what}: ${message}`);
  };
  if (isGzip(bytes)) fail('the file is still gzip-compressed; decompress it first.');
  if (bytes.length < 4)
    fail(`the file is ${bytes.length} bytes long, too short for an IDX header.`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    fail(
      `wrong magic number ${hex(bytes, 0, 4)}; an IDX file starts with 00 00 08 then the number of dimensions (images: 00 00 08 03, labels: 00 00 08 01).`,
    );
  }
  if (bytes[2] !== UBYTE) {
    const name = TYPE_NAMES[bytes[2]];
    fail(
      name
        ? `its elements are of type ${name}; only unsigned bytes (type 0x08) are supported.`
        : `wrong magic number ${hex(bytes, 0, 4)}; byte 3 should be 08 (unsigned bytes).`,
    );
  }
  const k = bytes[3];
  if (k < 1 || k > 4) fail(`it declares ${k} dimensions; expected 1 (labels) or 3 (images).`);
  const headerBytes = 4 + 4 * k;
  if (bytes.length < headerBytes)
    fail(`the file is truncated inside its header (${bytes.length} of ${headerBytes} bytes).`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let d = 0; d < k; d++) {
    const n = view.getUint32(4 + 4 * d, false);
    dims.push(n);
    count *= n;
  }
  if (count > MAX_IDX_ELEMENTS) {
    fail(
      `its sizes ${dims.join(' x ')} describe ${count} values, more than the ${MAX_IDX_ELEMENTS} the studio accepts.`,
    );
  }
  const available = bytes.length - headerBytes;
  if (available < count) {
    fail(
      `the file is truncated: sizes ${dims.join(' x ')} need ${count} data bytes but only ${available} follow the header.`,
    );
  }
  if (available > count) {
    fail(`the file has ${available - count} unexpected bytes after the ${dims.join(' x ')} data.`);
  }
  return { dims, data: bytes.subarray(headerBytes, headerBytes + count) };
}

/** Writes an unsigned-byte IDX file (the inverse of parseIdx). */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new HepexError(
      'invalid-argument',
      `IDX sizes ${dims.join(' x ')} need ${count} bytes, got ${data.length}.`,
    );
  }
  const out = new Uint8Array(4 + 4 * dims.length + count);
  const view = new DataView(out.buffer);
  out[2] = UBYTE;
  out[3] = dims.length;
  dims.forEach((n, d) => view.setUint32(4 + 4 * d, n, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

function hex(bytes: Uint8Array, start: number, end: number): string {
  return Array.from(bytes.subarray(start, end), (b) => b.toString(16).padStart(2, '0')).join(' ');
}
