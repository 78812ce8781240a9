import { describe, expect, it } from 'vitest';
import { HepexError } from '../../src/core/model/errors';
import {
  autoencoderLimit,
  bestWithin,
  classifierLimit,
  hepexVsTile,
  pickTileConfig,
  relativeMseLimit,
  renderMarkdown,
  scheduleHeRuns,
  verdictLines,
  whyNotMeasured,
  withinLimit,
  type PaperRow,
} from '../../bench/paperTable';

const row = (over: Partial<PaperRow>): PaperRow => ({
  network: 'mlp',
  tile: '4x8',
  method: 'unpruned',
  setting: 'dense',
  ciphertexts: 1000,
  saving: 0,
  metric: 0.97,
  predicted: { samples: 512, ringDegree: 16384, batch: 256, latencyMs: 8000, peakBytes: 2 ** 31 },
  measured: null,
  ...over,
});

describe('degradation limits', () => {
  it('allows 2.5 accuracy points for classifiers', () => {
    const limit = classifierLimit(0.97);
    expect(withinLimit(limit, 0.945)).toBe(true);
    expect(withinLimit(limit, 0.9449)).toBe(false);
  });

  it('allows 2.5% of the mean-image MSE above the unpruned MSE for autoencoders', () => {
    const limit = autoencoderLimit(0.01, 0.0672);
    expect(limit.bound).toBeCloseTo(0.01 + 0.00168, 12);
    expect(withinLimit(limit, 0.0116)).toBe(true);
    expect(withinLimit(limit, 0.0117)).toBe(false);
    expect(relativeMseLimit(0.01).bound).toBeCloseTo(0.011, 12);
  });
});

describe('row selection', () => {
  it('takes the fewest ciphertexts within the limit, ties to the better metric', () => {
    const limit = classifierLimit(0.97);
    const points = [
      { ciphertexts: 300, metric: 0.93 }, // fewest, but outside
      { ciphertexts: 500, metric: 0.95 },
      { ciphertexts: 500, metric: 0.96 },
      { ciphertexts: 900, metric: 0.97 },
    ];
    expect(bestWithin(points, limit)).toEqual({ ciphertexts: 500, metric: 0.96 });
    expect(bestWithin([{ ciphertexts: 1, metric: 0.5 }], limit)).toBeUndefined();
  });

  it('minimises ciphertexts for MSE too (lower MSE is better)', () => {
    const limit = autoencoderLimit(0.01, 0.04); // bound 0.011
    const best = bestWithin(
      [
        { ciphertexts: 100, metric: 0.02 },
        { ciphertexts: 200, metric: 0.0109 },
        { ciphertexts: 200, metric: 0.0105 },
      ],
      limit,
    );
    expect(best).toEqual({ ciphertexts: 200, metric: 0.0105 });
  });

  it('picks the tile-pruning configuration that gets furthest within the limit', () => {
    const limit = classifierLimit(0.97);
    const configs = [
      { name: 'l1 global', points: [{ ciphertexts: 400, metric: 0.9 }] },
      {
        name: 'max local',
        points: [
          { ciphertexts: 600, metric: 0.96 },
          { ciphertexts: 300, metric: 0.95 },
        ],
      },
      { name: 'avg local', points: [{ ciphertexts: 500, metric: 0.96 }] },
    ];
    expect(pickTileConfig(configs, limit).name).toBe('max local');
    // None within the limit: the one that degrades least.
    const bad = [
      { name: 'a', points: [{ ciphertexts: 400, metric: 0.5 }] },
      { name: 'b', points: [{ ciphertexts: 800, metric: 0.9 }] },
    ];
    expect(pickTileConfig(bad, limit).name).toBe('b');
  });
});

