import { LINEAR, SQUARE } from '../../src/core/model/activation';
import { convGeometry, convLayer } from '../../src/core/model/conv';
import type { HepexModel } from '../../src/core/io/model';
import type { ConvGeometry, Network } from '../../src/core/model/network';
import { createRng } from '../../src/core/model/random';
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

/**
 * A seeded conv-first classifier: a tied convolution (default 10 x 10 x 1 image, 3 x 3 kernel,
 * stride 1, 8 filters: 64 positions, 9 kernel values padded to 16) -> dense `hidden` -> 10.
 */
export function seededCnn(
  seed = 7,
  geometry: Partial<Omit<ConvGeometry, 'patchWidth'>> = {},
  hidden = 32,
): Network {
  const g = convGeometry({
    height: 10,
    width: 10,
    channels: 1,
    kernel: 3,
    stride: 1,
    filters: 8,
    ...geometry,
  });
  const rng = createRng(seed);
  const kkc = g.kernel * g.kernel * g.channels;
  const kernel = new Float32Array(g.filters * kkc);
  for (let k = 0; k < kernel.length; k++) kernel[k] = rng.normal() / Math.sqrt(kkc);
  const bias = new Float32Array(g.filters);
  for (let k = 0; k < bias.length; k++) bias[k] = 0.01 * rng.normal();
  const conv = convLayer(g, kernel, bias, SQUARE);
  const dense = seededNetwork([conv.weights.rows, hidden, 10], seed + 1);
  return { task: 'classification', layers: [conv, ...dense.layers] };
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
