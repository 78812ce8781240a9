import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { HepexError } from '../src/core/model/errors';
import { root, startBrowser, startPreview } from '../test/e2e/browser';
import { denseCountIs, ready } from '../test/e2e/studioPage';
import type { BenchOptions } from './main';

/**
 * `npm run bench -- studio-pool [--repeats=R] [--workers=1,2]`: the studio's encrypted run in
 * Debian's chromium (the production build in dist/: `npm run build` first), the MLP preset
 * (trained MLP 784-128-10 and its HE-PEx twin) at each "HE workers" setting, side by side in
 * one run; each setting R times (default 2), the fastest kept. One HE worker is the
 * single-worker session; two or more are the pool (a client worker holding the keys, and the
 * evaluation workers). What the studio's 'auto' setting should pick is read from this.
 */

/** "3.75 s", "812 ms", "1.2 min" (src/viz/format.ts fmtMs) in ms. */
function parseMs(text: string): number {
  const m = /^([\d.,]+) (ms|s|min)$/.exec(text.trim());
  if (!m) throw new Error(`not a time: '${text}'`);
  const v = Number(m[1].replace(/,/g, ''));
  return m[2] === 'min' ? v * 60_000 : m[2] === 's' ? v * 1000 : v;
}

export async function run({ args, progress }: BenchOptions) {
  if (!existsSync(join(root, 'dist', 'index.html'))) {
    throw new HepexError(
      'invalid-argument',
      'bench studio-pool needs the production build: run `npm run build` first.',
    );
  }
  const repeats = Number(args.find((a) => a.startsWith('--repeats='))?.slice(10) ?? 2);
  const counts = (args.find((a) => a.startsWith('--workers='))?.slice(10) ?? '1,2')
    .split(',')
    .map(Number);
  const preview = await startPreview();
  const browser = await startBrowser();
  const runs: {
    workers: number;
    rows: { label: string; measuredMs: number; predictedMs: number }[];
  }[] = [];
  let samples = 0;
  let browserCores = 0;
  try {
    const page = await browser.value.newPage();
    for (let r = 0; r < repeats; r++) {
      for (const workers of counts) {
        // A fresh page per run: the results table is then this run's alone (calibrated
        // timings stay in localStorage, so only the first run calibrates; it is run again).
        await page.goto(preview.value);
        await ready(page);
        await page.getByTestId('preset-select').selectOption('mlp');
        await denseCountIs(page, 3_184);
        browserCores = await page.evaluate(() => navigator.hardwareConcurrency);
        await page.getByTestId('he-workers').selectOption(String(workers));
        await page.getByTestId('he-run').click();
        await page.getByTestId('he-results').waitFor({ timeout: 600_000 });
        if (await page.getByTestId('error-banner').count()) {
          throw new Error(
            `the studio reported: ${await page.getByTestId('error-banner').textContent()}`,
          );
        }
        const measured = await page.getByTestId('he-measured').allTextContents();
        const predicted = await page.getByTestId('he-predicted').allTextContents();
        const labels = await page.getByTestId('he-row-label').allTextContents();
        samples = Number(
          /^(\d+) images/.exec((await page.getByTestId('he-summary').textContent()) ?? '')?.[1],
        );
        const rows = measured.map((m, i) => ({
          label: labels[i]?.trim() ?? String(i),
          measuredMs: parseMs(m),
          predictedMs: parseMs(predicted[i] ?? ''),
        }));
        progress(
          `${workers} HE worker(s), pass ${r + 1}: ${rows.map((x) => `${x.label} ${x.measuredMs} ms`).join(', ')}`,
        );
        runs.push({ workers, rows });
      }
    }
  } finally {
    await browser.stop();
    await preview.stop();
  }
  const best = counts.map((workers) => {
    const mine = runs.filter((x) => x.workers === workers);
    return {
      workers,
      // Per row the fastest pass, with that pass's prediction.
      rows: mine[0].rows.map((row, i) => {
        const fastest = mine.reduce((a, b) =>
          b.rows[i].measuredMs < a.rows[i].measuredMs ? b : a,
        );
        return {
          label: row.label,
          measuredMs: fastest.rows[i].measuredMs,
          predictedMs: Math.round(fastest.rows[i].predictedMs),
        };
      }),
    };
  });
  const one = best.find((b) => b.workers === 1);
  return {
    samples,
    cores: { node: cpus().length, browser: browserCores },
    repeats,
    runs,
    best: best.map((b) => ({
      ...b,
      speedupOverOne: one
        ? b.rows.map((row, i) => Number((one.rows[i].measuredMs / row.measuredMs).toFixed(2)))
        : undefined,
    })),
  };
}
