import type { DatasetSplit } from '../../core/io/dataset';
import { limitSplit } from '../../core/sweep/data';
import type { Mask } from '../../core/model/matrix';
import type { Network } from '../../core/model/network';
import type { NetworkPermutation } from '../../core/model/permutation';
import { geometryOf } from '../../core/model/layerKinds';
import { runPipeline } from '../../core/prune/pipeline';
import { rowFromRecords, type SweepJobResult } from '../../core/sweep/results';
import { jobSteps, jobTileShape, type SweepJob } from '../../core/sweep/spec';
import { createTfjsTrainer } from '../tfjs/trainer';

/** The model a job prunes (as loaded: the pipeline never modifies it). */
export interface JobModel {
  readonly network: Network;
  readonly masks?: readonly Mask[];
  readonly permutation?: NetworkPermutation;
  /** Denoisers: std of the input noise they were trained with; 0 otherwise. */
  readonly noise: number;
}

export interface JobPipelineOptions {
  readonly signal?: AbortSignal;
  /** Each pipeline step as it starts: its index, the step count and its kind. */
  readonly onStep?: (step: number, steps: number, kind: string) => void;
}

/**
 * One sweep job on a model already in memory and its data split (by the job's seed, before the
 * spec's limits): the CLI's runSweepJob and the studio's sweep worker both end here. A fresh
 * trainer per job: the tfjs trainer's shuffles count its calls, so a trainer shared by jobs
 * would make a job's result depend on the jobs before it.
 */
export async function runJobPipeline(
  job: SweepJob,
  model: JobModel,
  split: DatasetSplit,
  options: JobPipelineOptions = {},
): Promise<SweepJobResult> {
  const started = performance.now();
  const { config } = job;
  const trainer = createTfjsTrainer(limitSplit(split, config.data), {
    noise: model.noise,
    seed: config.seed,
  });
  const result = await runPipeline(
    { network: model.network, masks: model.masks, permutation: model.permutation },
    trainer,
    {
      tile: jobTileShape(config),
      steps: jobSteps(config),
      mode: config.settings.mode,
      signal: options.signal,
      onProgress: (e) => {
        if (e.status === 'started') options.onStep?.(e.stepIndex, e.steps, e.kind);
      },
    },
  );
  const firstIsConv = geometryOf(model.network.layers[0]) !== undefined;
  return {
    row: rowFromRecords(job, result.records, firstIsConv),
    elapsedMs: performance.now() - started,
  };
}
