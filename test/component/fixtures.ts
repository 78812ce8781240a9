import { LINEAR, SQUARE } from '../../src/core/activation';
import type { HepexModel } from '../../src/core/model';
import type { Network } from '../../src/core/network';
import { createRng } from '../../src/core/random';
import type { LoadedModels, ModelLoader } from '../../src/services/modelLoader';

/** A seeded network with Gaussian weights (not trained: the store and painters only need shapes and values). */
export function seededNetwork(sizes: readonly number[], seed = 7): Network {
  const rng = createRng(seed);
  return {
    task: sizes[0] === sizes.at(-1) ? 'reconstruction' : 'classification',
    layers: sizes.slice(1).map((rows, l) => {
      const cols = sizes[l];
      const data = new Float32Array(rows * cols);
      for (let k = 0; k < data.length; k++) data[k] = rng.normal() / Math.sqrt(cols);
      const bias = new Float32Array(rows);
      for (let k = 0; k < rows; k++) bias[k] = 0.01 * rng.normal();
      return {
        kind: 'dense' as const,
        weights: { rows, cols, data },
        bias,
        activation: l < sizes.length - 2 ? SQUARE : LINEAR,
      };
    }),
  };
}

export function seededModel(sizes: readonly number[], seed = 7, name = 'fixture'): HepexModel {
  return { name, network: seededNetwork(sizes, seed), metrics: { accuracy: 0.9 } };
}

/**
 * An in-memory ModelLoader over fixed models: preset name -> models, with an optional delay
 * per preset so tests can order concurrent loads. Unknown presets fail like missing files.
 */
export function memoryLoader(
  models: Record<string, LoadedModels>,
  delays: Record<string, number> = {},
): ModelLoader & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async loadPreset(preset) {
      calls.push(preset);
      await new Promise((r) => setTimeout(r, delays[preset] ?? 0));
      const m = models[preset];
      if (!m)
        throw new Error(
          `The model files for this preset are missing: models/${preset}/model.json was not found.`,
        );
      return m;
    },
    async loadFiles() {
      throw new Error('not used');
    },
    async exportModel() {
      throw new Error('not used');
    },
  };
}

/** A scheduler the test flushes by hand, counting how many previews actually ran. */
export function manualScheduler() {
  const queue: (() => void)[] = [];
  return {
    schedule: (run: () => void) => void queue.push(run),
    flush: () => {
      const n = queue.length;
      for (const run of queue.splice(0)) run();
      return n;
    },
    get pending() {
      return queue.length;
    },
  };
}
