import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { root, withPage } from './harness';
import { denseCountIs, ready } from './studioPage';

// Fashion-MNIST as the studio's second built-in data set: the build ships it when
// Debian's dataset-fashion-mnist was installed at `npm ci` (CI installs it), the selector offers
// it, and choosing it moves retraining and metrics onto it: the data label and the history's
// data column name it, and the model is scored on it.

test('choosing Fashion-MNIST changes the data the metrics are measured on', async () => {
  assert.ok(
    existsSync(join(root, 'dist', 'data', 'fashion-mnist-images-idx3-ubyte.gz')),
    'The build has no Fashion-MNIST asset: install the Debian package dataset-fashion-mnist, then run `npm ci` (or scripts/build-mnist-asset.ts) and `npm run build`.',
  );
  await withPage(
    async ({ page, errors }) => {
      await ready(page);
      await page.getByTestId('preset-select').selectOption('mlp');
      await denseCountIs(page, 3_184);
      const select = page.getByTestId('data-set-select');
      await select.locator('option[value="fashion-mnist"]').waitFor({ state: 'attached' });
      assert.match((await page.getByTestId('data-label').textContent()) ?? '', /MNIST 10k/);
      await select.selectOption('fashion-mnist');
      await page.waitForFunction(
        () =>
          /Fashion-MNIST 10k, seed 1: 8000 train \/ 2000 test/.test(
            document.querySelector('[data-testid="data-label"]')?.textContent ?? '',
          ),
        undefined,
        { timeout: 60_000 },
      );
      // The model is scored again on the new data: a history row on Fashion-MNIST with a metric.
      await page.waitForFunction(
        () =>
          Array.from(document.querySelectorAll('[data-testid="history-table"] tbody tr')).some(
            (r) => {
              const cells = Array.from(r.querySelectorAll('td')).map((c) => c.textContent ?? '');
              return cells[3] === 'Fashion-MNIST 10k' && /\d/.test(cells.at(-1) ?? '');
            },
          ),
        undefined,
        { timeout: 120_000 },
      );
      assert.equal(await select.inputValue(), 'fashion-mnist');
      assert.deepEqual(errors, []);
    },
    { screenshot: 'dataset-fashion' },
  );
});
