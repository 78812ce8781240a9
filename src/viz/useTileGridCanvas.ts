import {
  useCallback,
  useEffect,
  useLayoutEffect,
  useRef,
  useState,
  type PointerEvent as ReactPointerEvent,
} from 'react';
import type { Palette } from './palette';
import { paintTileGrid } from './tileGridPainter';
import {
  rasterizeTileGrid,
  runtimeFrame,
  type GridViewMode,
  type RuntimeFrame,
  type TileGridData,
} from './tileRaster';
import { clampViewport, fitViewport, panBy, pixelAt, zoomAt, type Viewport } from './viewport';

export interface TileGridCanvasOptions {
  readonly data: TileGridData | null;
  readonly mode: GridViewMode;
  readonly palette: Palette;
  /** Weight colour scale bound (|w|), fixed per model so colours do not jump while pruning. */
  readonly maxAbs: number;
  /** CSS height of the canvas; width follows the container. */
  readonly height: number;
  /** Wheel zoom, drag pan and hover. Off for thumbnails. */
  readonly interactive?: boolean;
  /** Called after every repaint caused by new data (for performance marks). */
  readonly onPainted?: () => void;
}

export interface HoverPixel {
  readonly row: number;
  readonly col: number;
  /** Pointer position in the container, CSS px, for placing a tooltip. */
  readonly x: number;
  readonly y: number;
}

/**
 * Binds the pure rasterizer and painter to a canvas: resizes with its container (ResizeObserver,
 * device-pixel-ratio aware), keeps the raster in an offscreen canvas (repainted only when data,
 * mode or palette change), and redraws through the viewport on zoom, pan and hover without
 * re-rasterizing or re-rendering React.
 */
