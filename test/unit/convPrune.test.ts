import { describe, expect, it } from 'vitest';
import { LINEAR, SQUARE } from '../../src/core/model/activation';
import { checkTied, convGeometry, convLayer, im2col, outputSize } from '../../src/core/model/conv';
import { expandPatchOrder } from '../../src/core/model/convOrders';
import { kernelMask } from '../../src/core/model/convMasks';
import { HepexError } from '../../src/core/model/errors';
import { countOnes, createMatrix, type Mask } from '../../src/core/model/matrix';
import {
  convolutionOf,
  forward,
  forwardDenseView,
  validateNetwork,
  type ConvLayer,
  type Network,
} from '../../src/core/model/network';
import { permuteRows, unpermuteRows } from '../../src/core/model/permutation';
import { maskNetwork } from '../../src/core/prune/common';
import { runPipeline } from '../../src/core/prune/pipeline';
import { pruneAndExpand } from '../../src/core/prune/expand';
import { magnitudePrune } from '../../src/core/prune/magnitudePrune';
import { findPermutation } from '../../src/core/prune/permute';
import { applyPermutation, nonZeroTilesPerLayer } from '../../src/core/prune/applyPermutation';
import { tilePrune } from '../../src/core/prune/tilePrune';
import { createRng } from '../../src/core/model/random';
import { countNonZeroTiles, planTiles } from '../../src/core/tiling/tilePlan';
import { createTileShape } from '../../src/core/tiling/tileShape';
import type { Trainer } from '../../src/core/model/trainer';
import { sameAsSnapshot, snapshot } from '../fixtures/pruning';

// A small CNN: 8 x 8 x 1 images, 3 x 3 kernel, stride 1, 8 filters (36 positions, patches
// 9 -> 16), square, dense 288 -> 16 (square), dense 16 -> 10. Tiles 4 x 8 with layer 0 in B
// (blockOut 8, blockIn 4: 8 filters and 16 patch columns are whole numbers of blocks).
const G = convGeometry({ height: 8, width: 8, channels: 1, kernel: 3, stride: 1, filters: 8 });
const P = outputSize(G).positions;
const TILE = createTileShape(4, 8, { first: 'B' });

function cnn(seed = 5): Network {
  const rng = createRng(seed);
  const normal = (n: number, std: number) =>
    Float32Array.from({ length: n }, () => rng.normal() * std);
  const dense = (rows: number, cols: number, act = LINEAR) => ({
    kind: 'dense' as const,
    weights: createMatrix(rows, cols, normal(rows * cols, 1 / Math.sqrt(cols))),
    bias: normal(rows, 0.1),
    activation: act,
  });
  return validateNetwork({
    task: 'classification',
    layers: [
      convLayer(G, normal(72, 1 / 3), normal(8, 0.1), SQUARE),
      dense(16, P * 8, SQUARE),
      dense(10, 16),
    ],
  });
}

const convOf = (n: Network): ConvLayer => {
  const first = n.layers[0];
  if (first.kind !== 'conv') throw new Error('layer 1 is the conv');
  return first;
};
const zeros = (m: Mask) => m.data.length - countOnes(m);

