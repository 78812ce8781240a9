import { useMemo } from 'react';
import { markPaint } from '../store/perfMarks';
import type { RunSnapshot } from '../store/runsSlice';
import { ciphertextIndex, ciphertextOffsets, layerGrid, selectMaxAbs } from '../store/selectors';
import { useAppStore } from '../store/storeContext';
import { fmtInt, fmtNum, fmtPct0 } from '../viz/format';
import { paletteFor } from '../viz/palette';
import {
  kernelElement,
  runtimeFrame,
  tileIndexAtPixel,
  weightAt,
  type TileGridData,
} from '../viz/tileRaster';
import { useResolvedTheme } from '../viz/useResolvedTheme';
import { useTileGridCanvas } from '../viz/useTileGridCanvas';

export interface TileGridViewProps {
  readonly layer: number;
  readonly height: number;
  /** Zoom, pan and the hover tooltip. Thumbnails are static. */
  readonly interactive?: boolean;
  /** A recorded run to draw instead of what is shown (the comparison view). */
  readonly source?: RunSnapshot;
}

/**
 * One layer's weights as a tile-grid heatmap in the HE runtime's orientation (A: W, B: W^T),
 * one pixel per weight, tile borders when zoomed in, all-zero tiles hatched. Hover tells the
 * tile's index, kept weights, L2 norm and the ciphertext that holds it.
 */
/** Room the tooltip needs below the pointer (px, five lines); nearer the bottom it opens above. */
const TOOLTIP_HEIGHT = 124;

