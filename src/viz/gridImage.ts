import { fmtInt } from './format';
import { cssRgb, paletteTables, type Palette } from './palette';
import { densityRampTicks, tickAlign, weightRampTicks, type RampTick } from './rampTicks';
import type { PainterContext } from './tileGridPainter';
import type { GridViewMode, RuntimeFrame } from './tileRaster';

/**
 * The Grid PNG: a whole layer at `scale` image pixels per weight (nearest-neighbour, so every
 * weight is an exact scale x scale square), a title above it and a legend strip below it (the
 * colour ramp with numbers, the pruned swatch, the all-zero hatch). Pure: a layout from sizes
 * and text widths, then a painter over a context; the caller owns the canvases.
 */
export const GRID_IMAGE_SCALES = [1, 2, 4] as const;
export type GridImageScale = (typeof GRID_IMAGE_SCALES)[number];

/**
 * Canvas limits every current browser accepts: 16,384 px on a side (Safari's and older
 * Chromium's cap) and 100 megapixels (well under Chromium's and Firefox's area caps, and about
 * 400 MB of RGBA while it is encoded).
 */
export const MAX_IMAGE_SIDE = 16_384;
export const MAX_IMAGE_PIXELS = 100_000_000;

/** The part of CanvasRenderingContext2D the image painter uses (tests pass a recorder). */
export interface GridImageContext extends PainterContext {
  font: string;
  textAlign: CanvasTextAlign;
  textBaseline: CanvasTextBaseline;
  fillText(text: string, x: number, y: number): void;
  measureText(text: string): { readonly width: number };
}

export interface GridImageOptions {
  /** The layer's raster: cols x rows pixels at one pixel per weight. */
  readonly frame: RuntimeFrame;
  /** Image pixels per weight (GRID_IMAGE_SCALES). */
  readonly scale: number;
  readonly mode: GridViewMode;
  readonly palette: Palette;
  /** The weight colour bound |w| the raster was painted with (the ramp's ends). */
  readonly maxAbs: number;
  /** Weights per tile, t1 * t2 (the density ramp's numbers). */
  readonly tileSize: number;
  /** A conv kernel block: its patch padding columns get a legend entry. */
  readonly hasPadding?: boolean;
  /** Title lines; the first is drawn bold. */
  readonly title: readonly string[];
}

export type LegendSwatch = 'pruned' | 'zero' | 'kept' | 'padding';

/** One legend entry placed in the strip: a ramp or a swatch, then its words. Top-left, px. */
export interface LegendItem {
  readonly kind: 'ramp' | LegendSwatch;
  readonly label: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
}

export interface GridImageLayout {
  /** Whole image, px. */
  readonly width: number;
  readonly height: number;
  /** Alphabetic baselines of the title lines, px. */
  readonly titleBaselines: readonly number[];
  /** Where the layer goes: exactly cols * scale x rows * scale px, at integer offsets. */
  readonly image: {
    readonly x: number;
    readonly y: number;
    readonly width: number;
    readonly height: number;
  };
  readonly legend: readonly LegendItem[];
  /** The ramp's numbers (empty in the mask view). */
  readonly ticks: readonly RampTick[];
}

const FONT_FAMILY = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const TITLE_FONT = `bold 15px ${FONT_FAMILY}`;
const TEXT_FONT = `12px ${FONT_FAMILY}`;
const TICK_FONT = `11px ${FONT_FAMILY}`;
/** Margins and gaps, px. */
const PAD = 16;
const GAP = 12;
const TITLE_LINE = 20;
const TEXT_LINE = 16;
const MIN_CONTENT_WIDTH = 480;
/** Legend strip: a row is the ramp (12 px), its tick marks (4 px) and their labels. */
export const RAMP_WIDTH = 280;
const RAMP_HEIGHT = 12;
const LEGEND_ROW = 36;
const SWATCH = 16;
const ITEM_GAP = 20;
const LABEL_GAP = 6;

export type Measure = (text: string, font: string) => number;

/** Text widths from a canvas context (sets its font). */
export function measureWith(ctx: Pick<GridImageContext, 'font' | 'measureText'>): Measure {
  return (text, font) => {
    ctx.font = font;
    return ctx.measureText(text).width;
  };
}

