import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { RESULTS_DIR, withPage } from './harness';
import { measureSlider } from './responsiveness';
import { counts, denseCountIs, ready, runEncrypted } from './studioPage';

// The studio against the production build, with the models public/models/ ships (npm run models).
// The default preset is the 784-256-64-256-784 autoencoder, the responsiveness case.

/**
 * Switches to the MLP preset and waits for its dense count: 784-128-10 at 4x8 with layer 1 in B
 * (the default) is 196x16 + 3x16 = 3,184 tiles.
 */
async function showMlpPreset(page: Page) {
  await page.getByTestId('preset-select').selectOption('mlp');
  await denseCountIs(page, 3_184);
}

/** Distinct colours in the main canvas: a blank or single-colour canvas means nothing was painted. */
async function canvasColours(page: Page): Promise<number> {
  return page.evaluate(() => {
    const canvas = document.querySelector<HTMLCanvasElement>(
      '[data-testid="tile-grid-main"] canvas',
    )!;
    const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
    const seen = new Set<number>();
    for (let p = 0; p < data.length; p += 4 * 7)
      seen.add((data[p] << 16) | (data[p + 1] << 8) | data[p + 2]);
    return seen.size;
  });
}

test('first screen: tile grids of every layer and "ciphertexts: before -> after"', async () => {
  await withPage(
    async ({ page, errors }) => {
      await ready(page);
      const c = await counts(page);
      assert.equal(c.before, 13_568, '784-256-64-256-784 with 4x8 tiles has 13,568 weight tiles');
      assert.ok(
        c.after > 0 && c.after < c.before,
        `after ${c.after} should be below before ${c.before}`,
      );
      assert.equal(await page.getByRole('tab').count(), 4);
      assert.ok((await canvasColours(page)) > 20, 'the main grid is painted');
      await page.setViewportSize({ width: 1440, height: 1000 });
      await page.waitForTimeout(300);
      await page.screenshot({ path: join(RESULTS_DIR, 'studio-first-screen.png'), fullPage: true });
      // Hover a tile: the tooltip names the tile, its kept weights, its norm and its ciphertext.
      const box = (await page.getByTestId('tile-grid-main').locator('canvas').boundingBox())!;
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      const tip = page.getByTestId('tile-tooltip');
      await tip.waitFor();
      const text = (await tip.textContent()) ?? '';
      assert.match(text, /Tile [0-9,]+ · row \d+, col \d+/);
      assert.match(text, /weights kept/);
      assert.match(text, /‖tile‖₂/);
      assert.match(text, /Ciphertext [0-9,]+ of [0-9,]+|no ciphertext/);
      await page.screenshot({ path: join(RESULTS_DIR, 'studio-tooltip.png') });
      // Before / after: the trained model and its shipped twin side by side.
      await page.getByTestId('compare-1').check();
      await page.getByTestId('compare-2').check();
      const panel = page.getByTestId('compare-panel');
      await panel.waitFor();
      assert.equal(await panel.locator('canvas').count(), 2);
      await panel.scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(RESULTS_DIR, 'studio-compare.png') });
      assert.deepEqual(errors, []);
    },
    { screenshot: 'studio-first-screen-end' },
  );
});

test('moving the sparsity slider changes the count; responsiveness figure', async () => {
  await withPage(
    async ({ page, errors }) => {
      await ready(page);
      // Keyboard-operable: focus the labelled slider and use the arrow keys (real input events).
      const slider = page.getByRole('slider', { name: /weight sparsity/i });
      await slider.focus();
      await page.keyboard.press('Home');
      await page.waitForTimeout(200);
      const atZero = await counts(page);
      await page.keyboard.press('End');
      await page.waitForTimeout(200);
      const atMax = await counts(page);
      assert.ok(
        atMax.after < atZero.after,
        `count at 99% (${atMax.after}) should be below count at 0% (${atZero.after})`,
      );

      // Responsiveness: 30 slider steps, one per frame-ish, each timed in the page with marks.
      await measureSlider(
        page,
        '784-256-64-256-784, 4x8 tiles, HE-PEx preview (magnitude + theta + expand)',
        'studio-responsiveness',
      );
      assert.deepEqual(errors, []);
    },
    { screenshot: 'studio-slider' },
  );
});

