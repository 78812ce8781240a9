/**
 * The pure half of `npm run bench -- paper` (bench/paper.ts): degradation limits, choosing the
 * row of each method, the tile-pruning configuration search, the verdicts against the paper's
 * bars (docs/method.md section 4) and the markdown table. No tfjs, no SEAL: unit-tested.
 */
import { HepexError } from '../src/core/model/errors';

export type MetricName = 'accuracy' | 'mse';
export type PaperMethod = 'unpruned' | 'magnitude' | 'tile' | 'hepex';
export const PAPER_METHODS: readonly PaperMethod[] = ['unpruned', 'magnitude', 'tile', 'hepex'];

/** The paper's bars: fewer weight ciphertexts than unpruned, and than tile pruning. */
export const BARS = { vsUnpruned: 0.65, vsTile: 0.7 } as const;

/** How much worse than the unpruned model a pruned one may be. */
export interface DegradationLimit {
  readonly metric: MetricName;
  readonly unpruned: number;
  /** Accuracy at least this, or MSE at most this. */
  readonly bound: number;
  readonly rule: string;
  readonly why: string;
}

/** Classifiers: 2.5 accuracy points below the unpruned model (the paper's limit). */
export function classifierLimit(unprunedAccuracy: number): DegradationLimit {
  return {
    metric: 'accuracy',
    unpruned: unprunedAccuracy,
    bound: unprunedAccuracy - 0.025,
    rule: 'accuracy at most 2.5 points below the unpruned model',
    why: "the paper's limit",
  };
}

/**
 * Autoencoders: 2.5 points of explained pixel variance, i.e. MSE at most unpruned + 2.5% of the
 * mean-image MSE (the reconstruction that ignores its input scores 0 points, a perfect one 100).
 * It is the classifiers' "2.5 points" on a 0-100 scale that does not depend on how good the
 * unpruned model happens to be; +10% of the unpruned MSE (relativeMseLimit) punishes the best
 * models most and is reported beside it.
 */
export function autoencoderLimit(unprunedMse: number, meanImageMse: number): DegradationLimit {
  return {
    metric: 'mse',
    unpruned: unprunedMse,
    bound: unprunedMse + 0.025 * meanImageMse,
    rule: `MSE at most unpruned + 2.5% of the mean-image MSE (${meanImageMse.toPrecision(3)}): 2.5 points of explained pixel variance`,
    why: "the classifiers' 2.5 points on a 0-100 scale where the mean image scores 0 and a perfect reconstruction 100",
  };
}

/** MSE at most (1 + fraction) x the unpruned model's (bench prune's autoencoder limit). */
export function relativeMseLimit(unprunedMse: number, fraction = 0.1): DegradationLimit {
  return {
    metric: 'mse',
    unpruned: unprunedMse,
    bound: unprunedMse * (1 + fraction),
    rule: `MSE at most ${Math.round(fraction * 100)}% above the unpruned model`,
    why: "bench prune's limit, for comparison",
  };
}

/** Metric differences below this are float noise of the evaluation, not degradation. */
const EPS = 1e-9;

export function withinLimit(limit: DegradationLimit, metric: number): boolean {
  return limit.metric === 'accuracy' ? metric >= limit.bound - EPS : metric <= limit.bound + EPS;
}

/** a is a better metric than b (higher accuracy, lower MSE). */
export const betterMetric = (metric: MetricName, a: number, b: number): boolean =>
  metric === 'accuracy' ? a > b : a < b;

export interface Candidate {
  readonly ciphertexts: number;
  readonly metric: number;
}

/** The candidate with the fewest ciphertexts within the limit (ties: the better metric). */
export function bestWithin<T extends Candidate>(
  candidates: readonly T[],
  limit: DegradationLimit,
): T | undefined {
  let best: T | undefined;
  for (const c of candidates) {
    if (!withinLimit(limit, c.metric)) continue;
    if (
      !best ||
      c.ciphertexts < best.ciphertexts ||
      (c.ciphertexts === best.ciphertexts && betterMetric(limit.metric, c.metric, best.metric))
    )
      best = c;
  }
  return best;
}

