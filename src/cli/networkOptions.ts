import { LINEAR, SQUARE, type Activation } from '../core/model/activation';
import { HepexError } from '../core/model/errors';
import { parseLayerSizes } from '../core/model/network';
import {
  DEFAULT_TILE_SIDES,
  parseTileShape,
  placeTile,
  type TileShape,
  type TileSides,
} from '../core/tiling/tileShape';
import { optionalNumber, requireString, type ParsedFlags } from './args';

/** Flags shared by commands that describe a network by its sizes and a tile shape. */
export const networkFlags = {
  layers: 'string',
  tile: 'string',
  batch: 'string',
  'ring-degree': 'string',
  activation: 'string',
} as const;

/** --tile (default DEFAULT_TILE_SIDES) placed by --batch / --ring-degree: parsed once here. */
export function tileFromFlags(
  flags: ParsedFlags,
  fallback: TileSides = DEFAULT_TILE_SIDES,
): TileShape {
  const placement = {
    batch: optionalNumber(flags, 'batch'),
    ringDegree: optionalNumber(flags, 'ring-degree'),
  };
  return typeof flags.tile === 'string'
    ? parseTileShape(flags.tile, placement)
    : placeTile(fallback, placement);
}

/** Hidden layers square by default (CKKS-friendly), the output layer linear. */
export function activationsFromFlags(flags: ParsedFlags, layerCount: number): Activation[] {
  const hidden = typeof flags.activation === 'string' ? flags.activation : 'square';
  if (hidden !== 'square' && hidden !== 'linear') {
    throw new HepexError(
      'invalid-argument',
      `Option --activation must be square or linear, got "${hidden}".`,
    );
  }
  return Array.from({ length: layerCount }, (_, l) =>
    l === layerCount - 1 ? LINEAR : hidden === 'square' ? SQUARE : LINEAR,
  );
}

export function sizesFromFlags(flags: ParsedFlags): number[] {
  return parseLayerSizes(requireString(flags, 'layers'));
}

/** Flags of a CNN's first layer (train --arch cnn). */
export const convFlags = {
  filters: 'string',
  kernel: 'string',
  stride: 'string',
} as const;

/**
 * --filters / --kernel / --stride as whole numbers (absent: undefined, the architecture's
 * default); refused when given to an architecture without a convolution.
 */
export function convFromFlags(
  flags: ParsedFlags,
  hasConv: boolean,
): { filters?: number; kernel?: number; stride?: number } {
  const out: { filters?: number; kernel?: number; stride?: number } = {};
  for (const name of Object.keys(convFlags) as (keyof typeof convFlags)[]) {
    const v = optionalNumber(flags, name);
    if (v === undefined) continue;
    if (!hasConv)
      throw new HepexError(
        'invalid-argument',
        `Option --${name} describes a convolution; use it with --arch cnn.`,
      );
    if (!Number.isInteger(v) || v < 1 || v > 256)
      throw new HepexError(
        'invalid-argument',
        `Option --${name} must be a whole number from 1 to 256, got ${v}.`,
      );
    out[name] = v;
  }
  return out;
}