export function useTileGridCanvas(options: TileGridCanvasOptions) {
  const { data, mode, palette, maxAbs, height, interactive = false, onPainted } = options;
  const containerRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const rasterRef = useRef<{
    canvas: HTMLCanvasElement;
    buffer: Uint8ClampedArray | undefined;
  } | null>(null);
  const frameRef = useRef<RuntimeFrame | null>(null);
  const viewportRef = useRef<Viewport | null>(null);
  const hoverCellRef = useRef<{ gridRow: number; gridCol: number } | null>(null);
  const dragRef = useRef<{ x: number; y: number; moved: boolean } | null>(null);
  const [width, setWidth] = useState(0);
  const [hover, setHover] = useState<HoverPixel | null>(null);
  const [zoomed, setZoomed] = useState(false);

  useLayoutEffect(() => {
    const el = containerRef.current;
    if (!el) return;
    setWidth(el.clientWidth);
    if (typeof ResizeObserver === 'undefined') return;
    const observer = new ResizeObserver((entries) =>
      setWidth(Math.floor(entries[0].contentRect.width)),
    );
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  const paint = useCallback(() => {
    const canvas = canvasRef.current;
    const raster = rasterRef.current;
    const frame = frameRef.current;
    const viewport = viewportRef.current;
    if (!canvas || !raster || !frame || !viewport || width <= 0) return;
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    const dpr = typeof window !== 'undefined' ? window.devicePixelRatio || 1 : 1;
    paintTileGrid(ctx, {
      image: raster.canvas,
      frame,
      viewport,
      width,
      height,
      dpr,
      palette,
      hover: hoverCellRef.current,
    });
  }, [width, height, palette]);

  // Backing-store size follows the CSS size and the device pixel ratio (crisp on HiDPI screens).
  useLayoutEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas || width <= 0) return;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    const frame = frameRef.current;
    if (frame)
      viewportRef.current =
        zoomed && viewportRef.current
          ? clampViewport(viewportRef.current, frame, width, height)
          : fitViewport(frame, width, height);
    paint();
    // zoomed is read, not tracked: a resize keeps the user's zoom, it does not reset on zoom.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [width, height, paint]);

  // New data, view mode or palette: re-rasterize, then repaint.
  useLayoutEffect(() => {
    if (!data) return;
    const frame = runtimeFrame(data.tiling);
    const previous = frameRef.current;
    const sameShape =
      previous &&
      previous.rows === frame.rows &&
      previous.cols === frame.cols &&
      previous.tileRows === frame.tileRows &&
      previous.tileCols === frame.tileCols;
    frameRef.current = frame;
    if (!rasterRef.current)
      rasterRef.current = { canvas: document.createElement('canvas'), buffer: undefined };
    const raster = rasterRef.current;
    const image = rasterizeTileGrid(data, mode, palette, maxAbs, raster.buffer);
    raster.buffer = image.pixels;
    if (raster.canvas.width !== image.width || raster.canvas.height !== image.height) {
      raster.canvas.width = image.width;
      raster.canvas.height = image.height;
    }
    const rctx = raster.canvas.getContext('2d');
    rctx?.putImageData(
      new ImageData(image.pixels as Uint8ClampedArray<ArrayBuffer>, image.width, image.height),
      0,
      0,
    );
    if (!sameShape || !viewportRef.current) {
      viewportRef.current = width > 0 ? fitViewport(frame, width, height) : null;
      setZoomed(false);
      hoverCellRef.current = null;
      setHover(null);
    }
    paint();
    onPainted?.();
  }, [data, mode, palette, maxAbs, paint, onPainted, width, height]);

  const setViewport = useCallback(
    (next: Viewport) => {
      viewportRef.current = next;
      const frame = frameRef.current;
      if (frame) setZoomed(next.scale > fitViewport(frame, width, height).scale * 1.001);
      paint();
    },
    [paint, width, height],
  );

  const zoomBy = useCallback(
    (factor: number, px = width / 2, py = height / 2) => {
      const v = viewportRef.current;
      const frame = frameRef.current;
      if (v && frame) setViewport(zoomAt(v, factor, px, py, frame, width, height));
    },
    [setViewport, width, height],
  );

  const resetZoom = useCallback(() => {
    const frame = frameRef.current;
    if (frame) setViewport(fitViewport(frame, width, height));
  }, [setViewport, width, height]);

  const pan = useCallback(
    (dx: number, dy: number) => {
      const v = viewportRef.current;
      const frame = frameRef.current;
      if (v && frame) setViewport(panBy(v, dx, dy, frame, width, height));
    },
    [setViewport, width, height],
  );

  // Wheel zoom needs a non-passive listener (React's onWheel is passive).
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas || !interactive) return;
    const onWheel = (e: WheelEvent) => {
      // Without a modifier the wheel scrolls the page as everywhere else; Ctrl/Cmd (or a
      // trackpad pinch, which browsers report as Ctrl + wheel) zooms the grid.
      if (!e.ctrlKey && !e.metaKey) return;
      e.preventDefault();
      const rect = canvas.getBoundingClientRect();
      zoomBy(Math.exp(-e.deltaY * 0.002), e.clientX - rect.left, e.clientY - rect.top);
    };
    canvas.addEventListener('wheel', onWheel, { passive: false });
    return () => canvas.removeEventListener('wheel', onWheel);
  }, [interactive, zoomBy]);

  const updateHover = useCallback(
    (x: number, y: number) => {
      const v = viewportRef.current;
      const frame = frameRef.current;
      const p = v && frame ? pixelAt(v, x, y, frame) : null;
      const cell =
        p && frame
          ? {
              gridRow: Math.floor(p.row / frame.tileRows),
              gridCol: Math.floor(p.col / frame.tileCols),
            }
          : null;
      const prev = hoverCellRef.current;
      hoverCellRef.current = cell;
      if (cell?.gridRow !== prev?.gridRow || cell?.gridCol !== prev?.gridCol) paint();
      setHover(p ? { ...p, x, y } : null);
    },
    [paint],
  );

  const handlers = interactive
    ? {
        onPointerDown: (e: ReactPointerEvent<HTMLCanvasElement>) => {
          dragRef.current = { x: e.clientX, y: e.clientY, moved: false };
          e.currentTarget.setPointerCapture?.(e.pointerId);
        },
        onPointerMove: (e: ReactPointerEvent<HTMLCanvasElement>) => {
          const rect = e.currentTarget.getBoundingClientRect();
          const drag = dragRef.current;
          if (drag) {
            const dx = e.clientX - drag.x;
            const dy = e.clientY - drag.y;
            if (Math.abs(dx) + Math.abs(dy) > 0) {
              drag.moved = true;
              drag.x = e.clientX;
              drag.y = e.clientY;
              pan(dx, dy);
            }
          }
          updateHover(e.clientX - rect.left, e.clientY - rect.top);
        },
        onPointerUp: () => {
          dragRef.current = null;
        },
        onPointerLeave: () => {
          dragRef.current = null;
          hoverCellRef.current = null;
          setHover(null);
          paint();
        },
      }
    : {};

  return { containerRef, canvasRef, width, hover, zoomed, zoomBy, resetZoom, pan, handlers };
}
