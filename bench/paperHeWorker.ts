import { runHeJob, type HeJob } from './paperHe';
import { serveThreadJob } from './threadJob';

/** Worker entry of bench/paperHe.ts: one encrypted run, one reply, then the thread ends. */
serveThreadJob((job: HeJob) => runHeJob(job));