/**
 * The tile-pruning search: each configuration (score x scope) pruned to several tile sparsities
 * without retraining. The chosen one reaches the fewest ciphertexts within the limit; when none
 * is within it anywhere, the one with the best metric at any of its points (it degrades least).
 */
export function pickTileConfig<C extends { readonly points: readonly Candidate[] }>(
  configs: readonly C[],
  limit: DegradationLimit,
): C {
  let chosen: C | undefined;
  let chosenBest: Candidate | undefined;
  for (const c of configs) {
    const best = bestWithin(c.points, limit);
    if (!best) continue;
    if (
      !chosenBest ||
      best.ciphertexts < chosenBest.ciphertexts ||
      (best.ciphertexts === chosenBest.ciphertexts &&
        betterMetric(limit.metric, best.metric, chosenBest.metric))
    ) {
      chosen = c;
      chosenBest = best;
    }
  }
  if (chosen) return chosen;
  const top = (c: C) =>
    c.points.reduce(
      (m, p) => (betterMetric(limit.metric, p.metric, m) ? p.metric : m),
      limit.metric === 'accuracy' ? -Infinity : Infinity,
    );
  return configs.reduce((a, b) => (betterMetric(limit.metric, top(b), top(a)) ? b : a));
}

/** A row that could be measured under SEAL, with the cost model's time for its sample batch. */
export interface HeCandidate {
  readonly network: string;
  readonly tile: string;
  readonly method: PaperMethod;
  /** Predicted ms of the encrypted run; null when it cannot run (memory, depth). */
  readonly ms: number | null;
}

/**
 * Which rows get an encrypted run within `budgetMs` of PREDICTED time (so the choice depends
 * only on the pruning results, not on machine noise). Order of preference: at each network's
 * reference shape (where its unpruned row is cheapest) the unpruned and HE-PEx rows, then that
 * shape's baselines, then every other row, cheapest first; a row that does not fit the budget
 * left is passed over for cheaper ones. Returns the chosen indices.
 */
export function scheduleHeRuns(candidates: readonly HeCandidate[], budgetMs: number): Set<number> {
  const reference = new Map<string, { tile: string; ms: number }>();
  for (const c of candidates) {
    if (c.method !== 'unpruned' || c.ms === null) continue;
    const r = reference.get(c.network);
    if (!r || c.ms < r.ms) reference.set(c.network, { tile: c.tile, ms: c.ms });
  }
  const rank = (c: HeCandidate): number => {
    if (reference.get(c.network)?.tile !== c.tile) return 2;
    return c.method === 'unpruned' || c.method === 'hepex' ? 0 : 1;
  };
  const order = candidates
    .map((c, i) => ({ c, i }))
    .filter(({ c }) => c.ms !== null)
    .sort((a, b) => rank(a.c) - rank(b.c) || a.c.ms! - b.c.ms!);
  const chosen = new Set<number>();
  let left = budgetMs;
  for (const { c, i } of order) {
    if (c.ms! > left) continue;
    chosen.add(i);
    left -= c.ms!;
  }
  return chosen;
}

/** Encrypted inference measured on a sample batch (real SEAL). */
export interface MeasuredHe {
  readonly samples: number;
  readonly ringDegree: number;
  readonly latencyMs: number;
  /** Cost model for the same sample batch with this machine's calibrated timings. */
  readonly predictedMs: number;
  readonly peakBytes: number;
  readonly weights: 'resident' | 'streamed';
  readonly agreement: number | null;
  readonly maxAbsError: number;
  readonly opsMatchPlan: boolean;
}

/** Cost model for the full batch (the paper's 512 images) at the ring degree the depth needs. */
export interface PredictedHe {
  readonly samples: number;
  readonly ringDegree: number;
  readonly batch: number;
  readonly latencyMs: number;
  readonly peakBytes: number;
}

