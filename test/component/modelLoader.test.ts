import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { countNonZeroTiles, planTiles } from '../../src/core/tiling/tilePlan';
import { layerSizes } from '../../src/core/model/network';
import { createModelLoader, manifestPaths, parseModelIndex } from '../../src/services/modelLoader';
import { seededModel } from '../fixtures/studio';

// vitest runs from the repository root.
const publicDir = join(process.cwd(), 'public') + '/';

/** fetch over the files in public/ (what vite preview serves), 404 for what is not there. */
async function publicFetch(url: string): Promise<Response> {
  const path = url.replace(/^\//, '');
  try {
    const bytes = await readFile(publicDir + path);
    return new Response(bytes, {
      status: 200,
      headers: {
        'content-type': path.endsWith('.json') ? 'application/json' : 'application/octet-stream',
      },
    });
  } catch {
    return new Response('not found', { status: 404 });
  }
}

describe('model loader', () => {
  it('loads every shipped preset and its HE-PEx twin from public/models (real TF.js files)', async () => {
    const loader = createModelLoader({ baseUrl: '/models/', fetch: publicFetch });
    const index = parseModelIndex(await readFile(publicDir + 'models/index.json', 'utf8'));
    expect(Object.keys(index).sort()).toEqual(['ae', 'cnn', 'dae', 'mlp']);
    for (const preset of Object.keys(index)) {
      const { dense, twin } = await loader.loadPreset(preset);
      expect(twin, preset).not.toBeNull();
      expect(layerSizes(twin!.network)).toEqual(layerSizes(dense.network));
      const tile = twin!.tile!;
      const plan = planTiles(layerSizes(dense.network), tile);
      const nonZero = (masks: NonNullable<typeof twin>['masks']) =>
        plan.layers.reduce((s, t, l) => s + countNonZeroTiles(masks![l], t), 0);
      // The twin really is pruned into fewer tiles; its masks match its zero weights.
      expect(nonZero(twin!.masks), preset).toBeLessThan(plan.weightTiles);
      twin!.network.layers.forEach((layer, l) => {
        for (let k = 0; k < layer.weights.data.length; k += 97)
          if (!twin!.masks![l].data[k]) expect(layer.weights.data[k]).toBe(0);
      });
    }
  });

  it('says in words when a preset is not installed or a file is missing', async () => {
    const missing = createModelLoader({
      baseUrl: '/models/',
      fetch: async (url) =>
        url.endsWith('index.json') ? publicFetch(url) : new Response('', { status: 404 }),
    });
    await expect(missing.loadPreset('ae')).rejects.toThrow(
      /missing: \/models\/ae\/model\.json was not found/,
    );
    await expect(missing.loadPreset('lenet')).rejects.toThrow(
      /No model files are installed for the preset "lenet"/,
    );
    await expect(missing.loadPreset('../etc')).rejects.toThrow(/not a preset name/);
  });

  it('opens model.json + weights.bin files and rejects a hostile manifest path', async () => {
    const loader = createModelLoader({ fetch: publicFetch });
    const json = await readFile(publicDir + 'models/mlp/model.json');
    const bin = await readFile(publicDir + 'models/mlp/weights.bin');
    const { dense } = await loader.loadFiles([
      new File([bin], 'weights.bin'),
      new File([json], 'model.json'),
    ]);
    expect(layerSizes(dense.network)).toEqual([784, 128, 10]);
    expect(() =>
      manifestPaths(JSON.stringify({ weightsManifest: [{ paths: ['../../secret.bin'] }] })),
    ).toThrow(/plain file name/);
    await expect(loader.loadFiles([new File([bin], 'weights.bin')])).rejects.toThrow(
      /Open a model.json/,
    );
    expect(() => parseModelIndex('{"presets": {"x": {"dense": "../x"}}}')).toThrow(
      /"dense" directory/,
    );
  });

  it('exports with the weights file named as asked, and opens it again by that name', async () => {
    const loader = createModelLoader({ fetch: publicFetch });
    const model = seededModel([16, 8, 4], 2, 'named export');
    const name = 'named-export_trained-s0_4x8_12ct_0123abcd.weights.bin';
    const { modelJson, weights } = await loader.exportModel(model, name);
    expect(manifestPaths(modelJson)).toEqual([name]);
    // Three files: only the manifest's name can tell which one holds the weights.
    const { dense } = await loader.loadFiles([
      new File([new Uint8Array(weights.length)], 'decoy.bin'),
      new File([modelJson], 'named-export_trained-s0_4x8_12ct_0123abcd.model.json'),
      new File([weights as Uint8Array<ArrayBuffer>], name),
    ]);
    expect(dense.name).toBe('named export');
    expect(Array.from(dense.network.layers[1].weights.data)).toEqual(
      Array.from(model.network.layers[1].weights.data),
    );
    await expect(loader.exportModel(model, '../weights.bin')).rejects.toThrow(/plain file name/);
    // Without a name: the TF.js default, as before.
    expect(manifestPaths((await loader.exportModel(model)).modelJson)).toEqual(['weights.bin']);
  });
});
