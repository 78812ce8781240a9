import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withPage } from './harness';
import { ready } from './studioPage';

// The production build must emit node-seal's .wasm, start the HE module worker and run a real
// CKKS round trip in Chromium: the status line shows it, at the ring degree the sidebar prices.
test('the HE worker starts real node-seal and round-trips a vector', async () => {
  await withPage(
    async ({ page, errors }) => {
      await ready(page);
      const option =
        (await page.getByTestId('ring-degree').locator('option:checked').textContent()) ?? '';
      const n = /auto \((\d+)\)/.exec(option)?.[1];
      assert.ok(n, `ring choice reads "auto (N)": ${option}`);
      const status = page.getByTestId('he-engine-status');
      await page.waitForFunction(
        (want) => {
          const el = document.querySelector('[data-testid="he-engine-status"]');
          return (
            el?.getAttribute('data-state') === 'error' || el?.textContent?.includes(`N=${want},`)
          );
        },
        n,
        { timeout: 60_000 },
      );
      const text = (await status.textContent()) ?? '';
      assert.equal(
        await status.getAttribute('data-state'),
        'ready',
        `status: ${text}; errors: ${errors.join(' | ')}`,
      );
      const match = /SEAL ready, N=(\d+), round-trip error ([0-9.e+-]+)/.exec(text);
      assert.ok(match, `unexpected status text: ${text}`);
      assert.equal(match[1], n, 'the footer tests the ring degree the sidebar prices');
      const error = Number(match[2]);
      assert.ok(error > 0 && error < 1e-5, `round-trip error ${error} should be tiny but non-zero`);
      assert.deepEqual(errors, []);
    },
    { screenshot: 'he-engine-status' },
  );
});
