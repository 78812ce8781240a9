/// <reference lib="webworker" />
import { expose, transfer } from 'comlink';
import type { Activation } from '../src/core/model/activation';
import type { Mask } from '../src/core/model/matrix';
import type { HepexModel, SourceModel } from '../src/core/io/model';
import type { Network, SourceNetwork } from '../src/core/model/network';
import type { Metric, TrainProgress } from '../src/core/model/trainer';
import { setupBrowserBackend } from '../src/engines/tfjs/backendBrowser';
import { splitDataset, type DatasetSplit } from '../src/core/io/dataset';
import { datasetFromIdxFiles, fetchMnistSplit } from '../src/engines/tfjs/mnistBrowser';
import { createSpec, type Architecture, type ConvOptions } from '../src/engines/tfjs/models';
import { createTfjsTrainer, trainModel } from '../src/engines/tfjs/trainer';
import {
  convertModel,
  type ConvertProgress,
  type ConvertReport,
} from '../src/engines/tfjs/convertModel';
import { installHepexErrorTransfer } from './errorTransfer';

/**
 * The training worker: a thin comlink facade over src/engines/tfjs. Data (the MNIST split) and
 * tfjs live only here. Progress goes out per epoch through a comlink.proxy callback; `cancel(id)`
 * flips that job's AbortController, which the training loop checks between batches. Errors
 * leave as Errors (HepexError keeps its code via errorTransfer.ts).
 */
installHepexErrorTransfer();

/** IDX files a person opened (bytes, gzipped or not); split by the seed like MNIST. */
export interface IdxData {
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
  readonly name?: string;
}

export interface TrainRequest {
  readonly arch: Architecture;
  /** Default: the built-in MNIST split. */
  readonly data?: IdxData;
  /** Inputs first; a cnn: pixels, then the dense layers after its convolution (784, 64, 10). */
  readonly layers?: readonly number[];
  readonly activation?: Activation;
  /** A cnn's first convolution (default 8 filters, 5 x 5, stride 2 on a square image). */
  readonly conv?: ConvOptions;
  readonly epochs?: number;
  readonly learningRate?: number;
  readonly batchSize?: number;
  readonly seed?: number;
  readonly maxShift?: number;
  readonly noise?: number;
}

export interface FineTuneRequest {
  readonly network: Network;
  readonly masks: readonly Mask[];
  readonly data?: IdxData;
  readonly epochs?: number;
  readonly learningRate?: number;
  readonly batchSize?: number;
  /** Denoisers: the noise they were trained with. */
  readonly noise?: number;
  readonly seed?: number;
}

/** A model with ReLU, sigmoid or tanh to make HE-friendly (fit, then distilled fine-tune). */
export interface ConvertRequest {
  readonly source: SourceModel;
  readonly data?: IdxData;
  readonly epochs?: number;
  readonly seed?: number;
}

export type { ConvertProgress, ConvertReport, TrainProgress };
type OnProgress = (progress: TrainProgress) => void;

const jobs = new Map<number, AbortController>();
const base = import.meta.env.BASE_URL;

async function guarded<T>(id: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  jobs.set(id, controller);
  try {
    await setupBrowserBackend();
    return await fn(controller.signal);
  } catch (error) {
    if (error instanceof Error) throw error;
    throw new Error(`Training failed: ${String(error)}`, { cause: error });
  } finally {
    jobs.delete(id);
  }
}

/** The split a job works on: the user's IDX files when given, else the built-in MNIST. */
async function splitFor(
  data: IdxData | undefined,
  seed: number | undefined,
  signal: AbortSignal,
): Promise<DatasetSplit> {
  if (!data) return fetchMnistSplit(base, seed ?? 1, signal);
  return splitDataset(
    await datasetFromIdxFiles(data.images, data.labels, data.name ?? 'IDX data'),
    { seed: seed ?? 1 },
  );
}

function buffersOf(network: SourceNetwork): ArrayBuffer[] {
  return network.layers.flatMap((l) => [
    l.weights.data.buffer as ArrayBuffer,
    l.bias.buffer as ArrayBuffer,
  ]);
}

const api = {
  /** Trains a fresh model on the built-in MNIST split (seeded). */
  train(id: number, request: TrainRequest, onProgress?: OnProgress): Promise<HepexModel> {
    return guarded(id, async (signal) => {
      const data = await splitFor(request.data, request.seed, signal);
      const spec = createSpec(request.arch, request.layers, request.activation, request.conv);
      const {
        arch: _arch,
        layers: _layers,
        activation: _activation,
        conv: _conv,
        data: _data,
        ...options
      } = request;
      const { model } = await trainModel(spec, data, {
        ...options,
        signal,
        onProgress: (p) => onProgress?.(p),
      });
      return transfer(model, buffersOf(model.network));
    });
  },

  /** Masked fine-tuning: masked weights are exactly zero in the result. */
  fineTune(id: number, request: FineTuneRequest, onProgress?: OnProgress): Promise<Network> {
    return guarded(id, async (signal) => {
      const data = await splitFor(request.data, request.seed, signal);
      const trainer = createTfjsTrainer(data, { noise: request.noise, seed: request.seed });
      const network = await trainer.fineTune(request.network, request.masks, {
        epochs: request.epochs,
        learningRate: request.learningRate,
        batchSize: request.batchSize,
        signal,
        onProgress: onProgress ? (p) => onProgress(p) : undefined,
      });
      return transfer(network, buffersOf(network));
    });
  },

  /** Accuracy or reconstruction MSE on the held-out split. */
  evaluate(
    id: number,
    network: Network,
    options: { noise?: number; seed?: number; data?: IdxData } = {},
  ): Promise<Metric> {
    return guarded(id, async (signal) => {
      const data = await splitFor(options.data, options.seed, signal);
      return createTfjsTrainer(data, options).evaluate(network, signal);
    });
  },

  /** Converts a ReLU/sigmoid/tanh model into a HE-ready one; the report has the three metrics. */
  convert(
    id: number,
    request: ConvertRequest,
    onProgress?: (progress: ConvertProgress) => void,
  ): Promise<{ model: HepexModel; report: ConvertReport }> {
    return guarded(id, async (signal) => {
      const data = await splitFor(request.data, request.seed, signal);
      const noise = request.source.provenance?.noise;
      const result = await convertModel(request.source, data, {
        epochs: request.epochs,
        seed: request.seed,
        noise: typeof noise === 'number' ? noise : 0,
        signal,
        onProgress: (p) => onProgress?.(p),
      });
      return transfer(result, buffersOf(result.model.network));
    });
  },

  /** Stops job `id` between two batches; it rejects with HepexError 'cancelled'. */
  cancel(id: number): void {
    jobs.get(id)?.abort();
  },
};

export type TrainApi = typeof api;

expose(api);
