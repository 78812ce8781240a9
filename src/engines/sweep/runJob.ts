import { basename } from 'node:path';
import { explicitSplit, type DatasetSplit } from '../../core/io/dataset';
import { checkTrainedData, identifyDataset } from '../../core/io/dataIdentity';
import { mnistSplit } from '../../core/io/mnist';
import { heReadyModel, type HepexModel } from '../../core/io/model';
import { throwIfAborted } from '../../core/model/errors';
import type { SweepJobResult } from '../../core/sweep/results';
import type { SweepData, SweepJob } from '../../core/sweep/spec';
import { readBoundedFile } from '../node/boundedFile';
import { MAX_ONNX_BYTES } from '../onnx/onnxDecode';
import { sourceModelFromOnnx } from '../onnx/onnxImport';
import { loadIdxPair, loadMnistSplit } from '../tfjs/mnistNode';
import { readModelDir } from '../tfjs/modelDir';
import { runJobPipeline } from './jobPipeline';

/** Progress of one job, for people: the pipeline step starting. */
export interface SweepJobProgress {
  readonly jobId: string;
  readonly step: number;
  readonly steps: number;
  readonly message: string;
}

export interface RunJobOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: SweepJobProgress) => void;
}

/** A model directory (model.json + weights.bin) or an .onnx file with HE-ready activations. */
async function readJobModel(path: string): Promise<HepexModel> {
  if (!/\.onnx$/i.test(path)) return readModelDir(path);
  const bytes = await readBoundedFile(path, {
    limit: MAX_ONNX_BYTES,
    what: 'ONNX file',
    code: 'invalid-model-file',
    noun: 'models',
  });
  return heReadyModel(sourceModelFromOnnx(bytes, basename(path).replace(/\.onnx$/i, '')));
}

/** The split a job trains and scores on: the spec's data (default built-in MNIST), split by the seed. */
export async function loadJobData(data: SweepData, seed: number): Promise<DatasetSplit> {
  if (!data.images || !data.labels) return loadMnistSplit(seed);
  const all = await loadIdxPair(data.images, data.labels);
  if (!data.testImages || !data.testLabels)
    return { ...mnistSplit(all, seed), sources: { data: identifyDataset(all) } };
  const test = await loadIdxPair(data.testImages, data.testLabels);
  return {
    ...explicitSplit(all, test),
    sources: { data: identifyDataset(all), testData: identifyDataset(test) },
  };
}

/**
 * Runs one sweep job from its configuration alone: reads the model, loads and splits the data
 * by the job's seed and runs the method's pipeline (jobPipeline.ts). The same configuration
 * gives the same row in any process (test/unit/sweepRun.test.ts).
 */
export async function runSweepJob(
  job: SweepJob,
  options: RunJobOptions = {},
): Promise<SweepJobResult> {
  const { config } = job;
  throwIfAborted(options.signal);
  const model = await readJobModel(config.model);
  const split = await loadJobData(config.data, config.seed);
  const warning = split.sources
    ? checkTrainedData(model.provenance, split.sources.data, config.data.images !== undefined)
    : undefined;
  if (warning) options.onProgress?.({ jobId: job.id, step: 0, steps: 0, message: warning });
  const noise = typeof model.provenance?.noise === 'number' ? model.provenance.noise : 0;
  return runJobPipeline(
    job,
    { network: model.network, masks: model.masks, permutation: model.permutation, noise },
    split,
    {
      signal: options.signal,
      onStep: (step, steps, kind) =>
        options.onProgress?.({ jobId: job.id, step, steps, message: kind }),
    },
  );
}
