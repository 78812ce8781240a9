import assert from 'node:assert/strict';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { buildHostileCorpus, type HostileCorpus } from '../fixtures/hostileCorpus';
import { RESULTS_DIR, withPage } from './harness';
import { counts, ready } from './studioPage';

// Issue #20: a sample of the generated hostile corpus (test/fixtures/hostileCorpus.ts) through
// the studio's own "Open model files…" and "Open IDX data…" inputs, in the production build:
// each file gets a banner in words, and the model opened before stays shown.

/** One case per category, plus the ones the issue found crashing the CLI. */
function sample<T extends { id: string; category: string }>(
  items: readonly T[],
  extra: readonly string[],
): T[] {
  const firsts = [...new Set(items.map((c) => c.category))].map(
    (cat) => items.find((c) => c.category === cat) as T,
  );
  const more = extra.map((id) => items.find((c) => c.id === id) as T).filter(Boolean);
  return [...new Map([...firsts, ...more].map((c) => [c.id, c])).values()];
}

async function bannerAfter(page: Page, open: () => Promise<void>): Promise<string> {
  await open();
  const banner = page.getByTestId('error-banner');
  await banner.waitFor({ timeout: 30_000 });
  const text = (await banner.textContent()) ?? '';
  await page.getByRole('button', { name: /dismiss/i }).click();
  await banner.waitFor({ state: 'detached' });
  return text;
}

test('hostile model and IDX files each get a banner in words; the model shown stays', async () => {
  const root = await mkdtemp(join(tmpdir(), 'hepex-hostile-e2e-'));
  try {
    const corpus: HostileCorpus = await buildHostileCorpus(root);
    const models = sample(
      corpus.models.filter((c) => c.browser && c.files.length > 0),
      [
        'mlp-deep-nesting-task',
        'cnn-deep-nesting-activation',
        'mlp-deep-nesting-object10k',
        'cnn-metadata-contradicts-graph-task',
        'ae-metadata-contradicts-graph-inputSize',
        'mlp-weight-paths-traversal',
        'ae-shapes-huge',
        'cnn-bad-values-nanWeights',
      ],
    );
    const idx = sample(
      corpus.idx.filter((c) => c.browser),
      ['gzip-bomb', 'labels-countMismatch'],
    );
    assert.ok(models.length >= 10 && idx.length >= 5, `${models.length} models, ${idx.length} IDX`);
    await withPage(
      async ({ page, errors }) => {
        await ready(page);
        // The model opened before: the corpus's copy of the shipped MLP, from files.
        await page
          .getByTestId('model-files-input')
          .setInputFiles(['model.json', 'weights.bin'].map((f) => join(corpus.goodModel, f)));
        await page.waitForFunction(
          () =>
            document
              .querySelector('[data-testid="model-source"]')
              ?.textContent?.includes('model.json'),
          undefined,
          { timeout: 60_000 },
        );
        const source = await page.getByTestId('model-source').textContent();
        const shown = await counts(page);
        const dataLabel = await page.getByTestId('data-label').textContent();
        const problems: string[] = [];
        for (const c of models) {
          const text = await bannerAfter(page, () =>
            page.getByTestId('model-files-input').setInputFiles(
              c.files.map((f) => ({
                name: f.name,
                mimeType: 'application/octet-stream',
                buffer: Buffer.from(f.bytes),
              })),
            ),
          );
          if (!/Model file|model\.json|ONNX file/.test(text) || text.length > 2500)
            problems.push(`${c.id}: banner "${text.slice(0, 200)}"`);
          if ((await page.getByTestId('model-source').textContent()) !== source)
            problems.push(`${c.id}: the model source changed`);
          if (JSON.stringify(await counts(page)) !== JSON.stringify(shown))
            problems.push(`${c.id}: the counts changed`);
        }
        for (const c of idx) {
          const files = await Promise.all(
            [c.images, c.labels].map(async (path) => ({
              name: basename(path),
              mimeType: 'application/octet-stream',
              buffer: await readFile(path),
            })),
          );
          const text = await bannerAfter(page, () =>
            page.getByTestId('data-files-input').setInputFiles(files),
          );
          if (text.length < 20 || text.length > 2500 || /\n\s+at /.test(text))
            problems.push(`${c.id}: banner "${text.slice(0, 200)}"`);
          if ((await page.getByTestId('data-label').textContent()) !== dataLabel)
            problems.push(`${c.id}: the data changed`);
          if ((await page.getByTestId('model-source').textContent()) !== source)
            problems.push(`${c.id}: the model source changed`);
        }
        await page.screenshot({ path: join(RESULTS_DIR, 'hostile-after.png') });
        assert.deepEqual(problems, []);
        assert.deepEqual(errors, []);
      },
      { screenshot: 'hostile-end' },
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
