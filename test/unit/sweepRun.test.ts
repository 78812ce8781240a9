import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HepexError } from '../../src/core/model/errors';
import type { SweepResults } from '../../src/core/sweep/results';
import { expandSweep } from '../../src/core/sweep/spec';
import { createSweepPool, runSweepJobs } from '../../src/engines/sweep/sweepPool';
import { hepex } from '../fixtures/cli';
import {
  spawnHepex,
  startRedis,
  type HepexChild,
  type RedisServer,
} from '../fixtures/sweepProcesses';

/**
 * A 12-job sweep of the shipped MLP (784-128-10): 3 methods x 2 sparsities x 2 seeds, one
 * retrain epoch on the first 300 / 300 images of each seed's split, so a job takes about a
 * second. Run serially, on a pool of 2 threads and through Redis with two `hepex worker`
 * processes (one killed mid-job), it must give the same rows.
 */
const spec = {
  version: 1,
  model: 'public/models/mlp',
  data: { trainLimit: 300, testLimit: 300 },
  methods: ['magnitude', 'tile', 'hepex'],
  grid: { sparsity: { magnitude: [0.8, 0.9], tile: [0.3, 0.6], hepex: [0.8, 0.9] } },
  seeds: [1, 2],
  settings: { retrainEpochs: 1 },
};

let dir: string;
let specPath: string;
let serial: SweepResults;

const readResults = async (path: string): Promise<SweepResults> =>
  JSON.parse(await readFile(path, 'utf8')) as SweepResults;

