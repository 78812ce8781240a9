import { cssRgb, type Palette } from './palette';
import type { RuntimeFrame } from './tileRaster';
import type { Viewport } from './viewport';

/**
 * The part of CanvasRenderingContext2D the painter uses. Tests pass a recorder with the same
 * shape; the browser passes the real context.
 */
export interface PainterContext {
  fillStyle: string | CanvasGradient | CanvasPattern;
  strokeStyle: string | CanvasGradient | CanvasPattern;
  lineWidth: number;
  imageSmoothingEnabled: boolean;
  setTransform(a: number, b: number, c: number, d: number, e: number, f: number): void;
  fillRect(x: number, y: number, w: number, h: number): void;
  strokeRect(x: number, y: number, w: number, h: number): void;
  drawImage(
    image: CanvasImageSource,
    sx: number,
    sy: number,
    sw: number,
    sh: number,
    dx: number,
    dy: number,
    dw: number,
    dh: number,
  ): void;
  beginPath(): void;
  moveTo(x: number, y: number): void;
  lineTo(x: number, y: number): void;
  stroke(): void;
}

export interface PaintOptions {
  /** The rasterized layer (one pixel per weight), e.g. an offscreen canvas. */
  readonly image: CanvasImageSource;
  readonly frame: RuntimeFrame;
  readonly viewport: Viewport;
  /** Canvas size in CSS pixels and the device pixel ratio of its backing store. */
  readonly width: number;
  readonly height: number;
  readonly dpr: number;
  readonly palette: Palette;
  /** Runtime grid cell to outline, if the pointer is over one. */
  readonly hover?: { gridRow: number; gridCol: number } | null;
}

/** Tile borders are drawn once a tile is at least this many CSS pixels on its short side. */
export const MIN_BORDER_TILE_PX = 5;

/** Which tile-row / tile-column boundaries are on screen, as grid indices [first, last]. */
export function visibleGridRange(
  viewport: Viewport,
  frame: RuntimeFrame,
  width: number,
  height: number,
): { row0: number; row1: number; col0: number; col1: number } {
  const clamp = (v: number, hi: number) => Math.max(0, Math.min(hi, v));
  return {
    row0: clamp(Math.floor(viewport.y / frame.tileRows), frame.gridRows),
    row1: clamp(Math.ceil((viewport.y + height / viewport.scale) / frame.tileRows), frame.gridRows),
    col0: clamp(Math.floor(viewport.x / frame.tileCols), frame.gridCols),
    col1: clamp(Math.ceil((viewport.x + width / viewport.scale) / frame.tileCols), frame.gridCols),
  };
}

/**
 * Draws the rasterized layer through the viewport (nearest-neighbour, so every weight is a crisp
 * square), tile borders when tiles are big enough to separate, the matrix outline, and the
 * hovered tile. Reads nothing but its arguments.
 */
export function paintTileGrid(ctx: PainterContext, options: PaintOptions): void {
  const { image, frame, viewport: v, width, height, dpr, palette, hover } = options;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = cssRgb(palette.background);
  ctx.fillRect(0, 0, width, height);
  ctx.imageSmoothingEnabled = false;
  const left = -v.x * v.scale;
  const top = -v.y * v.scale;
  ctx.drawImage(
    image,
    0,
    0,
    frame.cols,
    frame.rows,
    left,
    top,
    frame.cols * v.scale,
    frame.rows * v.scale,
  );

  const tileW = frame.tileCols * v.scale;
  const tileH = frame.tileRows * v.scale;
  if (Math.min(tileW, tileH) >= MIN_BORDER_TILE_PX) {
    const { row0, row1, col0, col1 } = visibleGridRange(v, frame, width, height);
    const x0 = Math.max(left, 0);
    const x1 = Math.min(left + frame.cols * v.scale, width);
    const y0 = Math.max(top, 0);
    const y1 = Math.min(top + frame.rows * v.scale, height);
    ctx.beginPath();
    // Half-pixel offsets keep 1-px lines sharp.
    for (let r = Math.max(1, row0); r <= Math.min(row1, frame.gridRows - 1); r++) {
      const y = Math.round(top + r * tileH) + 0.5;
      ctx.moveTo(x0, y);
      ctx.lineTo(x1, y);
    }
    for (let c = Math.max(1, col0); c <= Math.min(col1, frame.gridCols - 1); c++) {
      const x = Math.round(left + c * tileW) + 0.5;
      ctx.moveTo(x, y0);
      ctx.lineTo(x, y1);
    }
    ctx.strokeStyle = palette.tileBorder;
    ctx.lineWidth = 1;
    ctx.stroke();
  }
  ctx.strokeStyle = palette.tileBorder;
  ctx.lineWidth = 1;
  ctx.strokeRect(left - 0.5, top - 0.5, frame.cols * v.scale + 1, frame.rows * v.scale + 1);

  if (hover) {
    const w = Math.min(frame.tileCols, frame.cols - hover.gridCol * frame.tileCols) * v.scale;
    const h = Math.min(frame.tileRows, frame.rows - hover.gridRow * frame.tileRows) * v.scale;
    ctx.strokeStyle = palette.hover;
    ctx.lineWidth = 2;
    ctx.strokeRect(left + hover.gridCol * tileW - 1, top + hover.gridRow * tileH - 1, w + 2, h + 2);
  }
}
