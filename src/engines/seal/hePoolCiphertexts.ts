import { HepexError } from '../../core/model/errors';
import type { Seal } from './loadSeal';
import { toError } from './sealErrors';
import { bytesOfCiphertext } from './sealTracker';
import type { SessionContext } from './sessionContext';
import type { CipherBatch, SerializedBatch } from './sessionTypes';
import type { HeClientSide } from './heClientSide';
import { packBatch, type PackedBatch } from './hePoolWire';

type Ciphertext = InstanceType<Seal['Ciphertext']>;

/** Ciphertexts in and out of an HE pool's workers: SEAL's format, uncompressed, checked on load. */

/** A batch serialized without compression: the pool moves bytes through memory, not a network. */
export function saveBatch(seal: Seal, batch: CipherBatch): SerializedBatch {
  const none = seal.ComprModeType.none;
  try {
    return {
      samples: batch.samples,
      chunks: batch.chunks.map((blocks) =>
        blocks.map((ct) => (ct ? ownBuffer(ct.saveToArray(none) as Uint8Array) : null)),
      ),
    };
  } catch (error) {
    throw toError(error, 'Serializing ciphertexts');
  }
}

/**
 * A batch serialized without compression into one buffer (shared when `shared`), each block a
 * view into it; every ciphertext is deleted as soon as it is saved. packBatch then sends the
 * buffer as it is: the client's inputs are copied out of SEAL once, not three times.
 */
export function saveBatchInto(
  seal: Seal,
  batch: CipherBatch,
  shared: boolean,
  free: (ct: Ciphertext) => void,
): SerializedBatch {
  const none = seal.ComprModeType.none;
  let buffer: ArrayBufferLike | null = null;
  let view: Uint8Array | null = null;
  let at = 0;
  const count = batch.chunks.reduce((n, row) => n + row.filter(Boolean).length, 0);
  try {
    const chunks = batch.chunks.map((blocks) =>
      blocks.map((ct) => {
        if (!ct) return null;
        const bytes = ct.saveToArray(none) as Uint8Array;
        free(ct);
        if (!buffer || !view || at + bytes.byteLength > view.byteLength) {
          // Sized for every ciphertext at this one's length (they all are, at one level);
          // a longer one than expected gets room of its own.
          const size = Math.max(bytes.byteLength * count, at + bytes.byteLength);
          const next = shared ? new SharedArrayBuffer(size) : new ArrayBuffer(size);
          buffer = next;
          view = new Uint8Array(next);
          at = 0;
        }
        view.set(bytes, at);
        const out = new Uint8Array(buffer, at, bytes.byteLength);
        at += bytes.byteLength;
        return out;
      }),
    );
    return { samples: batch.samples, chunks };
  } catch (error) {
    throw toError(error, 'Serializing ciphertexts');
  }
}

/** Bytes in a buffer of their own, so handing the buffer over can never detach a WASM heap. */
function ownBuffer(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes
    : bytes.slice();
}

/**
 * Loads layer l's input blocks, checking each is a fresh 2-polynomial ciphertext of these
 * parameters at the level layer l reads (a corrupted or foreign blob is refused, nothing kept).
 */
export function loadBatch(
  context: SessionContext,
  serialized: SerializedBatch,
  l: number,
  only?: ReadonlySet<number>,
): CipherBatch {
  const layer = context.model.exec.layers[l];
  return loadCiphertexts(context, serialized, {
    blocks: layer.tiling.inBlocks,
    live: only ? layer.liveInputs.map((v, i) => (v && only.has(i) ? 1 : 0)) : layer.liveInputs,
    primes: context.model.params.depth + 1 - layer.levelIn,
    what: `layer ${l + 1}`,
  });
}

/**
 * Loads serialized ciphertexts: `blocks` per chunk, `live[i]` = 1 where block i is read, each
 * a 2-polynomial ciphertext of `primes` primes; anything else is refused and nothing kept.
 */
export function loadCiphertexts(
  context: SessionContext,
  serialized: SerializedBatch,
  expect: { blocks: number; live: Uint8Array; primes: number; polys?: number; what: string },
): CipherBatch {
  const { seal, model, ctx, tracker } = context;
  const chunks: (Ciphertext | null)[][] = [];
  try {
    for (const blocks of serialized.chunks) {
      if (blocks.length !== expect.blocks) {
        throw new HepexError(
          'invalid-argument',
          `${expect.what} needs ${expect.blocks} ciphertext blocks, got ${blocks.length}.`,
        );
      }
      const loaded: (Ciphertext | null)[] = [];
      chunks.push(loaded);
      for (const [i, bytes] of blocks.entries()) {
        if (!bytes || !expect.live[i]) {
          loaded.push(null);
          continue;
        }
        const ct = tracker.add(new seal.Ciphertext());
        loaded.push(ct);
        try {
          ct.loadFromArray(ctx.context, bytes);
        } catch (error) {
          throw toError(error, `Ciphertext ${i} of ${expect.what} is corrupted`);
        }
        if (
          ct.size() !== (expect.polys ?? 2) ||
          ct.coeffModulusSize() !== expect.primes ||
          ct.polyModulusDegree() !== model.params.ringDegree
        ) {
          throw new HepexError(
            'he-runtime',
            `Ciphertext ${i} of ${expect.what} does not match this model's parameters at its level.`,
          );
        }
        tracker.resize(ct, bytesOfCiphertext(ct));
      }
    }
  } catch (error) {
    context.free({ chunks });
    throw error;
  }
  return { samples: serialized.samples, chunks };
}

/** Ciphertexts the set-up probe moves to time transfers (16 MiB at N = 16384, 4 primes). */
const TRANSFER_PROBE_CIPHERTEXTS = 16;

/**
 * The pool's transfer probe, client side: fresh top-level ciphertexts saved and packed as a
 * layer's inputs are (`clientMs`: the saving and packing), ready to send to every worker.
 */
export function transferProbe(
  seal: Seal,
  context: SessionContext,
  client: HeClientSide,
  shared: boolean,
): { packed: PackedBatch; mib: number; clientMs: number } {
  const probe = client.encryptZeros(TRANSFER_PROBE_CIPHERTEXTS);
  const t0 = performance.now();
  const saved = new Set<unknown>();
  let serialized: SerializedBatch;
  try {
    serialized = saveBatchInto(seal, probe, shared, (ct) => {
      context.tracker.delete(ct);
      saved.add(ct);
    });
  } finally {
    for (const ct of probe.chunks[0]) if (ct && !saved.has(ct)) context.tracker.delete(ct);
  }
  const packed = packBatch(serialized, shared);
  return { packed, mib: packed.buffer.byteLength / 2 ** 20, clientMs: performance.now() - t0 };
}