export interface PaperRow {
  readonly network: string;
  readonly tile: string;
  readonly method: PaperMethod;
  /** The chosen point's parameters, for people ("sparsity 0.98", "max local, tile sparsity 0.8"). */
  readonly setting: string;
  readonly ciphertexts: number;
  /** 1 - ciphertexts / unpruned ciphertexts at this tile shape. */
  readonly saving: number;
  readonly metric: number;
  readonly predicted: PredictedHe | null;
  readonly measured: MeasuredHe | null;
  /** Why `measured` is null. */
  readonly notMeasured?: string;
}

export interface NetworkSummary {
  readonly id: string;
  readonly label: string;
  readonly limit: DegradationLimit;
  /** Skipped networks carry the reason and no rows. */
  readonly skipped?: string;
}

/** A table cell's reason for a row that could not run under SEAL. */
export function whyNotMeasured(e: unknown): string {
  if (e instanceof HepexError && e.code === 'out-of-memory') {
    const m = /about ([\d.]+ GiB) .*? with (\w+) weights.*?above the ([\d.]+ GiB)/.exec(e.message);
    if (m) return `needs ${m[1]} of SEAL memory (${m[2]} weights), over the ${m[3]} budget`;
  }
  return e instanceof HepexError
    ? e.message
    : `failed: ${e instanceof Error ? e.message : String(e)}`;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
/** A saving as words: 0.3 -> '30.0% fewer', -0.1 -> '10.0% more'. */
const fewer = (x: number) => `${Math.abs(x * 100).toFixed(1)}% ${x >= 0 ? 'fewer' : 'more'}`;
const ms = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`);
const gib = (b: number) =>
  b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : `${(b / 2 ** 20).toFixed(0)} MiB`;

export function formatMetric(metric: MetricName, value: number): string {
  return metric === 'accuracy' ? pct(value) : value.toPrecision(3);
}

/** HE-PEx's saving over the tile-pruning row at the same shape, or null when either is missing. */
export function hepexVsTile(rows: readonly PaperRow[]): number | null {
  const h = rows.find((r) => r.method === 'hepex');
  const t = rows.find((r) => r.method === 'tile');
  return h && t && t.ciphertexts > 0 ? 1 - h.ciphertexts / t.ciphertexts : null;
}

/**
 * A few plain sentences per network: best HE-PEx saving (bar 65%), HE-PEx over tile pruning
 * (bar 70%) per shape, and the measured latency and memory of HE-PEx over unpruned.
 */
export function verdictLines(network: NetworkSummary, rows: readonly PaperRow[]): string[] {
  if (network.skipped) return [`- ${network.label}: not run (${network.skipped}).`];
  const shapes = [...new Set(rows.map((r) => r.tile))];
  const lines: string[] = [];
  const hepex = rows.filter((r) => r.method === 'hepex');
  if (hepex.length === 0) {
    lines.push(
      `- ${network.label}: no HE-PEx point within the limit at any shape: misses both bars.`,
    );
  } else {
    const best = hepex.reduce((a, b) => (b.saving > a.saving ? b : a));
    const meets = best.saving >= BARS.vsUnpruned;
    lines.push(
      `- ${network.label}: HE-PEx saves up to ${pct(best.saving)} of the weight ciphertexts within the limit (${best.tile}); ${meets ? 'meets' : 'misses'} the ${pct(BARS.vsUnpruned)} bar.`,
    );
  }
  const ratios = shapes.map((s) => {
    const v = hepexVsTile(rows.filter((r) => r.tile === s));
    return v === null ? `${s} n/a` : `${s} ${fewer(v)}`;
  });
  const values = shapes
    .map((s) => hepexVsTile(rows.filter((r) => r.tile === s)))
    .filter((v): v is number => v !== null);
  // A shape without both rows (n/a) does not count as meeting the bar.
  const all = values.length === shapes.length && values.every((v) => v >= BARS.vsTile);
  const some = values.some((v) => v >= BARS.vsTile);
  lines.push(
    `  HE-PEx vs the best tile-pruning row: ${ratios.join(', ')}; ${all ? 'meets' : some ? 'meets at some shapes only' : 'misses'} the ${pct(BARS.vsTile)} bar.`,
  );
  const measured = shapes.flatMap((s) => {
    const u = rows.find((r) => r.tile === s && r.method === 'unpruned')?.measured;
    const h = rows.find((r) => r.tile === s && r.method === 'hepex')?.measured;
    if (!u || !h) return [];
    return [
      `${s} latency ${(h.latencyMs / u.latencyMs).toFixed(2)}x, peak memory ${(h.peakBytes / u.peakBytes).toFixed(2)}x${u.weights !== h.weights ? ` (unpruned ${u.weights}, HE-PEx ${h.weights} weights)` : ''}`,
    ];
  });
  lines.push(
    measured.length
      ? `  Measured HE-PEx / unpruned: ${measured.join('; ')}.`
      : '  No shape has both the unpruned and the HE-PEx row measured (see the table for why).',
  );
  return lines;
}

function measuredCells(row: PaperRow, metric: MetricName): string[] {
  const m = row.measured;
  if (!m) return [row.notMeasured ? `not measured: ${row.notMeasured}` : 'not measured', '', ''];
  const quality =
    metric === 'accuracy' && m.agreement !== null
      ? `${pct(m.agreement)} agree, err ${m.maxAbsError.toExponential(1)}`
      : `err ${m.maxAbsError.toExponential(1)}`;
  return [
    `${ms(m.latencyMs)} (${m.samples} img, N=${m.ringDegree})`,
    `${gib(m.peakBytes)} ${m.weights}`,
    quality,
  ];
}

export interface PaperHeader {
  readonly command: string;
  readonly date: string;
  readonly machine: string;
  readonly notes: readonly string[];
}

/** The results as markdown: header, one table of every row, HE-PEx vs tile, verdicts. */
export function renderMarkdown(
  header: PaperHeader,
  networks: readonly NetworkSummary[],
  rows: readonly PaperRow[],
): string {
  const out: string[] = [];
  out.push(`Command: \`${header.command}\`. ${header.date}, ${header.machine}.`, '');
  for (const n of header.notes) out.push(`- ${n}`);
  out.push('');
  out.push(
    '| network | tile | method | setting | weight ct | saved | metric | predicted, 512 img | predicted peak | measured latency | measured peak | decrypted vs plaintext |',
    '|---|---|---|---|---:|---:|---:|---:|---:|---|---|---|',
  );
  for (const n of networks) {
    const mine = rows.filter((r) => r.network === n.id);
    for (const r of mine) {
      out.push(
        `| ${n.label} | ${r.tile} | ${r.method === 'hepex' ? '**HE-PEx**' : r.method} | ${r.setting} | ${r.ciphertexts.toLocaleString('en-US')} | ${r.method === 'unpruned' ? '' : pct(r.saving)} | ${formatMetric(n.limit.metric, r.metric)} | ${r.predicted ? `${ms(r.predicted.latencyMs)} (N=${r.predicted.ringDegree})` : 'n/a'} | ${r.predicted ? gib(r.predicted.peakBytes) : 'n/a'} | ${measuredCells(r, n.limit.metric).join(' | ')} |`,
      );
    }
  }
  out.push('', 'Limits:');
  for (const n of networks.filter((x) => !x.skipped))
    out.push(
      `- ${n.label}: ${n.limit.rule} (${formatMetric(n.limit.metric, n.limit.bound)}; ${n.limit.why}).`,
    );
  out.push(
    '',
    'Verdicts (bars: HE-PEx >= 65% fewer ciphertexts than unpruned, >= 70% fewer than tile pruning):',
  );
  for (const n of networks)
    out.push(
      ...verdictLines(
        n,
        rows.filter((r) => r.network === n.id),
      ),
    );
  return out.join('\n') + '\n';
}