test('a malformed model file shows a plain error and the page keeps working', async () => {
  await withPage(
    async ({ page, errors }) => {
      await ready(page);
      const before = await counts(page);
      await page.getByTestId('model-files-input').setInputFiles([
        {
          name: 'model.json',
          mimeType: 'application/json',
          buffer: Buffer.from(
            '{"modelTopology": {"class_name": "Sequential", "config": [{"class_name": "Dense"}]}, "weightsManifest": [{"paths": ["weights.bin"], "weights": [{"name": "k", "shape": [784, 10], "dtype": "float32"}]}]}',
          ),
        },
        { name: 'weights.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(12) },
      ]);
      const banner = page.getByTestId('error-banner');
      await banner.waitFor();
      const text = (await banner.textContent()) ?? '';
      assert.match(text, /Model file/);
      assert.deepEqual(await counts(page), before, 'the previous model stays');
      await page.screenshot({ path: join(RESULTS_DIR, 'studio-malformed-file.png') });
      const slider = page.getByRole('slider', { name: /weight sparsity/i });
      await slider.focus();
      await page.keyboard.press('Home');
      await page.waitForTimeout(200);
      assert.ok((await counts(page)).after > before.after, 'the slider still drives the counts');
      await page.getByRole('button', { name: /dismiss/i }).click();
      assert.equal(await banner.count(), 0);
      assert.deepEqual(errors, []);
    },
    { screenshot: 'studio-after-error' },
  );
});

test('permutation runs in the pipeline worker and lowers the count', async () => {
  await withPage(
    async ({ page, errors }) => {
      await ready(page);
      await page.getByText('Magnitude', { exact: true }).click();
      await page.waitForTimeout(200);
      const unpermuted = await counts(page);
      await page.getByTestId('permute-button').click();
      await page.getByTestId('busy').waitFor();
      await page.getByTestId('busy').waitFor({ state: 'detached', timeout: 120_000 });
      const permuted = await counts(page);
      assert.ok(
        permuted.after < unpermuted.after,
        `permuted ${permuted.after} < unpermuted ${unpermuted.after}`,
      );
      // Watch the regrouping: before and after the permutation side by side.
      const panel = page.getByTestId('compare-panel');
      await panel.waitFor();
      assert.match((await panel.textContent()) ?? '', /before permutation[\s\S]*permuted/);
      await page.screenshot({ path: join(RESULTS_DIR, 'studio-permuted.png'), fullPage: true });
      assert.deepEqual(errors, []);
    },
    { screenshot: 'studio-permute' },
  );
});

test('the whole HE-PEx pipeline runs in the worker on the small MLP (real tfjs retraining), within a tile budget', async () => {
  await withPage(
    async ({ page, errors }) => {
      await ready(page);
      await showMlpPreset(page);
      const rowsBefore = await page.getByTestId('history-table').locator('tbody tr').count();
      // The preview at the defaults costs more than the budget: the expansion must cut to it.
      assert.ok((await counts(page)).after > 150, 'the budget binds');
      await page.getByTestId('tile-budget').fill('150');
      await page.getByTestId('pipeline-button').click();
      await page.getByTestId('busy').waitFor();
      await page.getByTestId('busy').waitFor({ state: 'detached', timeout: 300_000 });
      assert.equal(await page.getByTestId('error-banner').count(), 0, 'no error');
      const c = await counts(page);
      assert.ok(c.after <= 150, `pipeline result ${c.after} <= 150 (the budget)`);
      // prune, retrain, permute, expand and the final retrain each add a row, with an accuracy.
      const rows = page.getByTestId('history-table').locator('tbody tr');
      assert.equal((await rows.count()) - rowsBefore, 5);
      const newest = (await rows.first().textContent()) ?? '';
      assert.match(newest, /acc \d+\.\d%/);
      await page.screenshot({ path: join(RESULTS_DIR, 'studio-pipeline.png'), fullPage: true });
      assert.deepEqual(errors, []);
    },
    { screenshot: 'studio-pipeline-end' },
  );
});

test('training a preset in the worker draws a live loss chart and replaces the model', async () => {
  await withPage(
    async ({ page, errors }) => {
      await ready(page);
      await showMlpPreset(page);
      await page.getByLabel('Epochs').fill('2');
      await page.getByTestId('train-button').click();
      await page.getByTestId('busy').waitFor();
      await page.getByTestId('busy').waitFor({ state: 'detached', timeout: 300_000 });
      assert.equal(await page.getByTestId('error-banner').count(), 0, 'no error');
      assert.equal(
        await page.getByTestId('training-chart').locator('circle').count(),
        2,
        'one point per epoch',
      );
      assert.match(
        (await page.getByTestId('model-source').textContent()) ?? '',
        /trained here \(2 epochs\)/,
      );
      const c = await counts(page);
      assert.equal(c.before, 3_184);
      assert.ok(c.after < c.before, 'the new model is previewed pruned');
      await page.screenshot({ path: join(RESULTS_DIR, 'studio-trained.png'), fullPage: true });
      assert.deepEqual(errors, []);
    },
    { screenshot: 'studio-train-end' },
  );
});

test('encrypted inference runs on a pool of 2 HE workers (real SEAL, nested workers) for the shipped twin and the unpruned MLP', async () => {
  await withPage(
    async ({ page, errors }) => {
      await ready(page);
      await showMlpPreset(page);
      // Served cross-origin isolated, so the pool's workers can share one buffer of inputs.
      assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), true);
      await page.getByTestId('he-workers').selectOption('2');
      const cts = await runEncrypted(page);
      // Both models ran on the pool, and the summary prices it against one worker.
      assert.deepEqual(await page.getByTestId('he-row-workers').allTextContents(), ['2', '2']);
      assert.match(
        (await page.getByTestId('he-pool-speedup').textContent()) ?? '',
        /on 2 HE workers, predicted ×[\d.]+ faster than on one/,
      );
      // Decrypted outputs judged against the labels: the 96-97% MLPs stay accurate under encryption.
      for (const m of await page.getByTestId('he-metric').allTextContents()) {
        assert.ok(Number(/acc ([\d.]+)%/.exec(m)?.[1]) >= 80, `decrypted accuracy ${m}`);
      }
      assert.ok(cts[1] < cts[0], `HE-PEx ${cts[1]} ciphertexts < unpruned ${cts[0]}`);
      // Per-layer server time, measured in the worker next to the prediction: 2 layers x 2 models.
      const layerMs = await page.getByTestId('he-layer-measured').allTextContents();
      const layerPredicted = await page.getByTestId('he-layer-predicted').allTextContents();
      assert.equal(layerMs.length, 4, `per-layer measured cells ${layerMs.join(' | ')}`);
      assert.equal(layerPredicted.length, 4);
      for (const t of [...layerMs, ...layerPredicted])
        assert.ok(/^\d[\d.,]* (ms|s|min)$/.test(t) && Number.parseFloat(t) > 0, `layer time ${t}`);
      console.log(
        `studio encrypted run, per-layer measured: ${layerMs.join(', ')}; predicted: ${layerPredicted.join(', ')}`,
      );
      console.log(`studio encrypted run: ${await page.getByTestId('he-summary').textContent()}`);
      await page.getByTestId('he-results').scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(RESULTS_DIR, 'studio-encrypted.png'), fullPage: true });
      assert.deepEqual(errors, []);
    },
    { screenshot: 'studio-encrypted-end' },
  );
});

