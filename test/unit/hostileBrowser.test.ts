import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDatasetFits } from '../../src/core/io/dataset';
import { modelFromFiles } from '../../src/core/io/layersModelFile';
import { isHepexError } from '../../src/core/model/errors';
import { datasetFromIdxFiles } from '../../src/engines/tfjs/mnistBrowser';
import { createModelLoader } from '../../src/services/modelLoader';
import { buildHostileCorpus, type HostileCorpus } from '../fixtures/hostileCorpus';
import { Tally } from '../fixtures/hostileRun';

/**
 * Issue #20: the same hostile corpus through the studio's import path, in Node. "Open model
 * files…" (ModelPicker) calls the store's loadFiles, which calls the ModelLoader's loadFiles
 * (services/modelLoader.ts) with the File objects: the parser here is the CLI's. "Open IDX
 * data…" calls loadData, which hands the bytes to the pipeline worker's setData:
 * datasetFromIdxFiles (engines/tfjs/mnistBrowser.ts, DecompressionStream for gzip) and
 * checkDatasetFits against the model's 784 inputs. Each must reject with a typed error.
 */
let root: string;
let corpus: HostileCorpus;
const tally = new Tally();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hepex-hostile-browser-'));
  corpus = await buildHostileCorpus(root);
}, 120_000);

afterAll(async () => {
  console.log(`hostile corpus (browser import path):\n${tally.table()}`);
  await rm(root, { recursive: true, force: true });
});

/** '' when `promise` rejects with a HepexError of `code`, else what happened instead. */
async function refusal(promise: Promise<unknown>, code: string): Promise<string> {
  try {
    await promise;
    return 'accepted';
  } catch (error) {
    if (!isHepexError(error)) return `untyped ${String((error as Error)?.message ?? error)}`;
    if (error.code !== code) return `code ${error.code}: ${error.message}`;
    if (error.message.length > 2000) return `message of ${error.message.length} chars`;
    return '';
  }
}

describe('hostile files through the studio import path', () => {
  it("refuses every model file as 'Open model files…' would read it", async () => {
    const loader = createModelLoader({ baseUrl: '/models/' });
    const cases = corpus.models.filter((c) => c.browser);
    for (const c of cases) {
      const files = c.files.map((f) => new File([f.bytes as Uint8Array<ArrayBuffer>], f.name));
      tally.add(
        'model',
        c.category,
        c.id,
        await refusal(loader.loadFiles(files), 'invalid-model-file'),
      );
    }
    const failures = cases.flatMap((c) =>
      tally.failures('model', c.category).filter((f) => f.startsWith(`${c.id}:`)),
    );
    expect(failures).toEqual([]);
    expect(cases.length).toBeGreaterThanOrEqual(60);
  }, 120_000);

  it("refuses every IDX pair as 'Open IDX data…' would read it", async () => {
    const cases = corpus.idx.filter((c) => c.browser);
    for (const c of cases) {
      const [images, labels] = await Promise.all([readFile(c.images), readFile(c.labels)]);
      const read = datasetFromIdxFiles(new Uint8Array(images), new Uint8Array(labels), c.id).then(
        (data) => checkDatasetFits(data, 784),
      );
      tally.add('idx', c.category, c.id, await refusal(read, 'invalid-data-file'));
    }
    const failures = cases.flatMap((c) =>
      tally.failures('idx', c.category).filter((f) => f.startsWith(`${c.id}:`)),
    );
    expect(failures).toEqual([]);
    expect(cases.length).toBeGreaterThanOrEqual(20);
  }, 120_000);

  it('still opens the shipped model from the same files (the refusals are not blanket)', async () => {
    const loader = createModelLoader({ baseUrl: '/models/' });
    const dir = join(corpus.goodModel);
    const files = await Promise.all(
      ['model.json', 'weights.bin'].map(
        async (name) => new File([new Uint8Array(await readFile(join(dir, name)))], name),
      ),
    );
    const { dense } = await loader.loadFiles(files);
    expect(dense.network.layers.map((l) => l.weights.rows)).toEqual([128, 10]);
    // A UTF-8 byte-order mark (a Windows editor's) is not an error, in the CLI's parser either.
    const bom = new File(['\ufeff', await files[0].text()], 'model.json');
    const again = await loader.loadFiles([bom, files[1]]);
    expect(again.dense.name).toBe(dense.name);
    const parsed = await modelFromFiles(
      `\ufeff${await files[0].text()}`,
      new Uint8Array(await files[1].arrayBuffer()),
    );
    expect(parsed.name).toBe(dense.name);
  });
});
