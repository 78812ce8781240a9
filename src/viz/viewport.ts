/**
 * Zoom and pan of a heatmap: which part of a rows x cols pixel frame a canvas of width x height
 * CSS pixels shows. `scale` is CSS pixels per weight; (x, y) is the frame point (column, row) at
 * the canvas's top-left corner. Pure functions, so the mapping is tested without a browser.
 */
export interface Viewport {
  readonly scale: number;
  readonly x: number;
  readonly y: number;
}

export interface FrameSize {
  readonly rows: number;
  readonly cols: number;
}

export const MAX_SCALE = 48;

/** The whole frame, centred, as large as fits. */
export function fitViewport(frame: FrameSize, width: number, height: number): Viewport {
  const scale = Math.max(1e-3, Math.min(width / frame.cols, height / frame.rows));
  return { scale, x: -(width / scale - frame.cols) / 2, y: -(height / scale - frame.rows) / 2 };
}

/** Keeps the frame on screen: centred on an axis where it fits, edge-clamped where it does not. */
export function clampViewport(
  v: Viewport,
  frame: FrameSize,
  width: number,
  height: number,
): Viewport {
  const fit = fitViewport(frame, width, height);
  const scale = Math.max(fit.scale, Math.min(MAX_SCALE, v.scale));
  const clampAxis = (pos: number, size: number, view: number) => {
    const visible = view / scale;
    if (visible >= size) return -(visible - size) / 2;
    return Math.max(0, Math.min(size - visible, pos));
  };
  return { scale, x: clampAxis(v.x, frame.cols, width), y: clampAxis(v.y, frame.rows, height) };
}

/** Zooms by `factor` keeping the frame point under canvas point (px, py) fixed. */
export function zoomAt(
  v: Viewport,
  factor: number,
  px: number,
  py: number,
  frame: FrameSize,
  width: number,
  height: number,
): Viewport {
  const fx = v.x + px / v.scale;
  const fy = v.y + py / v.scale;
  const scale = Math.max(
    fitViewport(frame, width, height).scale,
    Math.min(MAX_SCALE, v.scale * factor),
  );
  return clampViewport({ scale, x: fx - px / scale, y: fy - py / scale }, frame, width, height);
}

/** Moves the view by (dx, dy) CSS pixels (a drag to the right shows what is further left). */
export function panBy(
  v: Viewport,
  dx: number,
  dy: number,
  frame: FrameSize,
  width: number,
  height: number,
): Viewport {
  return clampViewport(
    { scale: v.scale, x: v.x - dx / v.scale, y: v.y - dy / v.scale },
    frame,
    width,
    height,
  );
}

/** The frame pixel (row, col) under canvas point (px, py), or null outside the frame. */
export function pixelAt(
  v: Viewport,
  px: number,
  py: number,
  frame: FrameSize,
): { row: number; col: number } | null {
  const col = Math.floor(v.x + px / v.scale);
  const row = Math.floor(v.y + py / v.scale);
  if (row < 0 || col < 0 || row >= frame.rows || col >= frame.cols) return null;
  return { row, col };
}
