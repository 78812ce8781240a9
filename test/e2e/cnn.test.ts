import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { CommandIo } from '../../src/cli/command';
import { command as costCommand } from '../../src/cli/commands/cost';
import { command as trainCommand } from '../../src/cli/commands/train';
import type { CostReport } from '../../src/core/he/costModel';
import { RESULTS_DIR, withPage } from './harness';
import { measureSlider } from './responsiveness';
import { counts, denseCountIs, digits, ready, runEncrypted } from './studioPage';

// The CNN preset (public/models/cnn + its HE-PEx twin, scripts/build-models.sh) against the
// production build: the kernel-block views, counts equal to the core's, tied slider previews, the
// responsiveness figure, permutation and an encrypted run in the workers; training in the studio
// starts from a small CNN the CLI trains here (1 epoch, seconds), opened through the file input.

const io: CommandIo = { progress: () => undefined, signal: new AbortController().signal };
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hepex-e2e-cnn-'));
});
after(() => rm(dir, { recursive: true, force: true }));

async function train(name: string, args: string[]): Promise<string> {
  const out = join(dir, name);
  await trainCommand.run(['--arch', 'cnn', '--epochs', '1', ...args, '--out', out], io);
  return out;
}

/** The weight ciphertexts the CLI's cost model gives a CNN with a full kernel (core's count). */
async function coreCount(conv: string, layers: string, tile = '4x8'): Promise<number> {
  const run = await costCommand.run(['--conv', conv, '--layers', layers, '--tile', tile], io);
  return (run.json as CostReport).total.weightCiphertexts;
}

/** Opens a model dir through the file input and waits until the studio shows it. */
async function openModel(page: Page, modelDir: string) {
  await page
    .getByTestId('model-files-input')
    .setInputFiles([join(modelDir, 'model.json'), join(modelDir, 'weights.bin')]);
  await page.waitForFunction(
    () =>
      document.querySelector('[data-testid="model-source"]')?.textContent?.includes('model.json'),
    undefined,
    { timeout: 60_000 },
  );
  await page.getByTestId('layer-card-0').waitFor();
  // The CLI's default 4x8 tile, layer 1 in B, whatever the previous preset's tile was.
  await page.getByLabel('t1 (rows)').selectOption('4');
  await page.getByLabel('t2 (cols)').selectOption('8');
  await page.getByText('Layer 1 in B', { exact: true }).click();
}

/** "K kernel tiles ×P = N" on the conv layer's card, checked to multiply out. */
async function convCard(page: Page) {
  const text = (await page.getByTestId('layer-count-0').textContent()) ?? '';
  const m = /([\d,]+) kernel tiles ×([\d,]+) = ([\d,]+)/.exec(text);
  assert.ok(m, `conv card counts: ${text}`);
  const [kernelTiles, positions, tiles] = m.slice(1).map(digits);
  assert.equal(kernelTiles * positions, tiles, `${text} multiplies out`);
  return { kernelTiles, positions, tiles };
}

