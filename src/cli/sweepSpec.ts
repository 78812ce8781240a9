import { existsSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { HepexError } from '../core/model/errors';
import {
  collectResults,
  doneFromResults,
  type SweepJobResult,
  type SweepResults,
} from '../core/sweep/results';
import { parseBoundedJson } from '../core/io/boundedJson';
import { parseSweepSpec, type SweepJob } from '../core/sweep/spec';
import { readBoundedFile } from '../engines/node/boundedFile';
import {
  createSweepPool,
  runInProcess,
  runSweepJobs,
  type SweepPool,
} from '../engines/sweep/sweepPool';
import { runSweepOnQueue } from '../engines/sweep/sweepQueue';
import {
  optionalInteger,
  optionalNumber,
  parseFlags,
  requireString,
  type ParsedFlags,
} from './args';
import type { CommandIo, CommandResult } from './command';
import { formatMetric } from './commands/prune';

/**
 * `hepex sweep --spec FILE`: a sweep description (core/sweep/spec.ts) run as independent jobs,
 * serially, on a local pool of worker threads (--workers N) or on a BullMQ queue (--queue
 * URL, served by `hepex worker`). The results file is rewritten after every finished job, so
 * --resume after a crash or a cancel runs only the jobs it lacks.
 */
export const specSweepFlags = {
  spec: 'string',
  workers: 'string',
  queue: 'string',
  out: 'string',
  resume: 'boolean',
  'job-timeout': 'string',
  'job-memory': 'string',
} as const;

export const specSweepUsage = [
  'npm run hepex -- sweep --spec FILE.json [--workers N | --queue redis://HOST:PORT] [--out results.json] [--resume]',
  '  [--job-timeout SECONDS] [--job-memory MB] [--json]',
  '--spec: a sweep description (version 1: model, data, methods, grid {sparsity, theta, tile}, seeds, settings);',
  '  every configuration is one job with a stable id. --workers N: N worker threads on this machine.',
  '  --queue URL: enqueue on Redis (BullMQ) for `hepex worker --queue URL` processes on any machine.',
  '  --resume: keep the rows of --out that belong to this spec and run only the missing jobs.',
  '  --job-timeout / --job-memory: per-job limits of the pool threads (--workers; the worker takes its own).',
].join('\n');

/** Spec files are small; a megabyte is far more than any grid needs. */
const MAX_SPEC_BYTES = 1 << 20;
/** A results file to resume from: rows of a few hundred bytes, far fewer than this. */
const MAX_RESULTS_BYTES = 256 << 20;

/** Writes the results next to `path` first, then renames: a crash never leaves half a file. */
async function writeResults(path: string, results: SweepResults): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(results, null, 2) + '\n');
  await rename(tmp, path);
}

/** A sweep job's limits from --job-timeout SECONDS and --job-memory MB (both optional). */
export function jobLimits(flags: ParsedFlags): { timeoutMs?: number; maxMemoryMb?: number } {
  const timeoutS = optionalNumber(flags, 'job-timeout');
  if (timeoutS !== undefined && !(timeoutS > 0))
    throw new HepexError(
      'invalid-argument',
      `--job-timeout must be positive seconds, got ${timeoutS}.`,
    );
  const maxMemoryMb =
    flags['job-memory'] === undefined
      ? undefined
      : optionalInteger(flags, 'job-memory', { min: 64, max: 1 << 20 }, 0);
  return { timeoutMs: timeoutS === undefined ? undefined : timeoutS * 1000, maxMemoryMb };
}

