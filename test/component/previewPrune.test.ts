import { describe, expect, it } from 'vitest';
import { kernelMask } from '../../src/core/model/convMasks';
import { kernelOf } from '../../src/core/model/conv';
import { layerSizes, validateNetwork } from '../../src/core/model/network';
import { pruneAndExpand, selectTilesByDensity } from '../../src/core/prune/expand';
import { magnitudePrune } from '../../src/core/prune/magnitudePrune';
import { tileMask } from '../../src/core/prune/tilePrune';
import { countTileNonZeros, planTiles } from '../../src/core/tiling/tilePlan';
import { createTileShape } from '../../src/core/tiling/tileShape';
import {
  buildMagnitudeRanks,
  magnitudeMasksFromRanks,
  previewFromRanks,
} from '../../src/core/prune/magnitudeRanks';
import { analyse } from '../../src/core/analysis/studioAnalysis';
import { seededCnn, seededNetwork } from '../fixtures/studio';

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

describe('slider-speed previews of a convolution (tied over positions)', () => {
  const cnn = seededCnn(11);
  const conv = cnn.layers[0];
  if (conv.kind !== 'conv') throw new Error('seededCnn starts with a convolution');
  const g = conv.geometry;
  const tile = createTileShape(4, 8, { ringDegree: 8192 });
  const plan = planTiles(layerSizes(cnn), tile);

  for (const scope of ['local', 'global'] as const) {
    it(`masks and counts equal core's magnitudePrune / pruneAndExpand, ${scope}`, () => {
      const ranks = buildMagnitudeRanks(cnn);
      // The kernel is ranked once (filters x k*k*C), not the 512 x 1024 expanded layer.
      expect(ranks.local[0].length).toBe(g.filters * g.kernel * g.kernel);
      for (const sparsity of [0, 0.3, 0.8, 0.95]) {
        const magnitude = magnitudePrune(cnn, { sparsity, scope });
        const fromRanks = magnitudeMasksFromRanks(cnn, ranks, sparsity, scope);
        fromRanks.forEach((m, l) =>
          expect(m.data, `layer ${l} at ${sparsity}`).toEqual(magnitude[l].data),
        );
        for (const theta of [null, 0, 0.25]) {
          const got = previewFromRanks(cnn, ranks, plan, sparsity, scope, theta);
          const expected =
            theta === null
              ? magnitude
              : pruneAndExpand(cnn, cnn, magnitude, tile, { theta, scope }).masks;
          const at = `sparsity ${sparsity}, theta ${theta}`;
          got.masks.forEach((m, l) => {
            expect(m.data, `layer ${l}, ${at}`).toEqual(expected[l].data);
            expect(got.counts[l], `layer ${l} counts, ${at}`).toEqual(
              countTileNonZeros(expected[l], plan.layers[l]),
            );
          });
          // Tied: validateNetwork's checkTied refuses a kernel weight pruned at some positions only.
          expect(() => validateNetwork(got.network)).not.toThrow();
          const kernelKept = kernelMask(g, got.masks[0]);
          const w = kernelOf(got.network.layers[0] as typeof conv).kernel;
          const src = kernelOf(conv).kernel;
          for (let k = 0; k < w.length; k++) expect(w[k]).toBe(kernelKept.data[k] ? src[k] : 0);
        }
      }
    });
  }

  it('shows the kernel block whose tiles x positions are the cost model count', () => {
    const ranks = buildMagnitudeRanks(cnn);
    for (const [sparsity, theta] of [
      [0, null],
      [0.7, null],
      [0.9, 0.1],
    ] as const) {
      const got = previewFromRanks(cnn, ranks, plan, sparsity, 'local', theta);
      const a = analyse({ network: got.network, masks: got.masks }, tile, got.counts);
      const k = a.kernels[0]!;
      expect(k.tiling.outputs).toBe(g.filters);
      expect(k.tiling.inputs).toBe(g.patchWidth);
      expect(k.tiling.orientation).toBe(plan.layers[0].orientation);
      expect(k.positions).toBe(64);
      // Padding columns are never kept.
      for (let f = 0; f < g.filters; f++)
        for (let j = 9; j < g.patchWidth; j++) expect(k.mask[f * g.patchWidth + j]).toBe(0);
      expect(k.nonZeroTiles * k.positions).toBe(a.cost.layers[0].nonZeroWeightTiles);
      expect(a.kernels.slice(1)).toEqual([null, null]);
    }
  });

  it('is fast enough for a slider on the MNIST CNN 28x28, conv 5x5/2 x8 -> 64 -> 10 (prints the time)', () => {
    const big = seededCnn(1, { height: 28, width: 28, kernel: 5, stride: 2, filters: 8 }, 64);
    const bigPlan = planTiles(layerSizes(big), createTileShape(4, 8));
    let t = performance.now();
    const ranks = buildMagnitudeRanks(big);
    const build = performance.now() - t;
    const times: number[] = [];
    let kept = 0;
    for (let i = 0; i < 5; i++) {
      t = performance.now();
      const p = previewFromRanks(big, ranks, bigPlan, 0.5 + i / 20, 'local', 0.0625);
      const a = analyse({ network: p.network, masks: p.masks }, bigPlan.tile, p.counts);
      times.push(performance.now() - t);
      kept = a.kernels[0]!.nonZeroTiles;
    }
    times.sort((x, y) => x - y);
    console.log(
      `CNN 1152x4608 conv + 64 + 10: ranks ${build.toFixed(1)} ms once, HE-PEx preview + analysis per slider move ${times[2].toFixed(1)} ms median`,
    );
    expect(kept).toBeGreaterThan(0);
  });
});