test('IDX data opens for retraining and metrics; a truncated file is refused in words', async () => {
  await withPage(
    async ({ page, errors }) => {
      await ready(page);
      const dataDir = join(RESULTS_DIR, '..', 'public', 'data');
      await page
        .getByTestId('data-files-input')
        .setInputFiles([
          join(dataDir, 'mnist-labels-idx1-ubyte.gz'),
          join(dataDir, 'mnist-images-idx3-ubyte.gz'),
        ]);
      await page.waitForFunction(
        () =>
          /mnist, seed/i.test(
            document.querySelector('[data-testid="data-label"]')?.textContent ?? '',
          ) || !!document.querySelector('[data-testid="error-banner"]'),
        undefined,
        { timeout: 60_000 },
      );
      assert.equal(await page.getByTestId('error-banner').count(), 0, 'the real IDX pair opens');
      const label = (await page.getByTestId('data-label').textContent()) ?? '';
      assert.match(label, /8000 train \/ 2000 test/);
      await page.getByTestId('data-files-input').setInputFiles([
        {
          name: 'bad-images-idx3-ubyte',
          mimeType: 'application/octet-stream',
          buffer: Buffer.from([0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3]),
        },
        {
          name: 'bad-labels-idx1-ubyte',
          mimeType: 'application/octet-stream',
          buffer: Buffer.from([0, 0, 8, 1, 0, 0, 0, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0]),
        },
      ]);
      await page.getByTestId('error-banner').waitFor({ timeout: 30_000 });
      assert.match((await page.getByTestId('error-banner').textContent()) ?? '', /bad/);
      assert.equal(
        await page.getByTestId('data-label').textContent(),
        label,
        'the opened data stays',
      );
      assert.deepEqual(errors, []);
    },
    { screenshot: 'studio-idx-data' },
  );
});

