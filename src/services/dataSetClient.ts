import {
  DATA_MANIFEST,
  MNIST_DATA_SET,
  parseDataManifest,
  type BuiltinDataSet,
  type BuiltinDataSetId,
} from '../engines/tfjs/builtinData';
import { HepexError } from '../core/model/errors';

export type { BuiltinDataSet, BuiltinDataSetId };
export { MNIST_DATA_SET };

/**
 * The studio's built-in data sets as the app serves them: the manifest the postinstall script
 * writes (public/data/datasets.json) says which exist, and a data set's two gzipped IDX files
 * are fetched as Files named "<name>-images-idx3-ubyte.gz" / "<name>-labels-idx1-ubyte.gz", the
 * form the store's IDX loader takes (it names the data after the images file's stem).
 */
export interface DataSetService {
  /** The data sets present (MNIST always; an unreadable manifest means MNIST only). */
  list(signal?: AbortSignal): Promise<BuiltinDataSet[]>;
  /** A data set's images and labels files. Throws `invalid-data-file` when they cannot be fetched. */
  files(dataSet: BuiltinDataSet, signal?: AbortSignal): Promise<File[]>;
}

export function createDataSetClient(
  baseUrl: string,
  fetchImpl: typeof fetch = (...args) => fetch(...args),
): DataSetService {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const get = async (path: string, signal?: AbortSignal): Promise<Response> => {
    let response: Response;
    try {
      response = await fetchImpl(base + path, { signal });
    } catch (error) {
      if (signal?.aborted) throw new HepexError('cancelled', 'Loading the data set was cancelled.');
      throw new HepexError(
        'invalid-data-file',
        `Cannot fetch ${base + path} (${(error as Error).message}).`,
      );
    }
    if (!response.ok)
      throw new HepexError(
        'invalid-data-file',
        `Cannot fetch ${base + path}: HTTP ${response.status}.`,
      );
    return response;
  };
  return {
    async list(signal) {
      try {
        return parseDataManifest(await (await get(DATA_MANIFEST, signal)).json());
      } catch {
        // An older build has no manifest: it has MNIST only.
        return [MNIST_DATA_SET];
      }
    },
    async files(dataSet, signal) {
      const [images, labels] = await Promise.all(
        [dataSet.images, dataSet.labels].map(
          async (p) => new Uint8Array(await (await get(p, signal)).arrayBuffer()),
        ),
      );
      return [
        new File([images], `${dataSet.name}-images-idx3-ubyte.gz`),
        new File([labels], `${dataSet.name}-labels-idx1-ubyte.gz`),
      ];
    },
  };
}