test('the CNN: kernel-block views, counts equal the core, tied slider; responsiveness figure', async () => {
  const dense = await coreCount('28x28x1:5/2x8', '64,10');
  await withPage(
    async ({ page, errors }) => {
      await ready(page);
      // The preset opens in its twin's tile (16x8) with the twin shown.
      await page.getByTestId('preset-select').selectOption('cnn');
      await denseCountIs(page, await coreCount('28x28x1:5/2x8', '64,10', '16x8'));
      const twin = { ...(await counts(page)), card: await convCard(page) };
      assert.ok(twin.after > 0 && twin.after < twin.before, `twin ${twin.after} of ${twin.before}`);
      console.log(`cnn preset: shipped twin ${twin.after} of ${twin.before} ciphertexts at 16x8`);
      await page.getByLabel('t1 (rows)').selectOption('4');
      await page.getByText('Layer 1 in B', { exact: true }).click();
      await denseCountIs(page, dense);
      assert.equal((await counts(page)).before, dense, 'dense count = hepex cost --conv');
      // The conv layer reads as a convolution and is painted as its 8 x 32 kernel block.
      assert.match(
        (await page.getByTestId('layer-card-0').textContent()) ?? '',
        /conv 5x5\/2, 8 filters, x144 positions/,
      );
      await page.getByTestId('layer-card-0').click();
      assert.match(
        (await page.getByTestId('grid-title').textContent()) ?? '',
        /Layer 1: conv 5x5\/2, 8 filters, x144 positions/,
      );
      assert.match(
        (await page.getByTestId('grid-sub').textContent()) ?? '',
        /8×32 kernel \(25 \+ 7 padding\)/,
      );
      const label = await page
        .getByTestId('tile-grid-main')
        .locator('canvas')
        .getAttribute('aria-label');
      assert.match(label ?? '', /kernel, 8×32/);

      // Hover the kernel: the tooltip names a filter and its patch element or a padding column.
      const canvas = page.getByTestId('tile-grid-main').locator('canvas');
      await canvas.scrollIntoViewIfNeeded();
      const box = (await canvas.boundingBox())!;
      await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.1);
      await page.getByTestId('tile-tooltip').waitFor();
      const tip = (await page.getByTestId('tile-tooltip-weight').textContent()) ?? '';
      assert.match(tip, /Filter \d+, patch (\(dy \d, dx \d, c 0\)|padding column \d+)/);
      // Layer 1 in B shows Kᵀ: patch columns run down, the padding (rows 26-32) at the bottom.
      await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.95, { steps: 4 });
      await page.waitForTimeout(200);
      const low = (await page.getByTestId('tile-tooltip-weight').textContent()) ?? '';
      assert.match(low, /Filter \d+, patch padding column (2[6-9]|3[0-2]) \(always 0\)/);
      await page.screenshot({ path: join(RESULTS_DIR, 'cnn-kernel-tooltip.png') });

      // The slider prunes kernel weights at every position: the card still multiplies out.
      const slider = page.getByRole('slider', { name: /weight sparsity/i });
      await slider.focus();
      await page.keyboard.press('Home');
      await page.waitForTimeout(300);
      const atZero = { ...(await counts(page)), card: await convCard(page) };
      await page.keyboard.press('End');
      await page.waitForTimeout(300);
      const atMax = { ...(await counts(page)), card: await convCard(page) };
      assert.ok(atMax.after < atZero.after, `count at 99% ${atMax.after} < at 0% ${atZero.after}`);
      assert.ok(atMax.card.kernelTiles <= atZero.card.kernelTiles);
      assert.equal(atMax.card.positions, 144);

      await measureSlider(
        page,
        'CNN conv 5x5/2 x8 (1152x4608 tied) -> 64 -> 10, 4x8 tiles, HE-PEx preview',
        'cnn-responsiveness',
        { gapMs: 60 },
      );
      // Permutation in the pipeline worker: patch values and filters move alike at every position.
      await page.getByText('Magnitude', { exact: true }).click();
      await page.getByText('Per layer', { exact: true }).click();
      await slider.focus();
      await page.keyboard.press('End');
      for (let k = 0; k < 9; k++) await page.keyboard.press('ArrowLeft');
      await page.waitForFunction(
        () => document.querySelector('[data-testid="sparsity-value"]')?.textContent === '90%',
      );
      await page.waitForTimeout(300);
      const unpermuted = { ...(await counts(page)), card: await convCard(page) };
      await page.getByTestId('permute-button').click();
      await page.getByTestId('busy').waitFor();
      await page.getByTestId('busy').waitFor({ state: 'detached', timeout: 120_000 });
      assert.equal(await page.getByTestId('error-banner').count(), 0, 'no error');
      const permuted = { ...(await counts(page)), card: await convCard(page) };
      assert.ok(
        permuted.after > 0 && permuted.after <= unpermuted.after,
        `permuted ${permuted.after} <= unpermuted ${unpermuted.after}`,
      );
      assert.ok(permuted.card.tiles <= unpermuted.card.tiles);
      console.log(
        `cnn permutation (magnitude 90% per layer): ${unpermuted.after} -> ${permuted.after} ciphertexts, conv ${unpermuted.card.tiles} -> ${permuted.card.tiles}`,
      );
      await page.setViewportSize({ width: 1440, height: 1000 });
      await page.waitForTimeout(300);
      await page.screenshot({ path: join(RESULTS_DIR, 'cnn-studio.png'), fullPage: true });
      assert.deepEqual(errors, []);
    },
    { screenshot: 'cnn-studio-end' },
  );
});

test('encrypted inference of the CNN preset in the HE worker (client im2col, real SEAL)', async () => {
  // The trained CNN, then its shipped 16x8 HE-PEx twin: ~45 s on 2 cores.
  const dense = await coreCount('28x28x1:5/2x8', '64,10', '16x8');
  await withPage(
    async ({ page, errors }) => {
      await ready(page);
      await page.getByTestId('preset-select').selectOption('cnn');
      await denseCountIs(page, dense);
      await convCard(page);
      const preview = await counts(page);
      assert.ok(preview.after > 0 && preview.after < dense, `shown ${preview.after} of ${dense}`);
      const cts = await runEncrypted(page);
      assert.equal(await page.getByTestId('he-error').count(), 0, 'both models ran');
      assert.equal(cts[0], dense, 'unpruned: the core count');
      assert.equal(cts[1], preview.after, 'the encrypted model is the one shown');
      assert.ok(cts[1] < cts[0], `pruned ${cts[1]} ciphertexts < unpruned ${cts[0]}`);
      console.log(`cnn encrypted run: ${await page.getByTestId('he-summary').textContent()}`);
      await page.getByTestId('he-results').scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(RESULTS_DIR, 'cnn-encrypted.png'), fullPage: true });
      assert.deepEqual(errors, []);
    },
    { screenshot: 'cnn-encrypted-end' },
  );
});

test('training a CNN in the worker keeps its convolution (the train request carries it)', async () => {
  const model = await train('cnn-train', ['--layers', '784,16,10', '--stride', '3']);
  const dense = await coreCount('28x28x1:5/3x8', '16,10');
  await withPage(
    async ({ page, errors }) => {
      await ready(page);
      await openModel(page, model);
      assert.equal(
        (await page.getByTestId('train-button').textContent()) ?? '',
        'Train cnn classifier',
      );
      await page.getByLabel('Epochs').fill('1');
      await page.getByTestId('train-button').click();
      await page.getByTestId('busy').waitFor();
      await page.getByTestId('busy').waitFor({ state: 'detached', timeout: 300_000 });
      assert.equal(await page.getByTestId('error-banner').count(), 0, 'no error');
      assert.match(
        (await page.getByTestId('model-source').textContent()) ?? '',
        /CNN classifier trained here \(1 epochs?\)/,
      );
      assert.match(
        (await page.getByTestId('layer-card-0').textContent()) ?? '',
        /conv 5x5\/3, 8 filters, x64 positions/,
      );
      assert.equal((await counts(page)).before, dense, 'same architecture, same dense count');
      assert.deepEqual(errors, []);
    },
    { screenshot: 'cnn-trained-end' },
  );
});