test('export then re-import round-trips the shown model', async () => {
  await withPage(
    async ({ page, errors }) => {
      await ready(page);
      const before = await counts(page);
      const downloads: { name: string; path: string }[] = [];
      const got = new Promise<void>((resolve) => {
        page.on('download', async (d) => {
          const name = d.suggestedFilename();
          const path = join(RESULTS_DIR, `export-${name}`);
          await d.saveAs(path);
          downloads.push({ name, path });
          if (downloads.length === 2) resolve();
        });
      });
      await page.getByTestId('export-model').click();
      await got;
      const json = downloads.find((d) => d.name.endsWith('.model.json'))!;
      const bin = downloads.find((d) => d.name.endsWith('.weights.bin'))!;
      // One stem names both files (model, method, counts, weights hash); model.json names the
      // weights file exactly as it was downloaded, so tf.loadLayersModel finds it next to it.
      assert.equal(
        json.name.replace(/\.model\.json$/, ''),
        bin.name.replace(/\.weights\.bin$/, ''),
      );
      assert.match(
        json.name,
        /^ae-784-256-64-256-784_[a-z]+-s[\d.]+.*_4x8_\d+ct_[0-9a-f]{8}\.model\.json$/,
      );
      const modelJson = await readFile(json.path, 'utf8');
      assert.match(modelJson, /"hepex"/);
      assert.deepEqual(JSON.parse(modelJson).weightsManifest[0].paths, [`./${bin.name}`]);
      await page.getByTestId('model-files-input').setInputFiles([json.path, bin.path]);
      await page.waitForFunction(
        (name) =>
          document.querySelector('[data-testid="model-source"]')?.textContent?.includes(name),
        `export-${json.name}`,
        { timeout: 30_000 },
      );
      await page.getByRole('button', { name: 'Show trained' }).click();
      await page.waitForTimeout(200);
      // The re-imported model carries the exported masks: its own view counts the same ciphertexts.
      assert.equal((await counts(page)).after, before.after);
      assert.deepEqual(errors, []);
    },
    { screenshot: 'studio-reimported' },
  );
});

test('dark mode follows the system setting', async () => {
  await withPage(
    async ({ page, errors }) => {
      await page.emulateMedia({ colorScheme: 'dark' });
      await ready(page);
      assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
      await page.setViewportSize({ width: 1440, height: 1000 });
      await page.waitForTimeout(300);
      await page.screenshot({ path: join(RESULTS_DIR, 'studio-dark.png'), fullPage: true });
      await page.getByTestId('theme-toggle').click(); // system -> dark (explicit)
      await page.getByTestId('theme-toggle').click(); // dark -> light
      assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'light');
      assert.deepEqual(errors, []);
    },
    { screenshot: 'studio-theme' },
  );
});
