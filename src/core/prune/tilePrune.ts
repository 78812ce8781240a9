import { HepexError } from '../model/errors';
import type { Mask, Matrix } from '../model/matrix';
import { validateNetwork, type Network } from '../model/network';
import {
  countTileNonZeros,
  nonZeroTileFlags,
  tileArea,
  type LayerTiling,
} from '../tiling/tilePlan';
import type { TileShape } from '../tiling/tileShape';
import {
  checkMasks,
  checkScope,
  checkSparsity,
  planFor,
  pruneTilingOf,
  pruneViewOf,
  smallestByCopies,
  smallestIndices,
  type PruneScope,
} from './common';

/**
 * Tile pruning, the paper's adaptation of Hunter (Cai et al., AsiaCCS 2022): score every weight
 * tile, in the orientation the HE runtime uses, and zero whole tiles with the lowest scores.
 * No permutation, no expansion: the baseline HE-PEx is compared against.
 */

/** min, max, mean (tfmot's 'AVG') or sum of |w| over the entries a tile covers. */
export type TileScore = 'min' | 'max' | 'avg' | 'l1';
export const TILE_SCORES: readonly TileScore[] = ['min', 'max', 'avg', 'l1'];

export function checkTileScore(score: string): TileScore {
  if (!(TILE_SCORES as readonly string[]).includes(score)) {
    throw new HepexError(
      'invalid-argument',
      `The tile score is "${score}"; use one of ${TILE_SCORES.join(', ')}.`,
    );
  }
  return score as TileScore;
}

/**
 * One score per tile (W-frame index o * inBlocks + i). Edge tiles of a ragged matrix score only
 * the entries they cover (avg divides by tileArea, not by the full tile).
 */
export function tileScores(weights: Matrix, tiling: LayerTiling, score: TileScore): Float64Array {
  const { rows, cols, data } = weights;
  const n = tiling.tileCount;
  const acc = new Float64Array(n);
  if (score === 'min') acc.fill(Infinity);
  for (let r = 0; r < rows; r++) {
    const base = Math.floor(r / tiling.blockOut) * tiling.inBlocks;
    for (let c = 0; c < cols; c++) {
      const t = base + Math.floor(c / tiling.blockIn);
      const a = Math.abs(data[r * cols + c]);
      if (score === 'min') {
        if (a < acc[t]) acc[t] = a;
      } else if (score === 'max') {
        if (a > acc[t]) acc[t] = a;
      } else acc[t] += a;
    }
  }
  if (score === 'avg') for (let t = 0; t < n; t++) acc[t] /= tileArea(tiling, t);
  return acc;
}

export interface TilePruneOptions {
  /** Fraction of weight tiles to zero, in [0, 1). */
  readonly tileSparsity: number;
  readonly score?: TileScore;
  /** 'local': every layer loses that fraction of its tiles; 'global': one ranking of all tiles. */
  readonly scope?: PruneScope;
  /** Earlier masks to combine with (a weight stays pruned once pruned). */
  readonly masks?: readonly Mask[];
}

export interface TilePruneResult {
  readonly masks: Mask[];
  /** keepTiles[l][t] = 1 when tile t of layer l survives. */
  readonly keepTiles: Uint8Array[];
}

/**
 * Drops round(tileSparsity * tiles) tiles (per layer when local, over the network when global).
 * Scores use the masked weights, so an already-zero tile scores 0 and goes first. A convolution
 * drops kernel tiles (its tiles counted once locally, once per position globally) and gets the
 * tied layer mask; its keepTiles are in the plan's frame like every layer's.
 */
export function tilePrune(
  network: Network,
  tile: TileShape,
  options: TilePruneOptions,
): TilePruneResult {
  validateNetwork(network);
  const plan = planFor(network, tile);
  const sparsity = checkSparsity(options.tileSparsity, 'The tile sparsity');
  const score = checkTileScore(options.score ?? 'l1');
  const scope = checkScope(options.scope ?? 'local');
  if (options.masks) checkMasks(network, options.masks);

  // A convolution scores and drops kernel tiles: one kernel tile is a tile at every position.
  const views = network.layers.map((_, l) => pruneViewOf(network, l, options.masks));
  const tilings = network.layers.map((_, l) => pruneTilingOf(network, l, plan));
  const scores = views.map((view, l) => {
    const m = view.prior;
    let weights = view.weights;
    if (m) {
      const data = new Float32Array(weights.data.length);
      for (let k = 0; k < data.length; k++) data[k] = m.data[k] ? weights.data[k] : 0;
      weights = { rows: weights.rows, cols: weights.cols, data };
    }
    return tileScores(weights, tilings[l], score);
  });
  const keep = tilings.map((t) => new Uint8Array(t.tileCount).fill(1));
  if (scope === 'local') {
    scores.forEach((s, l) => {
      const drop = smallestIndices(s, Math.round(sparsity * s.length));
      for (let k = 0; k < drop.length; k++) keep[l][drop[k]] = 0;
    });
  } else {
    // One ranking; a kernel tile counts once per position, as it costs that many ciphertexts.
    const offsets: number[] = [];
    let total = 0;
    let copiesTotal = 0;
    scores.forEach((s, l) => {
      offsets.push(total);
      total += s.length;
      copiesTotal += s.length * views[l].copies;
    });
    const all = new Float64Array(total);
    const copies = new Uint32Array(total);
    scores.forEach((s, l) => {
      all.set(s, offsets[l]);
      copies.fill(views[l].copies, offsets[l], offsets[l] + s.length);
    });
    const drop = smallestByCopies(all, copies, Math.round(sparsity * copiesTotal));
    let l = 0;
    for (let k = 0; k < drop.length; k++) {
      while (l + 1 < offsets.length && drop[k] >= offsets[l + 1]) l++;
      keep[l][drop[k] - offsets[l]] = 0;
    }
  }
  const keepTiles: Uint8Array[] = [];
  const masks = network.layers.map((_, l) => {
    const selected = views[l].expand(tileMask(tilings[l], keep[l]));
    // Plan-frame tiles: a convolution's plan tile is kept when a kept kernel tile lands in it.
    keepTiles.push(
      views[l].copies === 1
        ? keep[l]
        : nonZeroTileFlags(countTileNonZeros(selected, plan.layers[l])),
    );
    // selected is fresh (tileMask, or its expansion): AND the prior mask into it in place.
    const mask = selected;
    const prior = options.masks?.[l];
    if (prior) for (let k = 0; k < mask.data.length; k++) mask.data[k] &= prior.data[k];
    return mask;
  });
  return { masks, keepTiles };
}

/** The weight mask of a set of kept tiles: 1 over every entry of a kept tile. */
export function tileMask(tiling: LayerTiling, keepTiles: Uint8Array): Mask {
  const { outputs: rows, inputs: cols } = tiling;
  const data = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = Math.floor(r / tiling.blockOut) * tiling.inBlocks;
    for (let c = 0; c < cols; c++)
      data[r * cols + c] = keepTiles[base + Math.floor(c / tiling.blockIn)];
  }
  return { rows, cols, data };
}