describe('conv-aware pruning keeps the kernel tied', () => {
  it('magnitude: local counts each kernel weight once; global weighs it by positions', () => {
    const net = cnn();
    const snap = snapshot(net);
    const local = magnitudePrune(net, { sparsity: 0.5, scope: 'local' });
    expect(sameAsSnapshot(net, snap)).toBe(true);
    expect(local[0].rows).toBe(P * 8);
    expect(local[0].cols).toBe(P * 16);
    expect(zeros(kernelMask(G, local[0]))).toBe(36); // round(0.5 x 72)
    expect(countOnes(local[0])).toBe(P * 36); // the same 36 kept at every position
    expect(zeros(local[1])).toBe(Math.round(0.5 * 16 * P * 8));
    const pruned = maskNetwork(net, local);
    expect(() => checkTied(convOf(pruned))).not.toThrow();

    const global = magnitudePrune(net, { sparsity: 0.7, scope: 'global' });
    // Dense-view weights: the kernel's 72 count 36 times each, the dense layers once.
    const total = 72 * P + 16 * P * 8 + 160;
    const prunedCopies = zeros(kernelMask(G, global[0])) * P + zeros(global[1]) + zeros(global[2]);
    expect(Math.abs(prunedCopies - Math.round(0.7 * total))).toBeLessThanOrEqual(P / 2);
    expect(() => validateNetwork(maskNetwork(net, global))).not.toThrow();
  });

  it('tile pruning drops kernel tiles, each one a tile at every position', () => {
    const net = cnn();
    const plan = planTiles([P * 16, P * 8, 16, 10], TILE);
    expect([plan.layers[0].blockOut, plan.layers[0].blockIn]).toEqual([8, 4]);
    // Kernel tiles: 1 filter block x ceil(9 / 4) = 3 column blocks; local 0.5 drops round(1.5) = 2.
    const { masks, keepTiles } = tilePrune(net, TILE, {
      tileSparsity: 0.5,
      scope: 'local',
      score: 'l1',
    });
    expect(countNonZeroTiles(masks[0], plan.layers[0])).toBe(P * 1);
    expect(keepTiles[0].reduce((s, v) => s + v, 0)).toBe(P * 1);
    expect(keepTiles[0].length).toBe(plan.layers[0].tileCount);
    expect(() => validateNetwork(maskNetwork(net, masks))).not.toThrow();
    const global = tilePrune(net, TILE, { tileSparsity: 0.6, scope: 'global', score: 'max' });
    expect(() => validateNetwork(maskNetwork(net, global.masks))).not.toThrow();
  });

  it('theta + expansion judges kernel tiles and restores them tied from the dense weights', () => {
    const net = cnn();
    const masks = magnitudePrune(net, { sparsity: 0.8, scope: 'local' });
    const pruned = maskNetwork(net, masks);
    const res = pruneAndExpand(pruned, net, masks, TILE, { theta: 0.1, scope: 'global' });
    const conv = convOf(res.network);
    expect(() => checkTied(conv)).not.toThrow();
    const kept = kernelMask(G, res.masks[0]);
    // Every kept kernel weight is back at its dense value, at every position.
    const dense = convOf(net).weights;
    let wrong = 0;
    for (let k = 0; k < res.masks[0].data.length; k++) {
      if (conv.weights.data[k] !== (res.masks[0].data[k] ? dense.data[k] : 0)) wrong++;
    }
    expect(wrong).toBe(0);
    expect(res.keptTiles[0] % P).toBe(0);
    expect(res.keptTiles[0]).toBeGreaterThan(0);
    expect(res.keptTiles[0]).toBe(
      countNonZeroTiles(res.masks[0], planTiles([P * 16, P * 8, 16, 10], TILE).layers[0]),
    );
    expect(countOnes(kept)).toBeGreaterThan(0);
  });

  it('a tile budget counts a kernel tile once per position and keeps every layer a tile', () => {
    const net = cnn();
    const masks = magnitudePrune(net, { sparsity: 0.5, scope: 'local' });
    const pruned = maskNetwork(net, masks);
    // The least budget: one kernel tile (P tiles) + one tile in each dense layer.
    expect(() => pruneAndExpand(pruned, net, masks, TILE, { theta: 0, maxTiles: P + 1 })).toThrow(
      /at least 38 \(one tile per layer, a convolution's counted once per output position\)/,
    );
    const res = pruneAndExpand(pruned, net, masks, TILE, { theta: 0, maxTiles: P + 6 });
    expect(res.keptTiles[0]).toBe(P);
    expect(res.keptTiles[1]).toBeGreaterThan(0);
    expect(res.keptTiles[2]).toBeGreaterThan(0);
    expect(res.keptTiles.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(P + 6);
    expect(() => checkTied(convOf(res.network))).not.toThrow();
  });

  it('permutation: filters and patch values move together at every position; function preserved', () => {
    const net = cnn();
    const masks = magnitudePrune(net, { sparsity: 0.8, scope: 'local' });
    const pruned = maskNetwork(net, masks);
    const search = findPermutation(masks, TILE, { conv: convolutionOf(pruned), seed: 3 });
    expect(search.nonZeroTilesAfter).toBeLessThanOrEqual(search.nonZeroTilesBefore);
    const applied = applyPermutation(pruned, search.orders, masks);
    expect(() => validateNetwork(applied.network)).not.toThrow(); // still tied
    expect(nonZeroTilesPerLayer(applied.masks!, TILE).reduce((a, b) => a + b, 0)).toBe(
      search.nonZeroTilesAfter,
    );
    applied.masks!.forEach((m, l) =>
      expect([m.rows, m.cols]).toEqual([masks[l].rows, masks[l].cols]),
    );
    // The client: raw images -> im2col -> input order; outputs: order undone.
    const images = Float32Array.from({ length: 3 * 64 }, (_, k) => ((k * 37) % 101) / 101);
    const want = forward(pruned, images, 3);
    const packed = permuteRows(im2col(G, images, 3), applied.permutation.input, 3);
    const got = unpermuteRows(
      forwardDenseView(applied.network, packed, 3),
      applied.permutation.output,
      3,
    );
    for (let k = 0; k < want.length; k++) expect(Math.abs(got[k] - want[k])).toBeLessThan(1e-5);
  });

  it('refuses untied orders, a conv that is not first, a NaN kernel: typed errors, network untouched', () => {
    const net = cnn();
    const snap = snapshot(net);
    const rng = createRng(9);
    const shuffled = (n: number) => {
      const o = Uint32Array.from({ length: n }, (_, k) => k);
      for (let k = n - 1; k > 0; k--) {
        const j = Math.floor(rng.next() * (k + 1));
        [o[k], o[j]] = [o[j], o[k]];
      }
      return o;
    };
    const identity = (n: number) => Uint32Array.from({ length: n }, (_, k) => k);
    // Moving patch values between positions would untie the kernel.
    expect(() =>
      applyPermutation(net, [shuffled(P * 16), identity(P * 8), identity(16), identity(10)]),
    ).toThrow(HepexError);
    expect(() =>
      applyPermutation(net, [
        expandPatchOrder(G, shuffled(9)),
        shuffled(P * 8),
        identity(16),
        identity(10),
      ]),
    ).toThrow(/order of a convolution's outputs/);
    const late: Network = {
      task: 'classification',
      layers: [net.layers[1], net.layers[2], net.layers[0]],
    };
    expect(() => magnitudePrune(late, { sparsity: 0.5 })).toThrow(HepexError);
    const nanKernel = Float32Array.from(convOf(net).weights.data);
    nanKernel[P * 16 * 3 + 2] = Number.NaN; // row (p0, f3), kernel column 2
    const bad: Network = {
      ...net,
      layers: [
        { ...convOf(net), weights: { ...convOf(net).weights, data: nanKernel } },
        ...net.layers.slice(1),
      ],
    };
    expect(() => tilePrune(bad, TILE, { tileSparsity: 0.5 })).toThrow(/weight .* is NaN/);
    expect(sameAsSnapshot(net, snap)).toBe(true);
  });

  it('runs the HE-PEx pipeline (prune, permute, expand) on a CNN: tied throughout, permutation keeps the metric', async () => {
    const teacher = cnn();
    const images = Float32Array.from({ length: 16 * 64 }, (_, k) => ((k * 53) % 97) / 97);
    const target = forward(teacher, images, 16);
    // Evaluation only (the steps hold no training): MSE to the unpruned CNN on raw images.
    const trainer: Trainer = {
      fineTune: () => Promise.reject(new Error('no training step here')),
      evaluate: async (network) => {
        const y = forward(network, images, 16);
        return {
          name: 'mse',
          value: y.reduce((acc, v, k) => acc + (v - target[k]) ** 2, 0) / y.length,
        };
      },
    };
    const res = await runPipeline({ network: teacher }, trainer, {
      tile: TILE,
      steps: [
        { kind: 'prune', sparsity: 0.8, scope: 'global' },
        { kind: 'permute', seed: 2 },
        { kind: 'expand', theta: 0.1, scope: 'global' },
      ],
    });
    expect(() => validateNetwork(res.network)).not.toThrow();
    const [start, pruned, permuted, expanded] = res.records;
    // Figures count the kernel copies, not the structural zeros between positions.
    expect(start.sparsity).toBe(0);
    expect(start.layers[0].weights).toBe(P * 72);
    expect(start.layers[0].tiles).toBe(P * 1 * 3);
    expect(start.weightTiles).toBe(start.nonZeroTiles);
    expect(pruned.sparsity).toBeCloseTo(0.8, 2);
    expect(permuted.metric!.value).toBeCloseTo(pruned.metric!.value, 9);
    expect(permuted.nonZeroTiles).toBeLessThanOrEqual(pruned.nonZeroTiles);
    expect(expanded.weightCiphertexts).toBeLessThan(start.weightCiphertexts);
    expect(res.permutation.input.length).toBe(P * 16);
    expect(res.masks[0].rows).toBe(P * 8);
  });
});