function legendEntries(o: GridImageOptions): { kind: LegendItem['kind']; label: string }[] {
  const entries: { kind: LegendItem['kind']; label: string }[] = [];
  if (o.mode === 'mask') entries.push({ kind: 'kept', label: 'kept weight' });
  else
    entries.push({
      kind: 'ramp',
      label: o.mode === 'density' ? 'weights kept per tile' : 'weight (square-root scale)',
    });
  if (o.mode !== 'density') entries.push({ kind: 'pruned', label: 'pruned, tile still paid for' });
  entries.push({ kind: 'zero', label: 'all-zero tile: no ciphertext' });
  if (o.hasPadding) entries.push({ kind: 'padding', label: 'patch padding (always 0)' });
  return entries;
}

/**
 * Where everything goes. The content is as wide as the layer, the widest title line or the
 * widest legend entry, at least 480 px; the legend wraps onto more rows when it is wider.
 */
export function layoutGridImage(o: GridImageOptions, measure: Measure): GridImageLayout {
  const imageWidth = o.frame.cols * o.scale;
  const imageHeight = o.frame.rows * o.scale;
  const entries = legendEntries(o).map((e) => ({
    ...e,
    width:
      (e.kind === 'ramp' ? RAMP_WIDTH : SWATCH) +
      LABEL_GAP +
      Math.ceil(measure(e.label, TEXT_FONT)),
  }));
  const titleWidth = Math.max(
    0,
    ...o.title.map((line, i) => Math.ceil(measure(line, i === 0 ? TITLE_FONT : TEXT_FONT))),
  );
  const content = Math.max(
    imageWidth,
    titleWidth,
    MIN_CONTENT_WIDTH,
    ...entries.map((e) => e.width),
  );

  const titleBaselines: number[] = [];
  let y = PAD;
  o.title.forEach((_, i) => {
    const line = i === 0 ? TITLE_LINE : TEXT_LINE;
    // Baseline about 0.8 of a line down: room for descenders below it.
    titleBaselines.push(y + Math.round(line * 0.8));
    y += line;
  });
  if (o.title.length) y += GAP;
  const image = { x: PAD, y, width: imageWidth, height: imageHeight };
  y += imageHeight + GAP;

  const legend: LegendItem[] = [];
  let x = PAD;
  for (const e of entries) {
    if (x > PAD && x + e.width > PAD + content) {
      x = PAD;
      y += LEGEND_ROW;
    }
    legend.push({ kind: e.kind, label: e.label, x, y, width: e.width });
    x += e.width + ITEM_GAP;
  }
  y += LEGEND_ROW;
  const ticks =
    o.mode === 'density'
      ? densityRampTicks(o.tileSize)
      : o.mode === 'weights'
        ? weightRampTicks(o.maxAbs)
        : [];
  return {
    width: content + 2 * PAD,
    height: y + PAD - GAP,
    titleBaselines,
    image,
    legend,
    ticks,
  };
}

/** Why an image of this size cannot be made, in words; null when browsers accept it. */
export function gridImageSizeError(
  size: { readonly width: number; readonly height: number },
  scale: number,
): string | null {
  const { width, height } = size;
  if (width <= MAX_IMAGE_SIDE && height <= MAX_IMAGE_SIDE && width * height <= MAX_IMAGE_PIXELS)
    return null;
  const megapixels = Math.round((width * height) / 1e5) / 10;
  const what =
    `The grid image would be ${fmtInt(width)} × ${fmtInt(height)} px (${megapixels} megapixels) ` +
    `at ${scale} px per weight; browsers refuse images over ${fmtInt(MAX_IMAGE_SIDE)} px on a ` +
    `side or ${MAX_IMAGE_PIXELS / 1e6} megapixels.`;
  return scale > 1
    ? `${what} Choose 1 px / weight.`
    : `${what} This layer is too large for one image.`;
}

