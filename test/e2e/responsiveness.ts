import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { RESULTS_DIR } from './harness';

/**
 * The studio's responsiveness figure: from the focused slider's Home, `moves` ArrowRight presses
 * (real input events, `gapMs` apart), each timed in the page by the store's performance marks
 * (input -> counts, input -> repainted grid). Logs the line, saves test-results/<name>.json.
 */
export async function measureSlider(
  page: Page,
  model: string,
  name: string,
  { moves = 30, gapMs = 40 }: { moves?: number; gapMs?: number } = {},
) {
  await page.evaluate(() => {
    performance.clearMarks();
    performance.clearMeasures();
  });
  await page.keyboard.press('Home');
  for (let k = 0; k < moves; k++) {
    await page.keyboard.press('ArrowRight');
    await page.waitForTimeout(gapMs);
  }
  await page.waitForTimeout(300);
  // No named helpers inside evaluate: tsx would wrap them in a __name() the page lacks.
  const figures = await page.evaluate(() => ({
    counts: performance.getEntriesByName('hepex:input->counts', 'measure').map((m) => m.duration),
    paint: performance.getEntriesByName('hepex:input->paint', 'measure').map((m) => m.duration),
  }));
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  const p90 = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length * 0.9)];
  assert.ok(
    figures.counts.length >= (moves * 2) / 3 && figures.paint.length >= (moves * 2) / 3,
    `measures recorded: ${figures.counts.length} / ${figures.paint.length}`,
  );
  const line = {
    model,
    moves: figures.counts.length,
    inputToCountsMs: {
      median: +median(figures.counts).toFixed(2),
      p90: +p90(figures.counts).toFixed(2),
    },
    inputToRepaintedGridMs: {
      median: +median(figures.paint).toFixed(2),
      p90: +p90(figures.paint).toFixed(2),
    },
  };
  console.log(`${name}: ${JSON.stringify(line)}`);
  await writeFile(join(RESULTS_DIR, `${name}.json`), JSON.stringify(line, null, 2));
  return line;
}
