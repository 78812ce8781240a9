import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { CommandIo } from '../../src/cli/command';
import { runSpecSweep } from '../../src/cli/sweepSpec';
import type { SweepResults } from '../../src/core/sweep/results';
import { parseSweepSpec } from '../../src/core/sweep/spec';
import { fmtPct } from '../../src/viz/format';
import { withPage } from './harness';
import { denseCountIs, ready } from './studioPage';

// The studio's Sweep panel against the production build: a small sweep of the MLP preset in
// the sweep workers (real tfjs in the browser), its frontier plotted, its spec exported; the
// exported spec run by the CLI gives the same jobs and the same weight ciphertexts.

const io: CommandIo = { progress: () => undefined, signal: new AbortController().signal };
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hepex-e2e-sweep-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('a studio sweep plots its frontier, and its exported spec runs in the CLI', async () => {
  await withPage(
    async ({ page, errors }) => {
      await ready(page);
      await page.getByTestId('preset-select').selectOption('mlp');
      await denseCountIs(page, 3_184);
      const panel = page.getByRole('region', { name: 'Sweep' });
      // 2 methods x 2 sparsities, one seed: four jobs of one quick epoch each.
      await panel.getByLabel('Sparsities').fill('0.8, 0.9');
      await panel.getByLabel('Sparsities').press('Enter');
      await panel.getByRole('button', { name: 'Run sweep' }).click();
      await page.waitForFunction(
        () => document.querySelectorAll('[data-testid="sweep-plot"] circle').length === 4,
        undefined,
        { timeout: 600_000 },
      );
      await panel.getByRole('button', { name: 'Run sweep' }).waitFor({ timeout: 60_000 });
      assert.equal(await panel.getByRole('alert').count(), 0, 'no sweep error');

      const download = page.waitForEvent('download');
      await panel.getByRole('button', { name: 'Export spec' }).click();
      const specPath = join(dir, 'spec.json');
      await (await download).saveAs(specPath);
      const { jobs } = parseSweepSpec(await readFile(specPath, 'utf8'));
      assert.equal(jobs.length, 4);
      const plotted = await page
        .locator('[data-testid="sweep-plot"] circle')
        .evaluateAll((cs) => cs.map((c) => c.getAttribute('data-id')));
      assert.deepEqual(
        plotted,
        jobs.map((j) => j.id),
        'one point per job, in spec order',
      );

      // The same spec in the CLI: the same jobs; ciphertexts depend on the same pruning.
      const cli = await runSpecSweep(['--spec', specPath], io);
      const points = (cli.json as SweepResults).points;
      assert.deepEqual(
        points.map((p) => p.id),
        jobs.map((j) => j.id),
      );
      const browser = await page
        .locator('.sweep-panel__table tbody tr')
        .evaluateAll((rows) => rows.map((r) => r.children[3].textContent ?? ''));
      assert.deepEqual(
        browser.map((t) => Number(t.split('/')[0].replace(/[^0-9]/g, ''))),
        points.map((p) => p.ciphertexts),
      );
      // The same recipe, seed and data in two tfjs WASM builds' hands: the same metric (shown to 0.1%).
      const metrics = await page
        .locator('.sweep-panel__table tbody tr')
        .evaluateAll((rows) => rows.map((r) => r.children[4].textContent ?? ''));
      assert.deepEqual(
        metrics,
        points.map((p) => `acc ${fmtPct(p.metric)}`),
      );
      await writeFile(join(dir, 'cli.json'), JSON.stringify(cli.json));
      assert.deepEqual(errors, []);
    },
    { screenshot: 'sweep' },
  );
});