function paintSwatch(
  ctx: GridImageContext,
  kind: LegendSwatch,
  x: number,
  y: number,
  o: GridImageOptions,
) {
  const p = o.palette;
  const fill = { pruned: p.prunedInLiveTile, zero: p.zeroTile, kept: p.kept, padding: p.padding };
  ctx.fillStyle = cssRgb(fill[kind]);
  ctx.fillRect(x, y, SWATCH, SWATCH);
  if (kind === 'zero') {
    // The grid's hatch at this scale: every 4th anti-diagonal of scale x scale weight cells.
    const cell = Math.max(1, o.scale);
    ctx.fillStyle = cssRgb(p.zeroTileHatch);
    for (let r = 0; r * cell < SWATCH; r++)
      for (let c = 0; c * cell < SWATCH; c++)
        if ((r + c) % 4 === 0)
          ctx.fillRect(
            x + c * cell,
            y + r * cell,
            Math.min(cell, SWATCH - c * cell),
            Math.min(cell, SWATCH - r * cell),
          );
  }
  ctx.strokeStyle = p.tileBorder;
  ctx.lineWidth = 1;
  ctx.strokeRect(x + 0.5, y + 0.5, SWATCH - 1, SWATCH - 1);
}

function paintRamp(
  ctx: GridImageContext,
  x: number,
  y: number,
  ticks: readonly RampTick[],
  o: GridImageOptions,
) {
  const tables = paletteTables(o.palette);
  const lut = o.mode === 'density' ? tables.density : tables.weights;
  // Both tables sample their ramp evenly: column i shows position i / (W - 1), so the first and
  // last columns are the ends' exact colours and a tick at position p sits on column p * (W - 1).
  for (let i = 0; i < RAMP_WIDTH; i++) {
    const k = Math.round((i / (RAMP_WIDTH - 1)) * 255) * 3;
    ctx.fillStyle = `rgb(${lut[k]}, ${lut[k + 1]}, ${lut[k + 2]})`;
    ctx.fillRect(x + i, y, 1, RAMP_HEIGHT);
  }
  ctx.font = TICK_FONT;
  ctx.textBaseline = 'top';
  for (const t of ticks) {
    const column = Math.round(t.position * (RAMP_WIDTH - 1));
    const tx = x + column + 0.5;
    ctx.fillStyle = o.palette.mutedText;
    ctx.fillRect(x + column, y + RAMP_HEIGHT, 1, 4);
    const align = tickAlign(t);
    ctx.textAlign = align === 'start' ? 'left' : align === 'end' ? 'right' : 'center';
    ctx.fillStyle = o.palette.text;
    ctx.fillText(t.label, tx, y + RAMP_HEIGHT + 6);
  }
}

/** Paints the image laid out by layoutGridImage onto a canvas of layout.width x layout.height. */
export function paintGridImage(
  ctx: GridImageContext,
  layout: GridImageLayout,
  o: GridImageOptions & { readonly image: CanvasImageSource },
): void {
  const p = o.palette;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = cssRgb(p.background);
  ctx.fillRect(0, 0, layout.width, layout.height);

  ctx.textAlign = 'left';
  ctx.textBaseline = 'alphabetic';
  o.title.forEach((line, i) => {
    ctx.font = i === 0 ? TITLE_FONT : TEXT_FONT;
    ctx.fillStyle = i === 0 ? p.text : p.mutedText;
    ctx.fillText(line, PAD, layout.titleBaselines[i]);
  });

  const img = layout.image;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(o.image, 0, 0, o.frame.cols, o.frame.rows, img.x, img.y, img.width, img.height);
  // The outline sits on the pixels just outside the layer, never over a weight.
  ctx.strokeStyle = p.tileBorder;
  ctx.lineWidth = 1;
  ctx.strokeRect(img.x - 0.5, img.y - 0.5, img.width + 1, img.height + 1);

  for (const item of layout.legend) {
    const ramp = item.kind === 'ramp';
    const left = item.x + (ramp ? RAMP_WIDTH : SWATCH) + LABEL_GAP;
    if (ramp) paintRamp(ctx, item.x, item.y, layout.ticks, o);
    else paintSwatch(ctx, item.kind, item.x, item.y, o);
    ctx.font = TEXT_FONT;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    ctx.fillStyle = p.mutedText;
    ctx.fillText(item.label, left, item.y + (ramp ? RAMP_HEIGHT : SWATCH) / 2);
  }
}
