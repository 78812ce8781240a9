import { parentPort } from 'node:worker_threads';
import { expose, releaseProxy, type Remote } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { isHepexError } from '../../core/model/errors';
import type { SweepJob } from '../../core/sweep/spec';
import { runSweepJob, type SweepJobProgress } from './runJob';
import type { WorkerOutcome } from './sweepPool';

/**
 * A Node worker thread of the sweep pool (sweepPool.ts): a comlink facade over runSweepJob.
 * Errors come back as values: comlink rebuilds a thrown error as a plain Error, which would
 * lose a HepexError's code.
 */
const api = {
  async run(job: SweepJob, onProgress?: (p: SweepJobProgress) => void): Promise<WorkerOutcome> {
    try {
      return {
        ok: true,
        result: await runSweepJob(job, { onProgress: (p) => void onProgress?.(p) }),
      };
    } catch (error) {
      if (isHepexError(error)) return { ok: false, code: error.code, message: error.message };
      throw error;
    } finally {
      // The callback is a proxy over a MessagePort the caller opened: close it, or it lingers.
      (onProgress as Remote<typeof onProgress> | undefined)?.[releaseProxy]();
    }
  },
};

export type SweepJobWorkerApi = typeof api;

expose(api, nodeEndpoint(parentPort!));
