// Seeded networks for the HE tests (legitimate for HE correctness: the runtime must match the
// plaintext forward pass on any weights).
import type { Activation } from '../../src/core/model/activation';
import type { Network, Task } from '../../src/core/model/network';
import type { NetworkPermutation } from '../../src/core/model/permutation';
import { createRng, shuffleInPlace } from '../../src/core/model/random';
import type { LayerTiling, TilePlan } from '../../src/core/tiling/tilePlan';

export function randomNetwork(
  sizes: readonly number[],
  activations: readonly Activation[],
  seed: number,
  task: Task = 'classification',
): Network {
  const rng = createRng(seed);
  return {
    task,
    layers: sizes.slice(1).map((rows, l) => {
      const cols = sizes[l];
      // Scaled so activations stay O(1) on inputs in [0, 1].
      const std = 1 / Math.sqrt(cols);
      return {
        kind: 'dense' as const,
        weights: {
          rows,
          cols,
          data: Float32Array.from({ length: rows * cols }, () => rng.normal() * std),
        },
        bias: Float32Array.from({ length: rows }, () => rng.normal() * 0.1),
        activation: activations[l],
      };
    }),
  };
}

/** Zeroes tile (o, i) of layer l (W frame) in place. */
export function zeroTile(network: Network, tiling: LayerTiling, o: number, i: number): void {
  const { cols, data } = network.layers[tiling.layerIndex].weights;
  for (let r = o * tiling.blockOut; r < Math.min(tiling.outputs, (o + 1) * tiling.blockOut); r++) {
    for (let c = i * tiling.blockIn; c < Math.min(tiling.inputs, (i + 1) * tiling.blockIn); c++)
      data[r * cols + c] = 0;
  }
}

/**
 * Tile-prunes a network the HE-PEx way (whole tiles zero), seeded: each tile is dropped with
 * probability `drop`, and in the first layer tile row 0 is dropped entirely, so its output
 * block becomes a public constant the next layer's bias must absorb.
 */
export function tilePrune(network: Network, plan: TilePlan, drop: number, seed: number): Network {
  const rng = createRng(seed);
  const copy: Network = {
    task: network.task,
    layers: network.layers.map((l) => ({
      ...l,
      weights: { ...l.weights, data: Float32Array.from(l.weights.data) },
      bias: Float32Array.from(l.bias),
    })),
  };
  plan.layers.forEach((t) => {
    for (let o = 0; o < t.outBlocks; o++) {
      for (let i = 0; i < t.inBlocks; i++) {
        if ((t.layerIndex === 0 && o === 0) || rng.next() < drop) zeroTile(copy, t, o, i);
      }
    }
  });
  return copy;
}

export function randomPermutation(sizes: readonly number[], seed: number): NetworkPermutation {
  const rng = createRng(seed);
  const order = (n: number) =>
    shuffleInPlace(
      Uint32Array.from({ length: n }, (_, k) => k),
      rng,
    );
  return { input: order(sizes[0]), output: order(sizes[sizes.length - 1]) };
}

/** Normalized inputs in [0, 1], samples x width. */
export function randomInputs(samples: number, width: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: samples * width }, () => rng.next());
}

export const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k] - b[k]));
  return m;
};
