import { describe, expect, it } from 'vitest';
import { SQUARE } from '../../src/core/model/activation';
import { modelFromFiles } from '../../src/core/io/layersModelFile';
import { modelToFiles } from '../../src/engines/tfjs/modelFiles';

// A fresh module realm where nothing set up a tfjs backend before: export must do it itself
// (tfjs refuses every op while the registered WASM backend is not initialised).
describe('model files without prior backend set-up', () => {
  it('exports and re-imports', async () => {
    const network = {
      task: 'classification' as const,
      layers: [
        {
          kind: 'dense' as const,
          weights: { rows: 2, cols: 3, data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
          bias: Float32Array.from([0.5, -0.5]),
          activation: SQUARE,
        },
        {
          kind: 'dense' as const,
          weights: { rows: 1, cols: 2, data: Float32Array.from([1, -1]) },
          bias: new Float32Array(1),
          activation: { type: 'linear' as const },
        },
      ],
    };
    const files = await modelToFiles({ name: 'standalone', network });
    const back = await modelFromFiles(files.modelJson, files.weights);
    expect(Array.from(back.network.layers[0].weights.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(back.network.layers[0].activation).toEqual(SQUARE);
  });
});
