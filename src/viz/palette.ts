import { interpolateRgb, rgb } from 'd3';

/**
 * Colours of the tile-grid painters, as RGB byte triples so the rasterizer writes them straight
 * into ImageData without parsing strings per pixel. One palette per theme; painters take it as an
 * argument and never look at the document.
 */
export type Rgb = readonly [number, number, number];

export interface Palette {
  readonly theme: 'light' | 'dark';
  /** Canvas background outside the matrix. */
  readonly background: Rgb;
  /**
   * A pruned weight inside a tile that is still paid for (the tile holds other weights). The
   * theme's ink (near-black on light, near-white on dark): no colour of either ramp is that dark
   * or that light, so a pruned weight never passes for a small one (CIE76 delta E >= 30 from every
   * entry of both lookup tables, test/component/palette.test.ts).
   */
  readonly prunedInLiveTile: Rgb;
  /** All-zero tile: two colours alternating along diagonals, a hatch that reads at any zoom. */
  readonly zeroTile: Rgb;
  readonly zeroTileHatch: Rgb;
  /** Mask view: a kept weight. */
  readonly kept: Rgb;
  /** A conv kernel's patch padding column (zero-padded to a multiple of 8, never a weight). */
  readonly padding: Rgb;
  /** Diverging weight scale, negative end, middle (w = 0) and positive end. */
  readonly negative: Rgb;
  readonly neutral: Rgb;
  readonly positive: Rgb;
  /** Density view: sequential scale from a nearly empty tile to a full one. */
  readonly densityLow: Rgb;
  readonly densityHigh: Rgb;
  /** CSS colours for vector overlays. */
  readonly tileBorder: string;
  readonly hover: string;
  /** CSS colours of text drawn on a canvas (the Grid PNG's title and legend), as the page's. */
  readonly text: string;
  readonly mutedText: string;
}

export const lightPalette: Palette = {
  theme: 'light',
  background: [247, 248, 250],
  prunedInLiveTile: [28, 28, 36],
  zeroTile: [226, 229, 234],
  zeroTileHatch: [196, 201, 209],
  kept: [36, 99, 196],
  padding: [186, 176, 206],
  negative: [229, 121, 20],
  neutral: [246, 246, 244],
  positive: [8, 102, 178],
  densityLow: [216, 231, 245],
  densityHigh: [17, 72, 150],
  tileBorder: 'rgba(40, 52, 70, 0.22)',
  hover: '#111827',
  text: '#1b2330',
  mutedText: '#5f6b7a',
};

export const darkPalette: Palette = {
  theme: 'dark',
  background: [15, 19, 25],
  prunedInLiveTile: [240, 240, 236],
  zeroTile: [12, 15, 20],
  zeroTileHatch: [30, 35, 43],
  kept: [110, 168, 255],
  padding: [70, 60, 92],
  negative: [245, 146, 52],
  neutral: [44, 52, 64],
  positive: [92, 170, 255],
  densityLow: [34, 52, 78],
  densityHigh: [140, 196, 255],
  tileBorder: 'rgba(200, 215, 235, 0.18)',
  hover: '#f3f4f6',
  text: '#e4e9f0',
  mutedText: '#93a0b1',
};

export const paletteFor = (theme: 'light' | 'dark'): Palette =>
  theme === 'dark' ? darkPalette : lightPalette;

export const cssRgb = (c: Rgb): string => `rgb(${c[0]}, ${c[1]}, ${c[2]})`;

/**
 * A 256-entry RGB lookup table (768 bytes) for a scale sampled at t = i / 255. The rasterizer
 * maps a value to an index once per pixel; the d3 interpolator runs 256 times per palette.
 */
export function colourTable(interpolate: (t: number) => string): Uint8Array {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const c = rgb(interpolate(i / 255));
    lut[i * 3] = Math.round(c.r);
    lut[i * 3 + 1] = Math.round(c.g);
    lut[i * 3 + 2] = Math.round(c.b);
  }
  return lut;
}

/**
 * The weight ramp's easing: where w / maxAbs (in [-1, 1]) sits on the ramp, as a position in
 * [0, 1] (0: -maxAbs end, 0.5: w = 0, 1: +maxAbs end). The ramp spreads its colours evenly over
 * that position (negative -> neutral -> positive, linear in RGB, like a CSS gradient), and the
 * lookup table samples it evenly, so legend ticks placed with this function sit under the colour
 * the grid paints for their value. Square root on each side: most trained weights are small,
 * so a linear ramp would be almost all neutral.
 */
export function weightRampPosition(t: number): number {
  const c = Math.max(-1, Math.min(1, t));
  return (1 + Math.sign(c) * Math.sqrt(Math.abs(c))) / 2;
}

/** Inverse of weightRampPosition: the w / maxAbs shown at ramp position p in [0, 1]. */
export function weightAtRampPosition(p: number): number {
  const u = 2 * Math.max(0, Math.min(1, p)) - 1;
  return Math.sign(u) * u * u;
}

const tables = new WeakMap<Palette, { weights: Uint8Array; density: Uint8Array }>();

/**
 * The palette's lookup tables, each its ramp sampled at 256 evenly spaced positions: weights
 * index i is ramp position i / 255 (weightRampPosition; index 127.5 is w = 0), density index i
 * is tile density i / 255 (an all-zero tile is hatched, never looked up).
 */
export function paletteTables(palette: Palette): { weights: Uint8Array; density: Uint8Array } {
  let t = tables.get(palette);
  if (!t) {
    const neg = interpolateRgb(cssRgb(palette.negative), cssRgb(palette.neutral));
    const pos = interpolateRgb(cssRgb(palette.neutral), cssRgb(palette.positive));
    const weights = colourTable((p) => (p < 0.5 ? neg(2 * p) : pos(2 * p - 1)));
    const density = colourTable(
      interpolateRgb(cssRgb(palette.densityLow), cssRgb(palette.densityHigh)),
    );
    t = { weights, density };
    tables.set(palette, t);
  }
  return t;
}
