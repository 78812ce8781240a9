import { serveSweepQueue } from '../../engines/sweep/sweepQueue';
import { jobLimits } from '../sweepSpec';
import { optionalInteger, parseFlags, requireString } from '../args';
import type { Command } from '../command';

export const command: Command = {
  summary:
    'Serve a sweep queue (BullMQ on Redis): run the jobs `hepex sweep --spec FILE --queue URL` enqueued, on this machine.',
  usage: [
    'npm run hepex -- worker --queue redis://HOST:PORT [--concurrency N] [--job-timeout SECONDS] [--job-memory MB]',
    '  [--lock-ms MS] [--stalled-ms MS] [--json]',
    'Runs until SIGINT or SIGTERM, then finishes its running jobs. Each job runs in its own worker thread,',
    'so a stuck job never blocks the queue lock. A worker that dies mid-job: after --lock-ms (default 30000)',
    'its lock lapses and the next stalled-job check (every --stalled-ms, default 30000) hands the job to',
    'another worker. The model and data paths in the spec must be readable on this machine.',
  ].join('\n'),
  async run(argv, io) {
    const flags = parseFlags(argv, {
      queue: 'string',
      concurrency: 'string',
      'job-timeout': 'string',
      'job-memory': 'string',
      'lock-ms': 'string',
      'stalled-ms': 'string',
    });
    const url = requireString(flags, 'queue');
    const concurrency = optionalInteger(flags, 'concurrency', { min: 1, max: 256 }, 1);
    const { timeoutMs, maxMemoryMb } = jobLimits(flags);
    const lockMs = optionalInteger(flags, 'lock-ms', { min: 100, max: 3_600_000 }, 30_000);
    const stalledMs = optionalInteger(flags, 'stalled-ms', { min: 100, max: 3_600_000 }, 30_000);
    // SIGTERM too: the way a service manager (or a test) stops a worker politely.
    const stop = new AbortController();
    const onTerm = (): void => stop.abort();
    process.once('SIGTERM', onTerm);
    try {
      const served = await serveSweepQueue(url, {
        concurrency,
        timeoutMs,
        maxMemoryMb,
        lockMs,
        stalledMs,
        signal: AbortSignal.any([io.signal, stop.signal]),
        log: io.progress,
      });
      return { json: { queue: url, served }, text: `served ${served} job(s) from ${url}` };
    } finally {
      process.off('SIGTERM', onTerm);
    }
  },
};
