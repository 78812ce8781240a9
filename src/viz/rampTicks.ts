import { format } from 'd3';
import { weightRampPosition } from './palette';

/**
 * Numbers under a colour ramp (the legend and the Grid PNG's legend strip). Positions are where
 * the grid's colour for that value sits on the ramp as drawn, so a label never sits under a colour
 * the grid uses for a different value.
 */
export interface RampTick {
  /** The value labelled: a weight, or kept weights per tile. */
  readonly value: number;
  /** Where on the ramp: 0 at its left end, 1 at its right end. */
  readonly position: number;
  readonly label: string;
}

const fmtWeight = format('.3~r');

/**
 * The weight ramp's ticks: -maxAbs, -maxAbs/4, 0, maxAbs/4, maxAbs. On the square-root ramp they
 * fall at 0, 1/4, 1/2, 3/4 and 1. None when the layer is all zero (maxAbs 0: one colour).
 */
export function weightRampTicks(maxAbs: number): RampTick[] {
  if (!(maxAbs > 0)) return [];
  return [-1, -0.25, 0, 0.25, 1].map((f) => ({
    value: f * maxAbs,
    position: weightRampPosition(f),
    label: f === 0 ? '0' : fmtWeight(f * maxAbs),
  }));
}

/**
 * The density ramp's ticks for tiles of `tileSize` (t1 * t2) weights: one, half and all of them
 * kept, at density k / tileSize (the ramp is linear in density; an all-zero tile is hatched, not
 * on the ramp).
 */
export function densityRampTicks(tileSize: number): RampTick[] {
  if (!(tileSize >= 1)) return [];
  const kept = [...new Set([1, Math.round(tileSize / 2), tileSize])];
  return kept.map((k) => ({ value: k, position: k / tileSize, label: `${k} of ${tileSize}` }));
}

/** Labels near the ramp's ends align with its edge rather than hang over it. */
export const tickAlign = (t: RampTick): 'start' | 'middle' | 'end' =>
  t.position < 0.15 ? 'start' : t.position > 0.85 ? 'end' : 'middle';
