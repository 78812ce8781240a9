import { describe, expect, it } from 'vitest';
import { layerSizes } from '../../src/core/network';
import { selectTilesByDensity } from '../../src/core/prune/expand';
import { magnitudePrune } from '../../src/core/prune/magnitudePrune';
import { tileMask } from '../../src/core/prune/tilePrune';
import { countTileNonZeros, planTiles } from '../../src/core/tilePlan';
import { createTileShape } from '../../src/core/tileShape';
import {
  buildMagnitudeRanks,
  magnitudeMasksFromRanks,
  previewFromRanks,
} from '../../src/store/previewPrune';
import { seededNetwork } from './fixtures';

describe('slider-speed magnitude masks', () => {
  const network = seededNetwork([48, 40, 12, 40, 48], 3);
  // Ties: repeated magnitudes (and signs) must be broken by index exactly as magnitudePrune does.
  const tied = seededNetwork([16, 8, 16], 5);
  for (const layer of tied.layers)
    for (let k = 0; k < layer.weights.data.length; k += 3)
      layer.weights.data[k] = k % 2 ? 0.25 : -0.25;

  for (const [name, net] of [
    ['random', network],
    ['with ties', tied],
  ] as const) {
    for (const scope of ['local', 'global'] as const) {
      it(`equals magnitudePrune (${name}, ${scope}) at every tested sparsity`, () => {
        const ranks = buildMagnitudeRanks(net);
        for (const sparsity of [0, 0.1, 0.33, 0.5, 0.9, 0.97]) {
          const expected = magnitudePrune(net, { sparsity, scope });
          const got = magnitudeMasksFromRanks(net, ranks, sparsity, scope);
          got.forEach((m, l) =>
            expect(Array.from(m.data), `layer ${l} at ${sparsity}`).toEqual(
              Array.from(expected[l].data),
            ),
          );
        }
      });
    }
  }

  for (const scope of ['local', 'global'] as const) {
    it(`fused preview equals magnitudePrune (+ selectTilesByDensity + tileMask for HE-PEx), ${scope}`, () => {
      const tile = createTileShape(4, 8, { ringDegree: 8192 });
      const plan = planTiles(layerSizes(network), tile);
      const ranks = buildMagnitudeRanks(network);
      for (const sparsity of [0.3, 0.8, 0.95]) {
        const magnitude = magnitudePrune(network, { sparsity, scope });
        for (const theta of [null, 0, 0.0625, 0.3]) {
          const got = previewFromRanks(network, ranks, plan, sparsity, scope, theta);
          const expected =
            theta === null
              ? magnitude
              : selectTilesByDensity(network, magnitude, tile, { theta, scope }).map((keep, l) =>
                  tileMask(plan.layers[l], keep),
                );
          got.masks.forEach((m, l) => {
            expect(m.data, `layer ${l}, sparsity ${sparsity}, theta ${theta}`).toEqual(
              expected[l].data,
            );
            expect(got.counts[l]).toEqual(countTileNonZeros(expected[l], plan.layers[l]));
            const w = got.network.layers[l].weights.data;
            const src = network.layers[l].weights.data;
            for (let k = 0; k < w.length; k++) expect(w[k]).toBe(m.data[k] ? src[k] : 0);
          });
        }
      }
    });
  }

  it('is fast enough for a slider on 784-256-64-256-784 (prints the time)', () => {
    const big = seededNetwork([784, 256, 64, 256, 784], 1);
    let t = performance.now();
    const ranks = buildMagnitudeRanks(big);
    const build = performance.now() - t;
    t = performance.now();
    const masks = magnitudeMasksFromRanks(big, ranks, 0.9, 'global');
    const perMove = performance.now() - t;
    const plan = planTiles(layerSizes(big), createTileShape(4, 8));
    t = performance.now();
    previewFromRanks(big, ranks, plan, 0.9, 'global', 0.0625);
    const fused = performance.now() - t;
    console.log(
      `magnitude ranks: build ${build.toFixed(1)} ms once, mask per slider move ${perMove.toFixed(2)} ms, fused HE-PEx preview (mask + weights + counts) ${fused.toFixed(2)} ms`,
    );
    const kept = masks.reduce((s, m) => s + m.data.reduce((a, b) => a + b, 0), 0);
    expect(kept).toBe(ranks.total - Math.round(0.9 * ranks.total));
  });
});
