import { expandKernelMask } from '../model/convMasks';
import { kernelTiling } from '../tiling/convTiling';
import { HepexError } from '../model/errors';
import { applyMask, nonZeroMask, type Mask, type Matrix } from '../model/matrix';
import { layerSizes, type Network } from '../model/network';
import { planTiles, type LayerTiling, type TilePlan } from '../tiling/tilePlan';
import { checkTileShape, type TileShape } from '../tiling/tileShape';
import { geometryOf, ownMask, ownWeights, weightCopies } from '../model/layerKinds';

/**
 * Shared checks and small helpers of the pruning engine. Every check runs before any work, so a
 * bad argument throws a HepexError and leaves the caller's arrays exactly as they were.
 */

/** 'local': each layer meets the target on its own; 'global': one ranking over all layers. */
export type PruneScope = 'local' | 'global';
export const PRUNE_SCOPES: readonly PruneScope[] = ['local', 'global'];

export function checkScope(scope: string): PruneScope {
  if (!(PRUNE_SCOPES as readonly string[]).includes(scope)) {
    throw new HepexError(
      'invalid-argument',
      `The scope is "${scope}"; use "local" (per layer) or "global" (whole network).`,
    );
  }
  return scope as PruneScope;
}

/** A sparsity (fraction of zero weights or of zero tiles) must be in [0, 1): 1 would prune everything. */
export function checkSparsity(sparsity: number, what = 'The sparsity'): number {
  if (typeof sparsity !== 'number' || !Number.isFinite(sparsity) || sparsity < 0 || sparsity >= 1) {
    throw new HepexError(
      'invalid-argument',
      `${what} is ${String(sparsity)}; it must be at least 0 and below 1 (0.9 prunes 90%).`,
    );
  }
  return sparsity;
}

/** A tile density threshold theta must be in [0, 1]. */
export function checkTheta(theta: number): number {
  if (typeof theta !== 'number' || !Number.isFinite(theta) || theta < 0 || theta > 1) {
    throw new HepexError(
      'invalid-argument',
      `The tile density threshold theta is ${String(theta)}; it must be between 0 and 1 (0.0625 drops tiles at most 1/16 full).`,
    );
  }
  return theta;
}

/**
 * Checks a tile budget: a whole number of tiles, at least one tile per layer of `network` (a
 * convolution's kernel tile costs one tile per output position). Without a network: at least 1.
 */
export function checkMaxTiles(maxTiles: number, network?: Network): number {
  let least = 1;
  let conv = false;
  if (network) {
    least = 0;
    for (const layer of network.layers) {
      conv ||= geometryOf(layer) !== undefined;
      least += weightCopies(layer);
    }
  }
  if (
    typeof maxTiles !== 'number' ||
    !Number.isInteger(maxTiles) ||
    maxTiles < least ||
    maxTiles > 1e9
  ) {
    const why = conv
      ? "one tile per layer, a convolution's counted once per output position"
      : 'one tile per layer';
    throw new HepexError(
      'invalid-argument',
      `The tile budget is ${String(maxTiles)}; it must be a whole number of tiles, at least ${least} (${why}).`,
    );
  }
  return maxTiles;
}

/** A group-lasso strength: a number in [0, 1] (0: off; see core/trainer.ts). */
export function checkGroupLasso(strength: number, where = 'The group-lasso strength'): number {
  if (typeof strength !== 'number' || !Number.isFinite(strength) || strength < 0 || strength > 1) {
    throw new HepexError(
      'invalid-argument',
      `${where}: the group-lasso strength is ${String(strength)}; it must be between 0 (off) and 1 (3e-3 suits a classifier, 5e-5 an autoencoder).`,
    );
  }
  return strength;
}

/**
 * Re-validates a tile shape (it may come from a file or a worker message, not from
 * checkTileShape) and returns the network's tile plan in the orientations the HE runtime uses.
 */
export function planFor(network: Network, tile: TileShape): TilePlan {
  return planTiles(layerSizes(network), checkTileShape(tile));
}

/** Checks masks[l] has layer l's weight shape and holds only 0 and 1. */
export function checkMasks(network: Network, masks: readonly Mask[]): void {
  if (!Array.isArray(masks) || masks.length !== network.layers.length) {
    throw new HepexError(
      'invalid-mask',
      `Expected one mask per layer (${network.layers.length}), got ${Array.isArray(masks) ? masks.length : 'none'}.`,
    );
  }
  masks.forEach((mask, l) => {
    const w = network.layers[l].weights;
    if (
      !mask ||
      mask.rows !== w.rows ||
      mask.cols !== w.cols ||
      !(mask.data instanceof Uint8Array) ||
      mask.data.length !== w.rows * w.cols
    ) {
      throw new HepexError(
        'invalid-mask',
        `Layer ${l + 1}: the mask is ${mask?.rows} x ${mask?.cols} but the weights are ${w.rows} x ${w.cols}.`,
      );
    }
    for (let k = 0; k < mask.data.length; k++) {
      if (mask.data[k] > 1) {
        throw new HepexError(
          'invalid-mask',
          `Layer ${l + 1}: mask entry ${k} is ${mask.data[k]}; masks hold only 0 and 1.`,
        );
      }
    }
  });
}

