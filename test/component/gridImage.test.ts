import { describe, expect, it } from 'vitest';
import { tileLayer } from '../../src/core/tiling/tilePlan';
import { createTileShape } from '../../src/core/tiling/tileShape';
import {
  gridImageSizeError,
  layoutGridImage,
  measureWith,
  paintGridImage,
  RAMP_WIDTH,
  type GridImageOptions,
} from '../../src/viz/gridImage';
import { cssRgb, darkPalette, lightPalette } from '../../src/viz/palette';
import { densityRampTicks, weightRampTicks } from '../../src/viz/rampTicks';
import { runtimeFrame, type GridViewMode } from '../../src/viz/tileRaster';
import { canvasRecorder, type RecordedCall } from '../fixtures/canvasRecorder';

const tile = createTileShape(2, 4, { ringDegree: 8192, first: 'A' });
/** W is 6 x 10 (outputs x inputs), 2x4 tiles; orientation B shows it as 10 x 6. */
const frameOf = (index: number) => runtimeFrame(tileLayer(index, 10, 6, tile));

const title = ['tiny ae · HE-PEx 90%, θ 0.0625', 'Layer 1 of 2: 6×10', '5 of 9 tiles non-zero'];

function paint(mode: GridViewMode, scale: number, extra: Partial<GridImageOptions> = {}) {
  const options: GridImageOptions = {
    frame: frameOf(0),
    scale,
    mode,
    palette: lightPalette,
    maxAbs: 0.4,
    tileSize: tile.t1 * tile.t2,
    title,
    ...extra,
  };
  const { ctx, calls } = canvasRecorder();
  const layout = layoutGridImage(options, measureWith(ctx));
  const image = { raster: true } as unknown as CanvasImageSource;
  paintGridImage(ctx, layout, { ...options, image });
  const texts = calls.filter((c) => c.op === 'fillText').map((c) => c.args[0] as string);
  return { layout, calls, texts, image, options };
}

const rect = (c: RecordedCall) => c.args as [number, number, number, number];

