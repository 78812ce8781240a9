import type { Dataset, DatasetSplit } from '../../core/io/dataset';
import { identifyDataset } from '../../core/io/dataIdentity';
import { datasetFromIdx } from '../../core/io/dataset';
import { MAX_IDX_BYTES, idxOutputLimit, isGzip } from '../../core/io/idx';
import { MNIST_ASSET, mnistFromIdx, mnistSplit, DEFAULT_SPLIT_SEED } from '../../core/io/mnist';
import { HepexError } from '../../core/model/errors';

/**
 * Browser (and worker) data loading: the MNIST asset fetched from the app's public/ folder, and
 * IDX files a person opens; gzip is undone with DecompressionStream. A server may already have
 * removed the gzip layer (Content-Encoding), so the magic number decides, not the file name.
 */
/**
 * Gunzips IDX bytes when they are gzip. The output stops at `maxBytes` (default the largest IDX
 * file, MAX_IDX_BYTES) or, sooner, at the length the IDX header inside declares: a gzip bomb
 * stops after its first chunks, not at memory's end.
 */
export async function gunzipIfNeeded(
  bytes: Uint8Array,
  maxBytes = MAX_IDX_BYTES,
): Promise<Uint8Array> {
  if (!isGzip(bytes)) return bytes;
  const reader = new Blob([bytes as Uint8Array<ArrayBuffer>])
    .stream()
    .pipeThrough(new DecompressionStream('gzip'))
    .getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let limit = Infinity;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      chunks.push(value);
      // Fixed once the first chunk is out (far longer than any IDX header).
      if (limit === Infinity) limit = Math.min(maxBytes, idxOutputLimit(concat(chunks)));
      if (total > limit) {
        await reader.cancel();
        throw new HepexError(
          'invalid-data-file',
          `The gzip data expands to more than ${limit} bytes${limit < maxBytes ? ', the length its IDX header declares' : ''} (a damaged file or a gzip bomb).`,
        );
      }
    }
  } catch (error) {
    if (error instanceof HepexError) throw error;
    throw new HepexError(
      'invalid-data-file',
      `The gzip data is damaged or truncated (${(error as Error).message}).`,
    );
  }
  return concat(chunks);
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

async function fetchBytes(url: string, signal?: AbortSignal): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url, { signal });
  } catch (error) {
    throw new HepexError('invalid-data-file', `Cannot fetch ${url} (${(error as Error).message}).`);
  }
  if (!response.ok)
    throw new HepexError('invalid-data-file', `Cannot fetch ${url}: HTTP ${response.status}.`);
  return gunzipIfNeeded(new Uint8Array(await response.arrayBuffer()));
}

const cache = new Map<string, Promise<Dataset>>();

/** The 10,000 built-in digits; `baseUrl` is the app's base (Vite's import.meta.env.BASE_URL). */
export function fetchMnist(baseUrl: string, signal?: AbortSignal): Promise<Dataset> {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  let promise = cache.get(base);
  if (!promise) {
    promise = Promise.all([
      fetchBytes(base + MNIST_ASSET.images, signal),
      fetchBytes(base + MNIST_ASSET.labels, signal),
    ]).then(([i, l]) => mnistFromIdx(i, l));
    cache.set(base, promise);
    promise.catch(() => cache.delete(base));
  }
  return promise;
}

export async function fetchMnistSplit(
  baseUrl: string,
  seed = DEFAULT_SPLIT_SEED,
  signal?: AbortSignal,
): Promise<DatasetSplit> {
  const mnist = await fetchMnist(baseUrl, signal);
  // A model trained on it records which data it was (dataIdentity.ts), as in the CLI.
  return { ...mnistSplit(mnist, seed), sources: { data: identifyDataset(mnist) } };
}

/** A dataset from IDX files a person opened (bytes, gzipped or not). */
export async function datasetFromIdxFiles(
  images: Uint8Array,
  labels: Uint8Array,
  name: string,
): Promise<Dataset> {
  return datasetFromIdx(await gunzipIfNeeded(images), await gunzipIfNeeded(labels), name);
}