describe('verdicts and markdown', () => {
  const measured = (latencyMs: number, peakBytes: number) => ({
    samples: 16,
    ringDegree: 16384,
    latencyMs,
    predictedMs: latencyMs,
    peakBytes,
    weights: 'resident' as const,
    agreement: 1,
    maxAbsError: 1e-5,
    opsMatchPlan: true,
  });
  const rows: PaperRow[] = [
    row({ measured: measured(6000, 2e9) }),
    row({
      method: 'tile',
      setting: 'max local, tile sparsity 0.8',
      ciphertexts: 400,
      saving: 0.6,
      metric: 0.95,
    }),
    row({
      method: 'hepex',
      setting: 'sparsity 0.98, theta 0.0625',
      ciphertexts: 100,
      saving: 0.9,
      metric: 0.95,
      measured: measured(3000, 5e8),
    }),
    row({ tile: '4x4', ciphertexts: 2000 }),
    row({
      tile: '4x4',
      method: 'hepex',
      ciphertexts: 900,
      saving: 0.55,
      metric: 0.95,
      notMeasured: 'predicted 200 s > --he-cap 150 s',
    }),
  ];
  const network = { id: 'mlp', label: 'MLP 784-128-10', limit: classifierLimit(0.97) };

  it('compares HE-PEx with tile pruning at one shape', () => {
    expect(hepexVsTile(rows.filter((r) => r.tile === '4x8'))).toBeCloseTo(0.75, 12);
    expect(hepexVsTile(rows.filter((r) => r.tile === '4x4'))).toBeNull();
  });

  it('says which bars are met, per shape, with measured ratios', () => {
    const lines = verdictLines(network, rows);
    expect(lines[0]).toContain('up to 90.0%');
    expect(lines[0]).toContain('meets the 65.0% bar');
    expect(lines[1]).toContain('4x8 75.0% fewer');
    expect(lines[1]).toContain('4x4 n/a');
    expect(lines[1]).toContain('meets at some shapes only');
    expect(lines[2]).toContain('4x8 latency 0.50x, peak memory 0.25x');
  });

  it('renders one table line per row, the limits and the verdicts', () => {
    const md = renderMarkdown(
      {
        command: 'npm run bench -- paper',
        date: '2026-11-24',
        machine: '2 x CPU',
        notes: ['a note'],
      },
      [network, { id: 'cnn', label: 'CNN', limit: classifierLimit(NaN), skipped: 'no cnn yet' }],
      rows,
    );
    const tableLines = md.split('\n').filter((l) => l.startsWith('| MLP'));
    expect(tableLines).toHaveLength(rows.length);
    expect(md).toContain('`npm run bench -- paper`');
    expect(md).toContain('| **HE-PEx** | sparsity 0.98, theta 0.0625 | 100 | 90.0% | 95.0% |');
    expect(md).toContain('not measured: predicted 200 s > --he-cap 150 s');
    expect(md).toContain('3.00 s (16 img, N=16384)');
    expect(md).toContain('- CNN: not run (no cnn yet).');
    expect(md).not.toContain('NaN');
    expect(md).toContain('accuracy at most 2.5 points below the unpruned model (94.5%');
  });
});

describe('rows that cannot run under SEAL', () => {
  it('shortens the engine out-of-memory message', () => {
    const e = new HepexError(
      'out-of-memory',
      'This model needs about 2.66 GiB of encryption memory with streamed weights (ring degree 32768, 6528 weight tiles), above the 2.50 GiB budget. Prune more tiles, use a smaller tile or a shallower network.',
    );
    expect(whyNotMeasured(e)).toBe(
      'needs 2.66 GiB of SEAL memory (streamed weights), over the 2.50 GiB budget',
    );
    expect(whyNotMeasured(new HepexError('he-parameters', 'Too deep.'))).toBe('Too deep.');
    expect(whyNotMeasured(new Error('boom'))).toBe('failed: boom');
  });
});

describe('the HE time budget', () => {
  const c = (network: string, tile: string, method: PaperRow['method'], ms: number | null) => ({
    network,
    tile,
    method,
    ms,
  });
  it('spends it on the pair at the reference shape first, then baselines, then the rest cheapest first', () => {
    const candidates = [
      c('ae', '4x8', 'unpruned', 100_000), // 0
      c('ae', '4x8', 'hepex', 50_000), // 1
      c('ae', '8x8', 'unpruned', 40_000), // 2: reference shape of ae (cheapest unpruned)
      c('ae', '8x8', 'magnitude', 35_000), // 3
      c('ae', '8x8', 'hepex', 30_000), // 4
      c('ae', '8x8', 'tile', null), // 5: cannot run
      c('mlp', '4x8', 'unpruned', 5_000), // 6
      c('mlp', '4x8', 'tile', 3_000), // 7
    ];
    // 40 + 30 + 5 (pairs) = 75 s; then baselines at reference shapes: tile 3 -> 78, magnitude 35
    // would pass 100 -> skipped; then the rest: hepex 4x8 50 s does not fit.
    expect([...scheduleHeRuns(candidates, 100_000)].sort((a, b) => a - b)).toEqual([2, 4, 6, 7]);
    expect(scheduleHeRuns(candidates, 0).size).toBe(0);
    expect(scheduleHeRuns(candidates, 1e9).has(5)).toBe(false);
    expect(scheduleHeRuns(candidates, 1e9).size).toBe(7);
  });
});
