/// <reference lib="webworker" />
import { expose } from 'comlink';
import type { SweepJobResult } from '../src/core/sweep/results';
import type { SweepJob } from '../src/core/sweep/spec';
import { setupBrowserBackend } from '../src/engines/tfjs/backendBrowser';
import { fetchMnistSplit } from '../src/engines/tfjs/mnistBrowser';
import { runJobPipeline, type JobModel } from '../src/engines/sweep/jobPipeline';
import { installHepexErrorTransfer } from './errorTransfer';

/**
 * A studio sweep worker: one sweep job at a time (src/engines/sweep/jobPipeline.ts) on the
 * studio's model and the built-in MNIST split of the job's seed, the same recipe `hepex sweep
 * --spec` runs. The sweep client starts a few of these and cancels by terminating them.
 */
installHepexErrorTransfer();

export interface SweepStep {
  readonly jobId: string;
  readonly step: number;
  readonly steps: number;
  readonly kind: string;
}

const base = import.meta.env.BASE_URL;

const api = {
  async run(
    job: SweepJob,
    model: JobModel,
    onStep?: (step: SweepStep) => void,
  ): Promise<SweepJobResult> {
    const [split] = await Promise.all([
      fetchMnistSplit(base, job.config.seed),
      setupBrowserBackend(),
    ]);
    return runJobPipeline(job, model, split, {
      onStep: (step, steps, kind) => onStep?.({ jobId: job.id, step, steps, kind }),
    });
  },
};

export type SweepWorkerApi = typeof api;

expose(api);
