import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';

// Reading and driving the studio page, shared by the e2e files (test ids from src/components).

/** The number in a count cell ("13,568" -> 13568). */
export const digits = (s: string | null) => Number((s ?? '').replace(/[^0-9]/g, ''));

/** The first screen is up: the counts panel and a painted main grid. */
export async function ready(page: Page) {
  await page.getByTestId('counts-panel').waitFor({ timeout: 60_000 });
  await page.getByTestId('tile-grid-main').locator('canvas').waitFor();
}

/** The headline's "weight ciphertexts: before -> after". */
export async function counts(page: Page) {
  return {
    before: digits(await page.getByTestId('ciphertexts-before').textContent()),
    after: digits(await page.getByTestId('ciphertexts-after').textContent()),
  };
}

/** Waits until the headline shows `n` unpruned weight ciphertexts. */
export async function denseCountIs(page: Page, n: number) {
  await page.waitForFunction(
    (text) => document.querySelector('[data-testid="ciphertexts-before"]')?.textContent === text,
    n.toLocaleString('en-US'),
    { timeout: 60_000 },
  );
}

/**
 * Runs "encrypted: shown vs trained" in the HE worker and waits for the results: no error, both
 * models agree with plaintext on at least 90% of the images. Returns the two rows' weight
 * ciphertexts [trained, shown].
 */
export async function runEncrypted(page: Page): Promise<number[]> {
  await page.getByTestId('he-run').click();
  await page.getByTestId('he-results').waitFor({ timeout: 600_000 });
  assert.equal(await page.getByTestId('error-banner').count(), 0, 'no error');
  const agreements = await page.getByTestId('he-agreement').allTextContents();
  assert.equal(agreements.length, 2);
  for (const a of agreements)
    assert.ok(Number(a.replace('%', '')) >= 90, `agreement with plaintext ${a}`);
  const cells = page.getByTestId('he-results').getByTestId('he-ciphertexts');
  return Promise.all([0, 1].map(async (i) => digits(await cells.nth(i).textContent())));
}