export function TileGridView({ layer, height, interactive = false, source }: TileGridViewProps) {
  const storeShown = useAppStore((s) => s.shown);
  const storeAnalysis = useAppStore((s) => s.analysis);
  const shown = source?.shown ?? storeShown;
  const analysis = source?.analysis ?? storeAnalysis;
  // Only the main view times its repaints (the responsiveness figure).
  const main = interactive && !source;
  const mode = useAppStore((s) => s.viewMode);
  const theme = useResolvedTheme(useAppStore((s) => s.theme));
  const maxAbs = useAppStore(selectMaxAbs)[layer] ?? 1;
  const palette = paletteFor(theme);

  // A convolution paints its kernel block, never the positions*filters x positions*patchWidth layer.
  const kernel = analysis?.kernels[layer] ?? null;
  const data = useMemo<TileGridData | null>(
    () => layerGrid(shown, analysis, layer),
    [shown, analysis, layer],
  );

  const grid = useTileGridCanvas({
    data,
    mode,
    palette,
    maxAbs,
    height,
    interactive,
    onPainted: main ? markPaint : undefined,
  });
  const offsets = useMemo(() => (analysis ? ciphertextOffsets(analysis.active) : []), [analysis]);

  const tooltip = useMemo(() => {
    const h = grid.hover;
    if (!h || !data) return null;
    const { tiling } = data;
    const t = tileIndexAtPixel(tiling, h.row, h.col);
    const frame = runtimeFrame(tiling);
    const gridRow = Math.floor(h.row / frame.tileRows);
    const gridCol = Math.floor(h.col / frame.tileCols);
    const kept = data.counts[t];
    const o0 = Math.floor(t / tiling.inBlocks) * tiling.blockOut;
    const i0 = (t % tiling.inBlocks) * tiling.blockIn;
    const o1 = Math.min(o0 + tiling.blockOut, tiling.outputs);
    const i1 = Math.min(i0 + tiling.blockIn, tiling.inputs);
    let sq = 0;
    for (let o = o0; o < o1; o++)
      for (let i = i0; i < i1; i++) sq += data.weights[o * tiling.inputs + i] ** 2;
    const area = (o1 - o0) * (i1 - i0);
    // A kernel tile stands for one ciphertext per position; it has no single number.
    const ct =
      kernel || !analysis ? null : ciphertextIndex(analysis.active[layer], t, offsets[layer] ?? 0);
    const { o, i } = weightAt(tiling, h.row, h.col);
    const w = data.weights[o * tiling.inputs + i];
    return {
      t,
      gridRow,
      gridCol,
      kept,
      area,
      norm: Math.sqrt(sq),
      ct,
      total: offsets.at(-1) ?? 0,
      o,
      i,
      w,
      keptW: data.mask[o * tiling.inputs + i] === 1,
      element: kernel ? kernelElement(kernel.geometry, i) : null,
      x: h.x,
      y: h.y,
    };
  }, [grid.hover, data, offsets, layer, kernel, analysis]);

  const tiling = data?.tiling;
  const label = kernel
    ? `Layer ${layer + 1} kernel, ${kernel.tiling.outputs}×${kernel.tiling.inputs} (filters × patch, padding last), orientation ${kernel.tiling.orientation}, ${kernel.nonZeroTiles} of ${kernel.tiling.tileCount} kernel tiles non-zero at each of ${kernel.positions} positions`
    : tiling
      ? `Layer ${layer + 1} weights, ${tiling.outputs}×${tiling.inputs}, orientation ${tiling.orientation}, ${analysis?.cost.layers[layer].nonZeroWeightTiles ?? 0} of ${tiling.tileCount} tiles non-zero`
      : `Layer ${layer + 1}`;

  return (
    <div
      className={`tile-grid${interactive ? ' tile-grid--interactive' : ''}`}
      ref={grid.containerRef}
      style={{ height }}
      data-testid={
        main ? 'tile-grid-main' : source ? `tile-grid-compare-${layer}` : `tile-grid-thumb-${layer}`
      }
    >
      <canvas
        ref={grid.canvasRef}
        style={{ width: grid.width, height }}
        role="img"
        aria-label={label}
        tabIndex={interactive ? 0 : -1}
        onKeyDown={
          interactive
            ? (e) => {
                const step = 40;
                const keys: Record<string, () => void> = {
                  '+': () => grid.zoomBy(1.5),
                  '=': () => grid.zoomBy(1.5),
                  '-': () => grid.zoomBy(1 / 1.5),
                  '0': () => grid.resetZoom(),
                  ArrowLeft: () => grid.pan(step, 0),
                  ArrowRight: () => grid.pan(-step, 0),
                  ArrowUp: () => grid.pan(0, step),
                  ArrowDown: () => grid.pan(0, -step),
                };
                const act = keys[e.key];
                if (act) {
                  e.preventDefault();
                  act();
                }
              }
            : undefined
        }
        {...grid.handlers}
      />
      {interactive && (
        <div className="tile-grid__zoom" role="group" aria-label="Zoom">
          <button
            type="button"
            className="button button--icon"
            onClick={() => grid.zoomBy(1.5)}
            aria-label="Zoom in"
          >
            +
          </button>
          <button
            type="button"
            className="button button--icon"
            onClick={() => grid.zoomBy(1 / 1.5)}
            aria-label="Zoom out"
          >
            −
          </button>
          <button
            type="button"
            className="button button--icon"
            onClick={grid.resetZoom}
            aria-label="Fit the whole matrix"
            disabled={!grid.zoomed}
          >
            ⤢
          </button>
        </div>
      )}
      {tooltip && (
        <div
          className="tooltip"
          role="tooltip"
          data-testid="tile-tooltip"
          style={{
            left: Math.min(tooltip.x + 14, Math.max(0, grid.width - 230)),
            // Flipped above the pointer near the bottom edge, so it is never cut off.
            top:
              tooltip.y + 14 + TOOLTIP_HEIGHT > height
                ? Math.max(0, tooltip.y - TOOLTIP_HEIGHT)
                : tooltip.y + 14,
          }}
        >
          <strong>
            Tile {fmtInt(tooltip.t)} · row {tooltip.gridRow}, col {tooltip.gridCol}
          </strong>
          <span>
            {tooltip.kept} of {tooltip.area} weights kept ({fmtPct0(tooltip.kept / tooltip.area)})
          </span>
          <span>‖tile‖₂ = {fmtNum(tooltip.norm)}</span>
          {kernel ? (
            <span>
              {tooltip.kept === 0
                ? `All zero: skipped at all ${fmtInt(kernel.positions)} positions`
                : `One ciphertext at each of ${fmtInt(kernel.positions)} positions`}
            </span>
          ) : (
            <span>
              {tooltip.ct !== null
                ? `Ciphertext ${fmtInt(tooltip.ct + 1)} of ${fmtInt(tooltip.total)}`
                : tooltip.kept === 0
                  ? 'All zero: no ciphertext, skipped'
                  : 'Non-zero but unused (its inputs are pruned away or its outputs feed nothing): folded into a constant, no ciphertext'}
            </span>
          )}
          <span className="tooltip__muted" data-testid="tile-tooltip-weight">
            {tooltip.element
              ? tooltip.element.padding
                ? `Filter ${tooltip.o + 1}, patch padding column ${tooltip.i + 1} (always 0)`
                : `Filter ${tooltip.o + 1}, patch (dy ${tooltip.element.dy}, dx ${tooltip.element.dx}, c ${tooltip.element.c}) = ${tooltip.keptW ? fmtNum(tooltip.w) : 'pruned'}`
              : `W[${tooltip.o}, ${tooltip.i}] = ${tooltip.keptW ? fmtNum(tooltip.w) : 'pruned'}`}
          </span>
        </div>
      )}
    </div>
  );
}
