import { describe, expect, it } from 'vitest';
import { HepexError } from '../../src/core/model/errors';
import { canonicalJson, fnv1a64 } from '../../src/core/sweep/canonical';
import {
  collectResults,
  doneFromResults,
  markFrontier,
  type SweepRow,
} from '../../src/core/sweep/results';
import {
  MAX_SWEEP_JOBS,
  expandSweep,
  formatSweepSpec,
  jobId,
  parseSweepSpec,
} from '../../src/core/sweep/spec';

const base = {
  version: 1,
  model: 'public/models/mlp',
  methods: ['magnitude', 'hepex'],
  grid: { sparsity: [0.5, 0.9] },
};

function errorOf(value: unknown): HepexError {
  try {
    expandSweep(value);
  } catch (e) {
    expect(e).toBeInstanceOf(HepexError);
    return e as HepexError;
  }
  throw new Error('the spec was accepted');
}

describe('sweep spec', () => {
  it('expands methods x sparsities x thetas (hepex only) x tiles x seeds in spec order', () => {
    const { jobs } = expandSweep({
      ...base,
      grid: { sparsity: [0.5, 0.9], theta: [0.05, 0.1], tile: ['4x8', '8x4'] },
      seeds: [1, 2],
    });
    // magnitude: 2 sparsities x 2 tiles x 2 seeds; hepex: x 2 thetas more.
    expect(jobs).toHaveLength(8 + 16);
    expect(jobs.map((j) => j.index)).toEqual(jobs.map((_, i) => i));
    expect(jobs[0].config).toMatchObject({
      method: 'magnitude',
      sparsity: 0.5,
      tile: '4x8',
      seed: 1,
    });
    expect(jobs[0].config.theta).toBeUndefined();
    expect(jobs[1].config).toMatchObject({ seed: 2, tile: '4x8' });
    expect(jobs[8].config).toMatchObject({ method: 'hepex', sparsity: 0.5, theta: 0.05 });
    expect(new Set(jobs.map((j) => j.id)).size).toBe(jobs.length);
    // Defaults are part of the configuration, so a job says everything it depends on.
    expect(jobs[0].config.settings).toMatchObject({
      retrainEpochs: 4,
      score: 'l1',
      mode: 'plain-model',
    });
  });

  it('gives each job an id that depends on its configuration only, not on key order', () => {
    const a = expandSweep(base).jobs;
    const b = expandSweep({
      grid: { sparsity: [0.5, 0.9] },
      methods: ['magnitude', 'hepex'],
      model: 'public/models/mlp',
      version: 1,
    }).jobs;
    expect(b.map((j) => j.id)).toEqual(a.map((j) => j.id));
    for (const j of a) expect(j.id).toBe(jobId(j.config));
    expect(a[0].id).toMatch(/^[0-9a-f]{16}$/);
    // The same job in a bigger sweep keeps its id (resume and queue dedupe rely on it).
    const bigger = expandSweep({ ...base, grid: { sparsity: [0.5, 0.9, 0.95] } }).jobs;
    expect(bigger.map((j) => j.id)).toEqual(expect.arrayContaining(a.map((j) => j.id)));
    // A different setting is a different job.
    const other = expandSweep({ ...base, settings: { retrainEpochs: 2 } }).jobs;
    expect(other.map((j) => j.id).filter((id) => a.some((j) => j.id === id))).toEqual([]);
  });

  it('hashes canonical JSON: a known FNV-1a 64 value and sorted keys', () => {
    // FNV-1a 64 of the empty input is its offset basis.
    expect(fnv1a64('')).toBe('cbf29ce484222325');
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: undefined } })).toBe(
      '{"a":{"d":[2,{"e":0,"f":1}]},"b":1}',
    );
    expect(fnv1a64('a')).not.toBe(fnv1a64('b'));
  });

  it('takes sparsities per method (the tile method in tile sparsity)', () => {
    const { jobs } = expandSweep({
      ...base,
      methods: ['tile', 'hepex'],
      grid: { sparsity: { tile: [0.2, 0.4, 0.6], hepex: [0.9] } },
    });
    expect(jobs.map((j) => `${j.config.method}@${j.config.sparsity}`)).toEqual([
      'tile@0.2',
      'tile@0.4',
      'tile@0.6',
      'hepex@0.9',
    ]);
  });

  it.each([
    [{ ...base, version: 2 }, /version/],
    [{ ...base, model: '' }, /model/],
    [{ ...base, methods: ['magnitude', 'pca'] }, /unknown method "pca"/],
    [{ ...base, methods: [] }, /methods/],
    [{ ...base, grid: { sparsity: [] } }, /grid.sparsity is empty/],
    [{ ...base, grid: { sparsity: [0.5, 1] } }, /sparsity 1 is outside \(0, 1\)/],
    [{ ...base, grid: { sparsity: [0] } }, /outside \(0, 1\)/],
    [{ ...base, grid: { sparsity: [0.5, 0.5] } }, /twice/],
    [{ ...base, grid: { sparsity: ['0.5'] } }, /not a number/],
    [{ ...base, grid: { sparsity: { magnitude: [0.5] } } }, /no list for method hepex/],
    [{ ...base, grid: { sparsity: [0.5], theta: [2] } }, /grid.theta/],
    [{ ...base, grid: { sparsity: [0.5], tile: [] } }, /grid.tile/],
    [{ ...base, grid: { sparsity: [0.5], spacing: [1] } }, /unknown field "spacing"/],
    [{ ...base, seeds: [1.5] }, /seed 1.5/],
    [{ ...base, settings: { retrainEpochs: -1 } }, /retrainEpochs/],
    [{ ...base, settings: { scope: 'galactic' } }, /scope/],
    [{ ...base, settings: { epochs: 3 } }, /unknown field "epochs"/],
    [{ ...base, data: { images: 'a.idx' } }, /go together/],
    [{ ...base, data: { trainLimit: 0 } }, /trainLimit/],
    [{ ...base, colour: 'red' }, /unknown field "colour"/],
    [[1, 2], /one JSON object/],
  ])('refuses a bad spec in words (%#)', (spec, message) => {
    const e = errorOf(spec);
    expect(e.code).toBe('invalid-argument');
    expect(e.message).toMatch(message);
  });

  it('refuses a bad tile shape with the tile check and too many jobs before any work', () => {
    expect(errorOf({ ...base, grid: { sparsity: [0.5], tile: ['4x'] } }).code).toBe(
      'invalid-tile-shape',
    );
    const many = Array.from({ length: 100 }, (_, i) => (i + 1) / 101);
    const e = errorOf({
      ...base,
      grid: { sparsity: many },
      seeds: Array.from({ length: 30 }, (_, i) => i),
    });
    expect(e.message).toMatch(new RegExp(`6000 jobs, more than ${MAX_SWEEP_JOBS}`));
  });

  it('round-trips through its file format, and bad JSON is an argument error', () => {
    const { spec, jobs } = expandSweep({ ...base, seeds: [3], settings: { retrainEpochs: 1 } });
    const again = parseSweepSpec(formatSweepSpec(spec));
    expect(again.spec).toEqual(spec);
    expect(again.jobs.map((j) => j.id)).toEqual(jobs.map((j) => j.id));
    expect(() => parseSweepSpec('{"version": 1,')).toThrow(/not valid JSON/);
  });
});