export async function runSpecSweep(argv: readonly string[], io: CommandIo): Promise<CommandResult> {
  const flags = parseFlags(argv, specSweepFlags);
  const specPath = requireString(flags, 'spec');
  const out = typeof flags.out === 'string' ? flags.out : undefined;
  const queue = typeof flags.queue === 'string' ? flags.queue : undefined;
  if (queue !== undefined && flags.workers !== undefined)
    throw new HepexError(
      'invalid-argument',
      '--workers and --queue exclude each other: a queue sweep runs on `hepex worker` processes.',
    );
  if (flags.resume === true && out === undefined)
    throw new HepexError('invalid-argument', '--resume reads the results so far from --out FILE.');
  const workers = optionalInteger(flags, 'workers', { min: 1, max: 256 }, 1);
  const { timeoutMs, maxMemoryMb } = jobLimits(flags);

  const bytes = await readBoundedFile(specPath, {
    limit: MAX_SPEC_BYTES,
    what: 'sweep spec',
    code: 'invalid-argument',
    noun: 'sweep specs',
  });
  const { spec, jobs } = parseSweepSpec(new TextDecoder().decode(bytes));

  let done = new Map<string, SweepJobResult>();
  if (flags.resume === true && out !== undefined && existsSync(out)) {
    const previous = parseBoundedJson(
      new TextDecoder().decode(
        await readBoundedFile(out, {
          limit: MAX_RESULTS_BYTES,
          what: '--resume results',
          code: 'invalid-argument',
          noun: 'sweep results files',
        }),
      ),
      (message) => new HepexError('invalid-argument', `--resume: ${out}: ${message}`),
    );
    done = doneFromResults(previous, jobs);
  }
  const todo = jobs.filter((j) => !done.has(j.id));
  const where = queue
    ? `the queue ${queue}`
    : workers > 1
      ? `${workers} worker threads`
      : 'this thread';
  io.progress(
    `sweep: ${jobs.length} jobs${done.size ? `, ${done.size} already done` : ''}; running ${todo.length} on ${where}`,
  );

  let finished = done.size;
  // One write at a time, in order: pool lanes finish jobs concurrently, and two renames of
  // one temp file would race.
  let writing: Promise<void> = Promise.resolve();
  const save = (): Promise<void> => {
    if (!out) return writing;
    const results = collectResults(spec, jobs, done);
    writing = writing.then(() => writeResults(out, results));
    return writing;
  };
  const onResult = async (job: SweepJob, result: SweepJobResult): Promise<void> => {
    done.set(job.id, result);
    finished++;
    const r = result.row;
    io.progress(
      `job ${finished}/${jobs.length} ${job.id}: ${r.method} at ${r.sparsity}${r.theta === undefined ? '' : ` theta ${r.theta}`} ${r.tile} seed ${r.seed}: ${r.ciphertexts} ciphertexts, ${r.metricName} ${formatMetric(r.metricName, r.metric)}`,
    );
    await save();
  };

  if (queue) {
    let last = '';
    await runSweepOnQueue(queue, todo, {
      signal: io.signal,
      onResult,
      onStatus: (s) => {
        const line = `queue: ${s.done}/${s.total} done, ${s.active} running`;
        if (line !== last) io.progress((last = line));
      },
    });
  } else {
    let pool: SweepPool | undefined;
    try {
      // One worker means this thread unless a limit needs a thread to enforce it.
      const useThreads = workers > 1 || timeoutMs !== undefined || maxMemoryMb !== undefined;
      if (useThreads)
        pool = createSweepPool({
          workers,
          timeoutMs,
          maxMemoryMb,
        });
      await runSweepJobs(todo, pool?.run ?? runInProcess, {
        concurrency: workers,
        signal: io.signal,
        onStart: (job) =>
          io.progress(`start ${job.id}: ${job.config.method} at ${job.config.sparsity}`),
        onResult,
      });
    } finally {
      await pool?.close();
    }
  }

  await save();
  const results = collectResults(spec, jobs, done);
  const text = [
    `sweep of ${spec.model}: ${results.points.length} jobs`,
    ...results.points.map(
      (p) =>
        `${p.pareto ? '*' : ' '} ${p.id} ${p.method.padEnd(9)} ${String(p.sparsity).padEnd(5)} ${p.theta === undefined ? '      ' : String(p.theta).padEnd(6)} ${p.tile.padEnd(6)} seed ${String(p.seed).padEnd(4)} ${String(p.ciphertexts).padStart(6)} ciphertexts  ${p.metricName} ${formatMetric(p.metricName, p.metric)}`,
    ),
    '* on the frontier (no run has fewer ciphertexts and a better metric)',
    ...(out ? [`results in ${out}`] : []),
  ].join('\n');
  return { json: results, text };
}
