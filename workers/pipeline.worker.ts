/// <reference lib="webworker" />
import { expose, transfer } from 'comlink';
import type { Mask } from '../src/core/model/matrix';
import type { NetworkPermutation } from '../src/core/model/permutation';
import type { Network } from '../src/core/model/network';
import { permuteAndCheck, type PermuteStepResult } from '../src/core/prune/permuteNetwork';
import type { PermuteObjective } from '../src/core/prune/permute';
import { runPipeline, type StepRecord } from '../src/core/prune/pipeline';
import { type PipelineStep } from '../src/core/prune/pipelineSteps';
import { unfoldClientPermutation } from '../src/core/prune/clientPermutation';
import { nonZeroMask } from '../src/core/model/matrix';
import {
  checkDatasetFits,
  imagesToFloat,
  splitDataset,
  takeSamples,
  type DatasetSplit,
} from '../src/core/io/dataset';
import type { TileShape } from '../src/core/tiling/tileShape';
import type { Metric } from '../src/core/model/trainer';
import { setupBrowserBackend } from '../src/engines/tfjs/backendBrowser';
import { datasetFromIdxFiles, fetchMnistSplit } from '../src/engines/tfjs/mnistBrowser';
import { createTfjsTrainer } from '../src/engines/tfjs/trainer';
import { installHepexErrorTransfer } from './errorTransfer';

/**
 * The pipeline worker: a thin comlink facade over src/core/prune and, for retraining and
 * evaluation, the tfjs trainer on the built-in MNIST split, so heavy steps (permutation search:
 * seconds on 784-256-64-256-784; fine-tuning: seconds per epoch) never block the page. Inputs
 * arrive transferred (the client sends copies); results are transferred back.
 */
installHepexErrorTransfer();

export interface StepProgress {
  /** 0..1 where the step can tell. */
  readonly fraction: number | null;
  readonly detail: string;
}

export type { PermuteStepResult };

export interface PermuteJob {
  /** The working network (unpruned weights, earlier permutations folded in). */
  readonly network: Network;
  readonly masks: Mask[];
  readonly tile: TileShape;
  /** The client permutation the network already carries (composed with the new one). */
  readonly permutation?: NetworkPermutation;
  /** What the search optimises (core/prune/methodSteps permuteObjectiveFor); default tiles. */
  readonly objective?: PermuteObjective;
}

/** Held-out samples the permutation's function check runs on. */
const PERMUTE_CHECK_SAMPLES = 256;

function buffersOf(
  network: Network,
  masks: readonly Mask[],
  permutation: NetworkPermutation,
): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const l of network.layers)
    buffers.add(l.weights.data.buffer as ArrayBuffer).add(l.bias.buffer as ArrayBuffer);
  for (const m of masks) buffers.add(m.data.buffer as ArrayBuffer);
  buffers
    .add(permutation.input.buffer as ArrayBuffer)
    .add(permutation.output.buffer as ArrayBuffer);
  return [...buffers];
}

export interface PipelineJob {
  readonly network: Network;
  readonly masks?: Mask[];
  readonly permutation?: NetworkPermutation;
  readonly dense?: Network;
  readonly tile: TileShape;
  readonly steps: PipelineStep[];
  /** Denoisers train and evaluate on noisy inputs (std). */
  readonly noise?: number;
}

/** A metric and the data it was measured on (the split's label), so no figure mixes data sets. */
export interface Evaluation {
  readonly metric: Metric;
  readonly data: string;
}

export interface PipelineStepsResult {
  readonly network: Network;
  readonly masks: Mask[];
  readonly permutation: NetworkPermutation;
  readonly records: StepRecord[];
}

const base = import.meta.env.BASE_URL;

/** Data a person opened (IDX), split with seed 1; null: the built-in MNIST split. */
let userData: DatasetSplit | null = null;
/** Settles when the last setData has been parsed, so jobs posted after it see its data. */
let pendingData: Promise<unknown> = Promise.resolve();

async function dataSplit(): Promise<DatasetSplit> {
  await pendingData;
  return userData ?? fetchMnistSplit(base);
}

async function trainerFor(noise: number | undefined) {
  const [data] = await Promise.all([dataSplit(), setupBrowserBackend()]);
  return createTfjsTrainer(data, { noise: noise ?? 0 });
}

