import { describe, expect, it } from 'vitest';
import { magnitudePrune } from '../../src/core/prune/magnitudePrune';
import { buildMagnitudeRanks, magnitudeMasksFromRanks } from '../../src/store/previewPrune';
import { seededNetwork } from './fixtures';

describe('slider-speed magnitude masks', () => {
  const network = seededNetwork([48, 40, 12, 40, 48], 3);
  // Ties: repeated magnitudes (and signs) must be broken by index exactly as magnitudePrune does.
  const tied = seededNetwork([16, 8, 16], 5);
  for (const layer of tied.layers) for (let k = 0; k < layer.weights.data.length; k += 3) layer.weights.data[k] = k % 2 ? 0.25 : -0.25;

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
          got.forEach((m, l) => expect(Array.from(m.data), `layer ${l} at ${sparsity}`).toEqual(Array.from(expected[l].data)));
        }
      });
    }
  }

  it('is fast enough for a slider on 784-256-64-256-784 (prints the time)', () => {
    const big = seededNetwork([784, 256, 64, 256, 784], 1);
    let t = performance.now();
    const ranks = buildMagnitudeRanks(big);
    const build = performance.now() - t;
    t = performance.now();
    const masks = magnitudeMasksFromRanks(big, ranks, 0.9, 'global');
    const perMove = performance.now() - t;
    console.log(`magnitude ranks: build ${build.toFixed(1)} ms once, mask per slider move ${perMove.toFixed(2)} ms`);
    const kept = masks.reduce((s, m) => s + m.data.reduce((a, b) => a + b, 0), 0);
    expect(kept).toBe(ranks.total - Math.round(0.9 * ranks.total));
  });
});
