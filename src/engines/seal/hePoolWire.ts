import type { SerializedBatch } from './sessionTypes';

/**
 * Ciphertexts on their way to the pool's workers, packed into one buffer. Every worker reads a
 * layer's whole input, so when the realm can share memory (Node, a cross-origin-isolated page)
 * the buffer is a SharedArrayBuffer that all workers read without a copy each; otherwise an
 * ordinary buffer, cloned per worker.
 */
export interface PackedBatch {
  readonly samples: number;
  readonly buffer: ArrayBufferLike;
  /** Blocks per chunk. */
  readonly blocks: number;
  /** Per chunk and block, [offset, length] in `buffer`; length -1 where the block is null. */
  readonly spans: Int32Array;
}

/** True where SharedArrayBuffer can be posted to workers (Node; browsers only when isolated). */
export function canShareMemory(): boolean {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  return isolated !== false;
}

/**
 * Packs `batch` into `reuse` when it is large enough and of the right kind (a pool reuses one
 * buffer across layers and runs: fresh pages cost more than the copy), else a new buffer.
 */
export function packBatch(
  batch: SerializedBatch,
  shared = canShareMemory(),
  reuse?: ArrayBufferLike,
): PackedBatch {
  const blocks = batch.chunks[0]?.length ?? 0;
  const spans = new Int32Array(batch.chunks.length * blocks * 2);
  // Already views into one shared buffer (the client saves its ciphertexts straight into one):
  // the spans are enough, nothing is copied.
  const views = batch.chunks.flat().filter((b): b is Uint8Array => b !== null);
  const one = views[0]?.buffer;
  if (
    shared &&
    one !== undefined &&
    typeof SharedArrayBuffer !== 'undefined' &&
    one instanceof SharedArrayBuffer &&
    views.every((v) => v.buffer === one)
  ) {
    batch.chunks.forEach((chunk, k) =>
      chunk.forEach((bytes, o) => {
        const at = (k * blocks + o) * 2;
        spans[at] = bytes ? bytes.byteOffset : 0;
        spans[at + 1] = bytes ? bytes.byteLength : -1;
      }),
    );
    return { samples: batch.samples, buffer: one, blocks, spans };
  }
  let total = 0;
  batch.chunks.forEach((chunk, k) =>
    chunk.forEach((bytes, o) => {
      const at = (k * blocks + o) * 2;
      spans[at] = total;
      spans[at + 1] = bytes ? bytes.byteLength : -1;
      total += bytes ? bytes.byteLength : 0;
    }),
  );
  const fits =
    reuse !== undefined &&
    reuse.byteLength >= total &&
    (typeof SharedArrayBuffer !== 'undefined' && reuse instanceof SharedArrayBuffer) === shared;
  const buffer = fits ? reuse : shared ? new SharedArrayBuffer(total) : new ArrayBuffer(total);
  const view = new Uint8Array(buffer);
  batch.chunks.forEach((chunk, k) =>
    chunk.forEach((bytes, o) => {
      if (bytes) view.set(bytes, spans[(k * blocks + o) * 2]);
    }),
  );
  return { samples: batch.samples, buffer, blocks, spans };
}

/** Views into a packed batch (no copy). */
export function unpackBatch(packed: PackedBatch): SerializedBatch {
  const chunks: (Uint8Array | null)[][] = [];
  const count = packed.blocks ? packed.spans.length / 2 / packed.blocks : 0;
  for (let k = 0; k < count; k++) {
    const row: (Uint8Array | null)[] = [];
    for (let o = 0; o < packed.blocks; o++) {
      const at = (k * packed.blocks + o) * 2;
      const length = packed.spans[at + 1];
      row.push(length < 0 ? null : new Uint8Array(packed.buffer, packed.spans[at], length));
    }
    chunks.push(row);
  }
  return { samples: packed.samples, chunks };
}