const api = {
  /** Runs pipeline steps (prune, retrain, permute, expand...) with the tfjs trainer; progress per step. */
  async pipeline(
    job: PipelineJob,
    onProgress?: (p: StepProgress) => void,
  ): Promise<PipelineStepsResult> {
    const trainer = await trainerFor(job.noise);
    const result = await runPipeline(
      { network: job.network, masks: job.masks, permutation: job.permutation, dense: job.dense },
      trainer,
      {
        tile: job.tile,
        steps: job.steps,
        onProgress: (p) =>
          onProgress?.({
            fraction:
              (p.stepIndex + (p.status === 'finished' ? 1 : (p.fraction ?? 0))) /
              Math.max(1, p.steps),
            detail: `step ${p.stepIndex + 1} of ${p.steps}: ${p.kind}${p.message ? ` (${p.message})` : ''}`,
          }),
      },
    );
    return transfer(result, buffersOf(result.network, result.masks, result.permutation));
  },

  /**
   * Uses IDX data a person opened (images + labels, gzipped or not) for retraining, evaluation
   * and encrypted runs from now on; a file that does not parse or fit leaves the data as it was.
   */
  setData(
    images: Uint8Array,
    labels: Uint8Array,
    name: string,
    inputs: number,
  ): Promise<{ label: string; count: number }> {
    const parsed = (async () => {
      const data = await datasetFromIdxFiles(images, labels, name);
      checkDatasetFits(data, inputs);
      return splitDataset(data, { seed: 1 });
    })();
    pendingData = parsed.then(
      (split) => {
        userData = split;
      },
      () => undefined,
    );
    return parsed.then((split) => ({
      label: split.label,
      count: split.train.count + split.test.count,
    }));
  },

  /** Back to the built-in MNIST split. */
  clearData(): void {
    userData = null;
    pendingData = Promise.resolve();
  },

  /** The first `count` held-out test images, samples x pixels in [0, 1], and their labels (inputs for encrypted runs). */
  async testInputs(
    count: number,
  ): Promise<{ inputs: Float32Array; labels: Uint8Array; samples: number }> {
    const { test } = await dataSplit();
    const samples = Math.max(1, Math.min(count, test.count));
    const subset = takeSamples(test, samples);
    const inputs = imagesToFloat(subset);
    const labels = Uint8Array.from(subset.labels);
    return transfer({ inputs, labels, samples }, [inputs.buffer, labels.buffer]);
  },

  /**
   * Accuracy or reconstruction MSE of a network on the held-out split. A client permutation is
   * put back first, so the network sees the dataset's pixel order.
   */
  async evaluate(
    network: Network,
    permutation?: NetworkPermutation,
    noise?: number,
  ): Promise<Evaluation> {
    const inOrder = permutation
      ? unfoldClientPermutation(
          network,
          network.layers.map((l) => nonZeroMask(l.weights)),
          permutation,
        ).network
      : network;
    const [data, trainer] = await Promise.all([dataSplit(), trainerFor(noise)]);
    return { metric: await trainer.evaluate(inOrder), data: data.label };
  },

  /**
   * Permutes neurons for the masks, composing with the permutation the network already carries,
   * and checks on up to 256 held-out samples that the function did not change.
   */
  async permute(
    job: PermuteJob,
    onProgress?: (p: StepProgress) => void,
  ): Promise<PermuteStepResult> {
    const { test } = await dataSplit();
    const check = takeSamples(test, Math.min(PERMUTE_CHECK_SAMPLES, test.count));
    const result = permuteAndCheck(
      { network: job.network, masks: job.masks, permutation: job.permutation },
      job.tile,
      imagesToFloat(check),
      check.count,
      {
        objective: job.objective,
        onProgress: (p) =>
          onProgress?.({
            fraction: null,
            detail: `pass ${p.outerIteration + 1}, neuron set ${p.set + 1} of ${p.sets}: ${p.nonZeroTiles} non-zero tiles`,
          }),
      },
    );
    return transfer(result, buffersOf(result.network, result.masks, result.permutation));
  },
};

export type PipelineApi = typeof api;

expose(api);
