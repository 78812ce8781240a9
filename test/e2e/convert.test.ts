import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { CommandIo } from '../../src/cli/command';
import { command as trainCommand } from '../../src/cli/commands/train';
import { withPage } from './harness';
import { ready } from './studioPage';

// A ReLU model opened in the studio (production build): the notice offers the conversion, which
// runs in the train worker (tfjs there, the MNIST asset) and loads a HE-ready model with its
// three figures. The model is a small one the CLI trains here in seconds.

const io: CommandIo = { progress: () => undefined, signal: new AbortController().signal };
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hepex-e2e-convert-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('a ReLU model file is converted in the worker and loaded', async () => {
  const out = join(dir, 'relu');
  await trainCommand.run(
    [
      '--arch',
      'mlp',
      '--layers',
      '784,16,10',
      '--activation',
      'relu',
      '--epochs',
      '2',
      '--out',
      out,
    ],
    io,
  );
  await withPage(
    async ({ page, errors }) => {
      await ready(page);
      await page
        .getByTestId('model-files-input')
        .setInputFiles([join(out, 'model.json'), join(out, 'weights.bin')]);
      const notice = page.getByTestId('conversion-notice');
      await notice.waitFor({ timeout: 30_000 });
      assert.match((await notice.textContent()) ?? '', /uses ReLU, which CKKS cannot evaluate/);
      await page.getByRole('button', { name: 'Convert to polynomial activations' }).click();
      await page.getByTestId('busy').waitFor();
      const report = page.getByTestId('conversion-report');
      await report.waitFor({ timeout: 180_000 });
      const text = (await report.textContent()) ?? '';
      assert.match(text, /original \d+\.\d\d%, after the fit \d+\.\d\d%, after 6 fine-tune epochs/);
      const [original, , fineTuned] = [...text.matchAll(/(\d+\.\d\d)%/g)].map((m) => Number(m[1]));
      assert.ok(fineTuned >= original - 3, `fine-tuned ${fineTuned}% vs original ${original}%`);
      assert.match((await page.getByTestId('model-source').textContent()) ?? '', /converted/);
      await page.getByTestId('ciphertexts-before').waitFor();
      assert.deepEqual(errors, []);
    },
    { screenshot: 'studio-convert' },
  );
});
