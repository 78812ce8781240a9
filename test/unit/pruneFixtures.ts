import { LINEAR, SQUARE } from '../../src/core/activation';
import type { Mask } from '../../src/core/matrix';
import type { Network, Task } from '../../src/core/network';
import { createRng, type Rng } from '../../src/core/random';

/** Small random networks and masks for the pruning tests (seeded, so failures reproduce). */
export function randomNetwork(
  sizes: readonly number[],
  seed: number,
  task: Task = 'classification',
): Network {
  const rng = createRng(seed);
  return {
    task,
    layers: sizes.slice(1).map((rows, l) => {
      const cols = sizes[l];
      const data = new Float32Array(rows * cols);
      for (let k = 0; k < data.length; k++) data[k] = rng.normal() / Math.sqrt(cols);
      const bias = new Float32Array(rows);
      for (let k = 0; k < rows; k++) bias[k] = 0.1 * rng.normal();
      return {
        kind: 'dense' as const,
        weights: { rows, cols, data },
        bias,
        activation: l < sizes.length - 2 ? SQUARE : LINEAR,
      };
    }),
  };
}

/** Masks keeping each weight with probability `density`. */
export function randomMasks(sizes: readonly number[], density: number, rng: Rng): Mask[] {
  return sizes.slice(1).map((rows, l) => {
    const cols = sizes[l];
    const data = new Uint8Array(rows * cols);
    for (let k = 0; k < data.length; k++) data[k] = rng.next() < density ? 1 : 0;
    return { rows, cols, data };
  });
}

/** A deep snapshot of a network's arrays, to check a function left its input untouched. */
export function snapshot(network: Network): Float32Array[] {
  return network.layers.flatMap((l) => [
    Float32Array.from(l.weights.data),
    Float32Array.from(l.bias),
  ]);
}

export function sameAsSnapshot(network: Network, snap: readonly Float32Array[]): boolean {
  const now = snapshot(network);
  return (
    now.length === snap.length &&
    now.every((a, i) => a.length === snap[i].length && a.every((v, k) => Object.is(v, snap[i][k])))
  );
}