/** Masks of a network's non-zero weights (what a pruned network implies when no masks are kept). */
export function masksOfNonZeros(network: Network): Mask[] {
  return network.layers.map(({ weights }) => nonZeroMask(weights));
}

/** A network with every layer's weights multiplied by its mask (new arrays; biases copied). */
export function maskNetwork(network: Network, masks: readonly Mask[]): Network {
  return {
    task: network.task,
    layers: network.layers.map((layer, l) => ({
      ...layer,
      weights: applyMask(layer.weights, masks[l]),
      bias: Float32Array.from(layer.bias),
    })),
  };
}

/** A deep copy of a network (weights and biases), for results that must not alias inputs. */
export function cloneNetwork(network: Network): Network {
  return {
    task: network.task,
    layers: network.layers.map((layer) => ({
      ...layer,
      weights: {
        rows: layer.weights.rows,
        cols: layer.weights.cols,
        data: Float32Array.from(layer.weights.data),
      },
      bias: Float32Array.from(layer.bias),
    })),
  };
}

/**
 * Indices of the `count` smallest scores, ties broken by lower index first, so results are
 * deterministic. scores.length up to ~10^6 (all weights of a network): sorts an index array.
 */
export function smallestIndices(scores: Float64Array | Float32Array, count: number): Uint32Array {
  const n = scores.length;
  if (count <= 0) return new Uint32Array(0);
  if (count >= n) {
    const all = new Uint32Array(n);
    for (let k = 0; k < n; k++) all[k] = k;
    return all;
  }
  // Threshold from a sorted copy (native typed-array sort, fast), then take everything below it
  // and the first ties at it in index order: exactly `count` entries.
  const sorted = Float64Array.from(scores).sort();
  const threshold = sorted[count - 1];
  let below = 0;
  for (let k = 0; k < n; k++) if (scores[k] < threshold) below++;
  const out = new Uint32Array(count);
  let w = 0;
  let ties = count - below;
  for (let k = 0; k < n && w < count; k++) {
    const s = scores[k];
    if (s < threshold) out[w++] = k;
    else if (s === threshold && ties > 0) {
      out[w++] = k;
      ties--;
    }
  }
  return out;
}

/**
 * What pruning works on in one layer. A dense layer: its weights and mask as they are. A
 * convolution: its kernel (filters x kernel*kernel*channels) and position 0's part of the mask; each kernel weight or tile stands for
 * `copies` (= positions) entries of the layer, and `expand` turns a kernel mask back into the
 * tied layer mask. Pruning the kernel and expanding keeps the weights tied.
 */
export interface PruneView {
  readonly weights: Matrix;
  readonly prior: Mask | undefined;
  readonly copies: number;
  readonly expand: (mask: Mask) => Mask;
}

export function pruneViewOf(network: Network, l: number, prior?: readonly Mask[]): PruneView {
  const layer = network.layers[l];
  const g = geometryOf(layer);
  return {
    weights: ownWeights(layer),
    prior: prior ? ownMask(layer, prior[l]) : undefined,
    copies: weightCopies(layer),
    expand: g ? (m) => expandKernelMask(g, m) : (m) => m,
  };
}

/** The tiling pruning scores and drops in layer l: the plan's, or for a convolution its kernel's. */
export function pruneTilingOf(network: Network, l: number, plan: TilePlan): LayerTiling {
  const layer = network.layers[l];
  return layer.kind === 'conv' ? kernelTiling(layer.geometry, plan.layers[l]) : plan.layers[l];
}

/**
 * Indices of the smallest scores, in ascending (score, index) order, taken while their copies
 * add up to about `target`: an item is taken when at least half its copies fit. With every
 * copy 1 this is smallestIndices(scores, target). scores.length up to ~10^6.
 */
export function smallestByCopies(
  scores: Float64Array | Float32Array,
  copies: Uint32Array,
  target: number,
): Uint32Array {
  let uniform = true;
  for (let k = 0; k < copies.length && uniform; k++) uniform = copies[k] === 1;
  if (uniform) return smallestIndices(scores, target);
  const order = Uint32Array.from({ length: scores.length }, (_, k) => k).sort(
    (a, b) => scores[a] - scores[b] || a - b,
  );
  let taken = 0;
  let sum = 0;
  while (taken < order.length && sum + copies[order[taken]] / 2 <= target)
    sum += copies[order[taken++]];
  return order.slice(0, taken).sort();
}
