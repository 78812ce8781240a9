import type { StateCreator } from 'zustand';
import type { RingChoice } from '../core/he/heModel';
import {
  DEFAULT_RING_DEGREE,
  DEFAULT_TILE_SIDES,
  placeTile,
  type TileShape,
} from '../core/tiling/tileShape';
import type { AppState } from './appStore';

/**
 * The tile shape weights are cut into and the ring degree it is priced at. `tile` is resolved:
 * with `ringChoice` 'auto' its ring degree is the smallest that carries the model's depth at
 * 128-bit security (what an encrypted run uses); a fixed choice is kept even when too small, and
 * the counts panel says so. slots = t1 * t2 * batch = ringDegree / 2.
 */
export interface TilingSlice {
  tile: TileShape;
  ringChoice: RingChoice;
}

/** 4x8 tiles, the paper's demo shape; the ring degree follows the model until one loads. */
export const DEFAULT_TILE: TileShape = placeTile(DEFAULT_TILE_SIDES, {
  ringDegree: DEFAULT_RING_DEGREE,
});

export const createTilingSlice: StateCreator<AppState, [], [], TilingSlice> = () => ({
  tile: DEFAULT_TILE,
  ringChoice: 'auto',
});
