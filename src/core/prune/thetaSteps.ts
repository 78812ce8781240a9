import type { TileShape } from '../tiling/tileShape';

/**
 * HE-PEx's density threshold theta in whole weights. A t1 x t2 tile's density moves in steps of
 * 1 / (t1 t2), so only thetas k / (t1 t2) are distinct: a tile is dropped when it keeps at most
 * k of its t1 t2 weights (global scope; per layer, k / (t1 t2) of the densest tile's density).
 */
/** Weights in a full tile. */
export const tileWeights = (tile: Pick<TileShape, 't1' | 't2'>): number => tile.t1 * tile.t2;

/** Most weights a dropped tile may keep at `theta`: floor(theta t1 t2) (rounding-safe). */
export function droppedAtMost(theta: number, tile: Pick<TileShape, 't1' | 't2'>): number {
  return Math.floor(theta * tileWeights(tile) + 1e-9);
}

/** The theta that drops tiles keeping at most `weights` of their t1 t2 weights. */
export function thetaForWeights(weights: number, tile: Pick<TileShape, 't1' | 't2'>): number {
  return weights / tileWeights(tile);
}

/** "2/32": the weights a dropped tile may keep, of a tile's weights. */
export function thetaLabel(theta: number, tile: Pick<TileShape, 't1' | 't2'>): string {
  return `${droppedAtMost(theta, tile)}/${tileWeights(tile)}`;
}