describe('grid image: the whole layer at scale px per weight', () => {
  for (const scale of [1, 2, 4]) {
    it(`draws the 6 x 10 layer as exactly ${10 * scale} x ${6 * scale} px, nearest-neighbour`, () => {
      const { layout, calls, image } = paint('weights', scale);
      expect(layout.image).toMatchObject({ width: 10 * scale, height: 6 * scale });
      expect(Number.isInteger(layout.image.x) && Number.isInteger(layout.image.y)).toBe(true);
      const draws = calls.filter((c) => c.op === 'drawImage');
      expect(draws).toHaveLength(1);
      expect(draws[0].imageSmoothingEnabled).toBe(false);
      const { x, y, width, height } = layout.image;
      expect(draws[0].args).toEqual([image, 0, 0, 10, 6, x, y, width, height]);
      // Nothing painted afterwards covers a weight: fills stay outside, the outline just outside.
      const after = calls.slice(calls.indexOf(draws[0]) + 1);
      for (const c of after.filter((c) => c.op === 'fillRect')) {
        const [rx, ry, rw, rh] = rect(c);
        const overlaps = rx < x + width && rx + rw > x && ry < y + height && ry + rh > y;
        expect(overlaps).toBe(false);
      }
      const outline = after.find((c) => c.op === 'strokeRect')!;
      expect(outline.args).toEqual([x - 0.5, y - 0.5, width + 1, height + 1]);
      // Title above the layer, legend below it, all inside the image.
      expect(Math.max(...layout.titleBaselines)).toBeLessThan(y);
      for (const item of layout.legend) {
        expect(item.y).toBeGreaterThan(y + height);
        expect(item.x + item.width).toBeLessThanOrEqual(layout.width);
      }
      expect(layout.height).toBeGreaterThan(Math.max(...layout.legend.map((i) => i.y)));
      expect(layout.width).toBeGreaterThanOrEqual(width + 2 * x);
    });
  }

  it('orientation B: the image is the transposed frame, 6 x 10 weights wide and high', () => {
    const { layout, calls } = paint('weights', 2, { frame: frameOf(1) });
    expect(layout.image).toMatchObject({ width: 12, height: 20 });
    expect(calls.find((c) => c.op === 'drawImage')!.args.slice(3, 5)).toEqual([6, 10]);
  });

  it('draws the title, the first line bold, in the order given', () => {
    const { calls, texts } = paint('weights', 1);
    expect(texts.slice(0, 3)).toEqual(title);
    const first = calls.find((c) => c.op === 'fillText' && c.args[0] === title[0])!;
    expect(first.font).toMatch(/^bold 15px/);
  });

  it("draws the weight legend: the ramp's colours, its numbers at their positions, the swatches", () => {
    const { layout, calls, texts } = paint('weights', 2);
    const ticks = weightRampTicks(0.4);
    expect(ticks.map((t) => t.label)).toEqual(['−0.4', '−0.1', '0', '0.1', '0.4']);
    for (const t of ticks) expect(texts).toContain(t.label);
    expect(texts).toContain('weight (square-root scale)');
    expect(texts).toContain('pruned, tile still paid for');
    expect(texts).toContain('all-zero tile: no ciphertext');
    const ramp = layout.legend.find((i) => i.kind === 'ramp')!;
    // One 1-px column per ramp position, from the negative end to the positive end.
    const columns = calls.filter(
      (c) => c.op === 'fillRect' && rect(c)[2] === 1 && rect(c)[1] === ramp.y,
    );
    expect(columns).toHaveLength(RAMP_WIDTH);
    expect(columns[0].fillStyle).toBe(cssRgb(lightPalette.negative));
    expect(columns.at(-1)!.fillStyle).toBe(cssRgb(lightPalette.positive));
    // 0 sits mid-ramp, centred; the ends align with the ramp's edges.
    const label = (text: string) => calls.find((c) => c.op === 'fillText' && c.args[0] === text)!;
    const onColumn = (p: number) => ramp.x + Math.round(p * (RAMP_WIDTH - 1)) + 0.5;
    expect(label('0').args[1]).toBe(onColumn(0.5));
    expect(label('0').textAlign).toBe('center');
    expect(label('0.1').args[1]).toBe(onColumn(0.75));
    expect(label('−0.4').args[1]).toBe(ramp.x + 0.5);
    expect(label('−0.4').textAlign).toBe('left');
    expect(label('0.4').textAlign).toBe('right');
    // The pruned swatch in the pruned colour; the all-zero swatch hatched in scale-px cells.
    const pruned = layout.legend.find((i) => i.kind === 'pruned')!;
    const swatch = calls.find(
      (c) => c.op === 'fillRect' && rect(c)[0] === pruned.x && rect(c)[1] === pruned.y,
    )!;
    expect(swatch.fillStyle).toBe(cssRgb(lightPalette.prunedInLiveTile));
    const zero = layout.legend.find((i) => i.kind === 'zero')!;
    const inZero = calls.filter(
      (c) =>
        c.op === 'fillRect' &&
        rect(c)[0] >= zero.x &&
        rect(c)[0] < zero.x + 16 &&
        rect(c)[1] >= zero.y &&
        rect(c)[1] < zero.y + 16,
    );
    expect(inZero[0].fillStyle).toBe(cssRgb(lightPalette.zeroTile));
    const hatch = inZero.filter((c) => c.fillStyle === cssRgb(lightPalette.zeroTileHatch));
    expect(hatch.length).toBeGreaterThan(0);
    for (const c of hatch) expect(rect(c).slice(2)).toEqual([2, 2]);
  });

  it('density view: the ramp counts kept weights of a t1 x t2 tile, no pruned swatch', () => {
    const { texts } = paint('density', 1);
    for (const t of densityRampTicks(8)) expect(texts).toContain(t.label);
    expect(texts).toEqual(expect.arrayContaining(['1 of 8', '4 of 8', '8 of 8']));
    expect(texts).toContain('weights kept per tile');
    expect(texts).not.toContain('pruned, tile still paid for');
  });

  it('mask view: kept and pruned swatches, no ramp; a conv kernel adds its padding', () => {
    const { layout, texts } = paint('mask', 1, { hasPadding: true, palette: darkPalette });
    expect(layout.ticks).toEqual([]);
    expect(layout.legend.map((i) => i.kind)).toEqual(['kept', 'pruned', 'zero', 'padding']);
    expect(texts).toContain('patch padding (always 0)');
  });

  it('wraps the legend under a narrow layer and widens for a long title', () => {
    const long = ['x'.repeat(200)];
    const { layout } = paint('weights', 1, { title: long });
    // 200 characters of bold 15 px text at 0.55 em each.
    expect(layout.width).toBe(Math.ceil(200 * 15 * 0.55) + 32);
    const narrow = paint('weights', 1).layout;
    expect(narrow.width).toBe(480 + 32);
    expect(new Set(narrow.legend.map((i) => i.y)).size).toBeGreaterThan(1);
  });
});

describe('grid image: sizes browsers refuse', () => {
  it('accepts up to 16,384 px a side and 100 megapixels', () => {
    expect(gridImageSizeError({ width: 16_384, height: 6_000 }, 4)).toBeNull();
    expect(gridImageSizeError({ width: 784 * 4 + 32, height: 784 * 4 + 120 }, 4)).toBeNull();
  });

  it('refuses beyond, in words, suggesting 1 px per weight', () => {
    const side = gridImageSizeError({ width: 16_385, height: 100 }, 4)!;
    expect(side).toMatch(/16,385 × 100 px/);
    expect(side).toMatch(/16,384 px on a side/);
    expect(side).toMatch(/Choose 1 px \/ weight/);
    const area = gridImageSizeError({ width: 12_000, height: 9_000 }, 2)!;
    expect(area).toMatch(/108 megapixels/);
    expect(gridImageSizeError({ width: 20_000, height: 100 }, 1)).toMatch(
      /too large for one image/,
    );
  });
});