/** The results without their timings: what must not depend on where jobs ran. */
const comparable = (r: SweepResults): Omit<SweepResults, 'timings'> => {
  const { timings: _timings, ...rest } = r;
  return rest;
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hepex-sweep-'));
  specPath = join(dir, 'spec.json');
  await writeFile(specPath, JSON.stringify(spec));
  const r = await hepex('sweep', '--spec', specPath, '--out', join(dir, 'serial.json'));
  expect(r.code, r.stderr).toBe(0);
  serial = await readResults(join(dir, 'serial.json'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('hepex sweep --spec', () => {
  it('runs 12 independent jobs serially into one results file', () => {
    const { jobs } = expandSweep(spec);
    expect(serial.complete).toBe(true);
    expect(serial.points.map((p) => p.id)).toEqual(jobs.map((j) => j.id));
    expect(Object.keys(serial.timings).sort()).toEqual(jobs.map((j) => j.id).sort());
    for (const p of serial.points) {
      expect(p.metricName).toBe('accuracy');
      expect(p.baseline.ciphertexts).toBeGreaterThan(p.ciphertexts);
      expect(p.metric).toBeGreaterThan(0.5);
    }
    // The seeds matter (another split, other shuffles): not a copy of one run.
    const bySeed = (s: number) => serial.points.filter((p) => p.seed === s).map((p) => p.metric);
    expect(bySeed(1)).not.toEqual(bySeed(2));
    expect(serial.points.some((p) => p.pareto)).toBe(true);
  });

  it('gives the same rows with --workers 2, and --resume then runs nothing', async () => {
    const out = join(dir, 'pool.json');
    const r = await hepex('sweep', '--spec', specPath, '--workers', '2', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/running 12 on 2 worker threads/);
    expect(comparable(await readResults(out))).toEqual(comparable(serial));

    const again = await hepex('sweep', '--spec', specPath, '--out', out, '--resume', '--json');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/12 jobs, 12 already done; running 0/);
    expect(again.stderr).not.toMatch(/^start /m);
    expect(comparable(JSON.parse(again.stdout) as SweepResults)).toEqual(comparable(serial));
  });

  it('resumes a half-done results file: only the missing jobs run', async () => {
    const out = join(dir, 'half.json');
    const half: SweepResults = {
      ...serial,
      points: serial.points.slice(0, 7),
      complete: false,
    };
    await writeFile(out, JSON.stringify(half));
    const r = await hepex('sweep', '--spec', specPath, '--out', out, '--resume');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/7 already done; running 5/);
    expect(r.stderr.match(/^start /gm)).toHaveLength(5);
    expect(comparable(await readResults(out))).toEqual(comparable(serial));
  });
});

describe('a spec job and the flag-driven sweep', () => {
  it('give the same frontier point for the same configuration', async () => {
    const legacy = await hepex(
      'sweep',
      '--model',
      'public/models/mlp',
      '--method',
      'magnitude',
      '--sparsities',
      '0.8',
      '--retrain-epochs',
      '1',
      '--json',
    );
    expect(legacy.code, legacy.stderr).toBe(0);
    const [point] = (JSON.parse(legacy.stdout) as { points: Record<string, unknown>[] }).points;
    const one = join(dir, 'one.json');
    await writeFile(
      one,
      JSON.stringify({
        version: 1,
        model: 'public/models/mlp',
        methods: ['magnitude'],
        grid: { sparsity: [0.8] },
        settings: { retrainEpochs: 1 },
      }),
    );
    const r = await hepex('sweep', '--spec', one, '--json');
    expect(r.code, r.stderr).toBe(0);
    const [row] = (JSON.parse(r.stdout) as SweepResults).points;
    for (const key of ['method', 'sparsity', 'ciphertexts', 'nonZeroTiles', 'metric', 'loss'])
      expect(row[key as keyof typeof row], key).toBe(point[key]);
  });
});

describe('sweep pool', () => {
  const { jobs } = expandSweep(spec);

  it('stops on cancel: no job starts after the abort, the running ones are terminated', async () => {
    const pool = createSweepPool({ workers: 2 });
    const controller = new AbortController();
    const started: string[] = [];
    try {
      const run = runSweepJobs(jobs, pool.run, {
        concurrency: 2,
        signal: controller.signal,
        onStart: (job) => started.push(job.id),
        onProgress: (p) => {
          if (p.message === 'prune') controller.abort();
        },
      });
      await expect(run).rejects.toMatchObject({ code: 'cancelled' });
      expect(started.length).toBeLessThanOrEqual(2);
    } finally {
      await pool.close();
    }
  });

  it('fails a job over its time limit with a typed error, and the next job still runs', async () => {
    const pool = createSweepPool({ workers: 1, timeoutMs: 30 });
    try {
      const error = await pool.run(jobs[0]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HepexError);
      expect(error).toMatchObject({ code: 'timeout' });
      expect((error as Error).message).toMatch(/longer than its limit of 30 ms/);
    } finally {
      await pool.close();
    }
    const roomy = createSweepPool({ workers: 1, timeoutMs: 120_000 });
    try {
      const result = await roomy.run(jobs[0]);
      expect(result.row).toEqual(
        (({ pareto: _p, ...row }) => row)(serial.points.find((p) => p.id === jobs[0].id)!),
      );
    } finally {
      await roomy.close();
    }
  });
});

describe('sweep pool memory limit', () => {
  it('fails a job whose thread outgrows its heap limit with a typed error', async () => {
    const { jobs } = expandSweep(spec);
    // 16 MB of V8 heap: less than loading tfjs and the 784-128-10 model takes (~50-90 MB).
    const pool = createSweepPool({ workers: 1, maxMemoryMb: 16 });
    try {
      const error = await pool.run(jobs[0]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HepexError);
      expect(error).toMatchObject({ code: 'out-of-memory' });
      expect((error as Error).message).toMatch(/16 MB heap limit/);
    } finally {
      await pool.close();
    }
  });
});

describe('hepex sweep --queue (BullMQ on Redis)', () => {
  let redis: RedisServer;
  const workers: HepexChild[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterAll(async () => {
    for (const w of workers)
      if (w.child.exitCode === null && !w.child.killed) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await redis?.stop();
  });

  it('gives the same rows through two workers, one killed mid-job: retried, none lost or doubled', async () => {
    // A short lock and stalled check, so the killed worker's job is handed on within seconds.
    const workerArgs = [
      'worker',
      '--queue',
      redis.url,
      '--lock-ms',
      '2000',
      '--stalled-ms',
      '1000',
    ];
    const a = spawnHepex(workerArgs);
    const b = spawnHepex(workerArgs);
    workers.push(a, b);
    await Promise.all([a.waitFor(/serving hepex-sweep/), b.waitFor(/serving hepex-sweep/)]);
    const out = join(dir, 'queue.json');
    const sweep = spawnHepex(['sweep', '--spec', specPath, '--queue', redis.url, '--out', out]);
    workers.push(sweep);

    // Kill worker a as soon as it is inside a job (BullMQ has it active, locked by a).
    const [, killedJob] = await a.waitFor(/job ([0-9a-f]{16}) started/);
    a.child.kill('SIGKILL');
    expect(await a.exited).toBe('SIGKILL');
    expect(a.stderr()).not.toMatch(new RegExp(`job ${killedJob} done`));

    expect(await sweep.exited, sweep.stderr()).toBe(0);
    const results = await readResults(out);
    expect(comparable(results)).toEqual(comparable(serial));
    expect(new Set(results.points.map((p) => p.id)).size).toBe(12);
    // The killed worker's job was started again, by the surviving worker, and finished there.
    expect(b.stderr()).toMatch(new RegExp(`job ${killedJob} started`));
    expect(b.stderr()).toMatch(new RegExp(`job ${killedJob} done`));
    const doneLines = [
      ...a.stderr().matchAll(/job \w+ done/g),
      ...b.stderr().matchAll(/job \w+ done/g),
    ];
    expect(doneLines).toHaveLength(12);

    // Re-running the sweep collects every result from Redis: nothing runs again.
    const before = b.stderr().length;
    const again = spawnHepex(['sweep', '--spec', specPath, '--queue', redis.url, '--json']);
    workers.push(again);
    expect(await again.exited, again.stderr()).toBe(0);
    expect(comparable(JSON.parse(again.stdout()) as SweepResults)).toEqual(comparable(serial));
    expect(b.stderr().slice(before)).not.toMatch(/started/);

    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
    expect(b.stdout()).toMatch(/served \d+ job/);
  });

  it('says so in words when Redis is not there or the URL is not one', async () => {
    const r = await hepex('sweep', '--spec', specPath, '--queue', 'http://127.0.0.1:1');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--queue takes a Redis URL like redis:\/\/127\.0\.0\.1:6379/);
    const both = await hepex('sweep', '--spec', specPath, '--queue', redis.url, '--workers', '2');
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/--workers and --queue exclude each other/);
  });
});
