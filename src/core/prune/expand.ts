import { HepexError } from '../model/errors';
import { applyMask, type Mask } from '../model/matrix';
import { validateNetwork, type Network } from '../model/network';
import {
  countTileNonZeros,
  nonZeroTileFlags,
  tileArea,
  type LayerTiling,
  type TilePlan,
} from '../tiling/tilePlan';
import type { TileShape } from '../tiling/tileShape';
import {
  checkMasks,
  checkMaxTiles,
  checkScope,
  checkTheta,
  planFor,
  pruneTilingOf,
  pruneViewOf,
  type PruneScope,
  type PruneView,
} from './common';
import { tileMask, tileScores } from './tilePrune';

/**
 * Almost-zero tile pruning and expansion (docs/method.md section 3, step 4). After permutation, a
 * tile's density is kept weights / tileArea (edge tiles of a ragged matrix cover fewer
 * entries). Tiles at or below the threshold theta are zeroed; every other tile costs a
 * ciphertext anyway, so all its weights come back from the dense trained weights (permuted the
 * same way) before the final retraining.
 *
 * Scope: 'global' compares every tile's density with theta itself (one bar for the whole network,
 * the demo's default). 'local' compares it with theta times the densest tile of its own layer,
 * so a layer whose tiles are all sparse is judged against its own best tiles instead of being
 * wiped out.
 */

export interface ExpandOptions {
  /** Density threshold in [0, 1]; demo default 0.0625. Tiles with density <= theta are dropped. */
  readonly theta: number;
  readonly scope?: PruneScope;
  /**
   * Where the weights of surviving tiles come from. 'dense' (the paper): every weight of a kept
   * tile, and the biases, from the dense network. 'pruned-only': weights the current masks kept
   * (and the biases) keep their fine-tuned values; only the pruned ones come back from dense.
   */
  readonly restore?: 'dense' | 'pruned-only';
  /**
   * A tile budget (ciphertexts the weights may cost at most): of the tiles that pass theta, keep
   * the maxTiles whose current (fine-tuned) weights weigh most, by tile L1 over the largest tile
   * L1 of the same layer (layers differ in scale; every layer keeps its best tile, so the budget
   * is at least one tile per layer, a convolution's counted per position). Ranking by
   * fine-tuned weight beats keeping the densest tiles at the same budget (docs/results.md,
   * "Defaults"). A convolution's kernel tile counts as its copies (positions), as in tile pruning.
   * Absent: no budget (theta alone decides, the paper's rule).
   */
  readonly maxTiles?: number;
}

/** Density (kept / area, in [0, 1]) of every tile of every layer. */
export function tileDensities(masks: readonly Mask[], plan: TilePlan): Float64Array[] {
  return plan.layers.map((t, l) => tileDensity(masks[l], t));
}

/** Kept fraction of every tile of one layer's mask under its tiling. */
function tileDensity(mask: Mask, tiling: LayerTiling): Float64Array {
  const counts = countTileNonZeros(mask, tiling);
  const d = new Float64Array(tiling.tileCount);
  for (let k = 0; k < d.length; k++) d[k] = counts[k] / tileArea(tiling, k);
  return d;
}

/** keepTiles[l][t] = 1 when tile t of layer l is dense enough to survive (see the header). */
export function selectTilesByDensity(
  network: Network,
  masks: readonly Mask[],
  tile: TileShape,
  options: ExpandOptions,
): Uint8Array[] {
  return chooseTiles(network, masks, tile, options).keepTiles;
}

/**
 * The tiles that survive theta (and the tile budget, if any), in the plan's frame (keepTiles)
 * and as layer masks. A
 * convolution judges its kernel tiles (density of position 0's kernel mask; every position's
 * copy has the same) and its mask is the tied expansion of the kept kernel tiles.
 */
function chooseTiles(
  network: Network,
  masks: readonly Mask[],
  tile: TileShape,
  options: ExpandOptions,
): { keepTiles: Uint8Array[]; tileMasks: Mask[] } {
  validateNetwork(network);
  const plan = planFor(network, tile);
  const theta = checkTheta(options.theta);
  const scope = checkScope(options.scope ?? 'global');
  checkMasks(network, masks);
  const maxTiles =
    options.maxTiles === undefined ? undefined : checkMaxTiles(options.maxTiles, network);
  const views = network.layers.map((_, l) => pruneViewOf(network, l, masks));
  const tilings = network.layers.map((_, l) => pruneTilingOf(network, l, plan));
  const keeps = views.map((view, l) => {
    // checkMasks above: the view's prior is layer l's mask (a conv's: its kernel part).
    const d = tileDensity(view.prior ?? masks[l], tilings[l]);
    let bar = theta;
    if (scope === 'local') {
      let max = 0;
      for (let k = 0; k < d.length; k++) if (d[k] > max) max = d[k];
      bar = theta * max;
    }
    const keep = new Uint8Array(d.length);
    // A tile with no kept weight never survives, whatever theta is.
    for (let k = 0; k < d.length; k++) keep[k] = d[k] > bar && d[k] > 0 ? 1 : 0;
    return keep;
  });
  if (maxTiles !== undefined) applyTileBudget(views, tilings, keeps, maxTiles);
  const keepTiles: Uint8Array[] = [];
  const tileMasks = views.map((view, l) => {
    const keep = keeps[l];
    const mask = view.expand(tileMask(tilings[l], keep));
    keepTiles.push(
      view.copies === 1 ? keep : nonZeroTileFlags(countTileNonZeros(mask, plan.layers[l])),
    );
    return mask;
  });
  return { keepTiles, tileMasks };
}

