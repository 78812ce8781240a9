import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withPage } from './harness';

// The production build must emit node-seal's .wasm, start the HE module worker and run a real
// CKKS round trip in Chromium: the status line shows it.
test('the HE worker starts real node-seal and round-trips a vector', async () => {
  await withPage(
    async ({ page, errors }) => {
      const status = page.getByTestId('he-engine-status');
      await status.waitFor();
      await page.waitForFunction(
        () =>
          document.querySelector('[data-testid="he-engine-status"]')?.getAttribute('data-state') !==
          'starting',
        undefined,
        { timeout: 60_000 },
      );
      const text = (await status.textContent()) ?? '';
      assert.equal(
        await status.getAttribute('data-state'),
        'ready',
        `status: ${text}; errors: ${errors.join(' | ')}`,
      );
      const match = /SEAL ready, N=8192, round-trip error ([0-9.e+-]+)/.exec(text);
      assert.ok(match, `unexpected status text: ${text}`);
      const error = Number(match[1]);
      assert.ok(error > 0 && error < 1e-5, `round-trip error ${error} should be tiny but non-zero`);
      assert.deepEqual(errors, []);
    },
    { screenshot: 'he-engine-status' },
  );
});
