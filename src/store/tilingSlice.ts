import type { StateCreator } from 'zustand';
import { createTileShape, DEFAULT_RING_DEGREE, type TileShape } from '../core/tileShape';
import type { AppState } from './appStore';

/** The tile shape weights are cut into; the ring degree fixes slots = t1 * t2 * batch. */
export interface TilingSlice {
  tile: TileShape;
}

/** The paper's demo shape: 4x8 tiles at N = 2^15 (batch 512). */
export const DEFAULT_TILE: TileShape = createTileShape(4, 8, { ringDegree: DEFAULT_RING_DEGREE });

export const createTilingSlice: StateCreator<AppState, [], [], TilingSlice> = () => ({
  tile: DEFAULT_TILE,
});