/**
 * Clears keeps[l][k] (in place) for all but the tiles that fit maxTiles, best first: score =
 * tile L1 of the layer's masked weights / the layer's largest kept tile L1, ties by layer then
 * tile index (deterministic). A tile costs view.copies (1 for a dense layer); one that does not
 * fit is dropped and cheaper ones after it may still fit.
 */
function applyTileBudget(
  views: readonly PruneView[],
  tilings: readonly LayerTiling[],
  keeps: Uint8Array[],
  maxTiles: number,
): void {
  const candidates: { layer: number; tile: number; score: number }[] = [];
  views.forEach((view, l) => {
    const weights = view.prior ? applyMask(view.weights, view.prior) : view.weights;
    const l1 = tileScores(weights, tilings[l], 'l1');
    let best = 0;
    for (let k = 0; k < l1.length; k++) if (keeps[l][k] && l1[k] > best) best = l1[k];
    for (let k = 0; k < l1.length; k++) {
      // A kept tile whose weights are all 0 (best 0) still ranks, last.
      if (keeps[l][k]) candidates.push({ layer: l, tile: k, score: best > 0 ? l1[k] / best : 0 });
    }
  });
  candidates.sort((a, b) => b.score - a.score || a.layer - b.layer || a.tile - b.tile);
  let spent = 0;
  for (const c of candidates) {
    const cost = views[c.layer].copies;
    if (spent + cost <= maxTiles) spent += cost;
    else keeps[c.layer][c.tile] = 0;
  }
}

export interface ExpandResult {
  /** Weights: dense values over kept tiles, exactly 0 elsewhere. */
  readonly network: Network;
  /** Tile masks: 1 over every entry of a kept tile. */
  readonly masks: Mask[];
  readonly keepTiles: Uint8Array[];
  readonly keptTiles: number[];
  /** Tiles that held kept weights but fell at or below the threshold. */
  readonly droppedTiles: number[];
}

/**
 * Drops almost-zero tiles and expands the rest. `current` is the pruned (and usually
 * retrained, permuted) network whose masks decide density; `dense` is the trained network
 * before pruning, permuted with the same orders. Neither is modified.
 */
export function pruneAndExpand(
  current: Network,
  dense: Network,
  masks: readonly Mask[],
  tile: TileShape,
  options: ExpandOptions,
): ExpandResult {
  validateNetwork(dense);
  const restore = options.restore ?? 'dense';
  if (restore !== 'dense' && restore !== 'pruned-only') {
    throw new HepexError(
      'invalid-argument',
      `restore is "${String(restore)}"; use "dense" or "pruned-only".`,
    );
  }
  const { keepTiles, tileMasks } = chooseTiles(current, masks, tile, options);
  if (
    dense.layers.length !== current.layers.length ||
    dense.layers.some(
      (l, i) =>
        l.weights.rows !== current.layers[i].weights.rows ||
        l.weights.cols !== current.layers[i].weights.cols,
    )
  ) {
    throw new HepexError(
      'invalid-network',
      'The dense network has a different shape from the pruned one.',
    );
  }
  const plan = planFor(current, tile);
  const before = plan.layers.map((t, l) => {
    const c = countTileNonZeros(masks[l], t);
    let z = 0;
    for (let k = 0; k < c.length; k++) if (c[k]) z++;
    return z;
  });
  const layers = current.layers.map((layer, l) => {
    const keep = tileMasks[l].data;
    const d = dense.layers[l].weights.data;
    const c = layer.weights.data;
    const m = masks[l].data;
    const data = new Float32Array(d.length);
    for (let k = 0; k < data.length; k++) {
      if (!keep[k]) continue;
      data[k] = restore === 'pruned-only' && m[k] ? c[k] : d[k];
    }
    const bias = Float32Array.from(restore === 'dense' ? dense.layers[l].bias : layer.bias);
    return {
      ...layer,
      weights: { rows: layer.weights.rows, cols: layer.weights.cols, data },
      bias,
    };
  });
  const keptTiles = keepTiles.map((k) => k.reduce((s, v) => s + v, 0));
  return {
    network: { task: current.task, layers },
    masks: tileMasks,
    keepTiles,
    keptTiles,
    droppedTiles: before.map((b, l) => b - keptTiles[l]),
  };
}
