import { interpolateRgb, lab, rgb } from 'd3';
import { describe, expect, it } from 'vitest';
import {
  cssRgb,
  darkPalette,
  lightPalette,
  paletteTables,
  weightAtRampPosition,
  weightRampPosition,
  type Rgb,
} from '../../src/viz/palette';
import { weightColourIndex } from '../../src/viz/tileRaster';

/**
 * CIE76 colour difference (Euclidean distance in CIELAB). About 2 is a just-noticeable
 * difference; 30 is two colours nobody confuses, even as single pixels next to each other.
 */
function deltaE(a: Rgb, b: Rgb): number {
  const x = lab(cssRgb(a));
  const y = lab(cssRgb(b));
  return Math.hypot(x.l - y.l, x.a - y.a, x.b - y.b);
}

/** The smallest delta E between `c` and the 256 entries of a lookup table (256 x RGB bytes). */
function minDeltaE(c: Rgb, lut: Uint8Array): number {
  let min = Infinity;
  for (let i = 0; i < 256; i++)
    min = Math.min(min, deltaE(c, [lut[i * 3], lut[i * 3 + 1], lut[i * 3 + 2]]));
  return min;
}

const DISTINCT = 30;

describe('palette: a pruned weight is unmistakable', () => {
  for (const palette of [lightPalette, darkPalette]) {
    it(`${palette.theme}: the pruned colour is far from every weight and density colour`, () => {
      const { weights, density } = paletteTables(palette);
      const pruned = palette.prunedInLiveTile;
      // The diverging ramp's middle is w = 0: a pruned weight must not read as a small one.
      expect(deltaE(pruned, palette.neutral)).toBeGreaterThanOrEqual(DISTINCT);
      expect(minDeltaE(pruned, weights)).toBeGreaterThanOrEqual(DISTINCT);
      expect(minDeltaE(pruned, density)).toBeGreaterThanOrEqual(DISTINCT);
    });

    it(`${palette.theme}: pruned, all-zero hatch, kept and padding colours tell apart`, () => {
      const pruned = palette.prunedInLiveTile;
      for (const other of [palette.zeroTile, palette.zeroTileHatch, palette.kept, palette.padding])
        expect(deltaE(pruned, other)).toBeGreaterThanOrEqual(DISTINCT);
      // The hatch itself must read as a pattern (its two colours differ) without being loud.
      expect(deltaE(palette.zeroTile, palette.zeroTileHatch)).toBeGreaterThan(5);
    });
  }

  it('the distance check would catch the colours it replaced (white vs a near-white w = 0)', () => {
    expect(minDeltaE([255, 255, 255], paletteTables(lightPalette).weights)).toBeLessThan(10);
    expect(minDeltaE([38, 46, 58], paletteTables(darkPalette).weights)).toBeLessThan(10);
  });
});

describe('palette: the weight ramp is sampled evenly along its eased position', () => {
  const lutRgb = (lut: Uint8Array, i: number): Rgb => [lut[i * 3], lut[i * 3 + 1], lut[i * 3 + 2]];

  it('square-root easing, and its inverse', () => {
    expect([-1, -0.25, 0, 0.25, 1].map(weightRampPosition)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    for (const p of [0, 0.1, 0.25, 0.5, 0.8, 1])
      expect(weightRampPosition(weightAtRampPosition(p))).toBeCloseTo(p, 12);
    expect(weightRampPosition(3)).toBe(1); // beyond maxAbs clamps
  });

  for (const palette of [lightPalette, darkPalette]) {
    it(`${palette.theme}: w = 0 is painted neutral, the bounds their end colours`, () => {
      const lut = paletteTables(palette).weights;
      expect(deltaE(lutRgb(lut, weightColourIndex(0, 0.3)), palette.neutral)).toBeLessThan(1);
      expect(lutRgb(lut, weightColourIndex(-0.3, 0.3))).toEqual([...palette.negative]);
      expect(lutRgb(lut, weightColourIndex(0.3, 0.3))).toEqual([...palette.positive]);
      // max / 4 sits three quarters along: the colour halfway from neutral to the positive end.
      const half = rgb(interpolateRgb(cssRgb(palette.neutral), cssRgb(palette.positive))(0.5));
      const quarter = lutRgb(lut, weightColourIndex(0.075, 0.3));
      expect(deltaE(quarter, [half.r, half.g, half.b])).toBeLessThan(2);
    });
  }
});