describe('sweep results', () => {
  const { spec, jobs } = expandSweep(base);
  const row = (i: number, ciphertexts: number, metric: number): SweepRow => ({
    id: jobs[i].id,
    method: jobs[i].config.method,
    sparsity: jobs[i].config.sparsity,
    tile: '4x8',
    seed: 1,
    ciphertexts,
    nonZeroTiles: ciphertexts,
    metricName: 'accuracy',
    metric,
    loss: 0.97 - metric,
    baseline: { ciphertexts: 3184, metric: 0.97 },
  });

  it('orders rows by spec order whatever order they finished in, timings apart', () => {
    const done = new Map([
      [jobs[3].id, { row: row(3, 900, 0.9), elapsedMs: 10.4 }],
      [jobs[0].id, { row: row(0, 2000, 0.96), elapsedMs: 20 }],
    ]);
    const r = collectResults(spec, jobs, done);
    expect(r.points.map((p) => p.id)).toEqual([jobs[0].id, jobs[3].id]);
    expect(r.complete).toBe(false);
    expect(r.timings).toEqual({ [jobs[3].id]: 10, [jobs[0].id]: 20 });
    // Resume: only this spec's rows come back, pareto recomputed later.
    const back = doneFromResults(JSON.parse(JSON.stringify(r)), jobs.slice(0, 2));
    expect([...back.keys()]).toEqual([jobs[0].id]);
    expect(back.get(jobs[0].id)!.row).toEqual(row(0, 2000, 0.96));
    expect(() => doneFromResults({ points: [] }, jobs)).toThrow(/not a hepex sweep results file/);
  });

  it('marks the frontier: fewer ciphertexts or a better metric, never both worse', () => {
    const points = markFrontier([row(0, 2000, 0.96), row(1, 1000, 0.95), row(2, 1500, 0.94)]);
    expect(points.map((p) => p.pareto)).toEqual([true, true, false]);
  });
});
