import { parentPort, workerData } from 'node:worker_threads';
import { HepexError } from '../src/core/model/errors';
import { runHeJob, type HeJob } from './paperHe';

/** Worker entry of bench/paperHe.ts: one encrypted run, one reply, then the thread ends. */
runHeJob(workerData as HeJob).then(
  (result) => parentPort!.postMessage({ result }),
  (e: unknown) =>
    parentPort!.postMessage({
      error: {
        code: e instanceof HepexError ? e.code : undefined,
        message: e instanceof Error ? e.message : String(e),
      },
    }),
);
