import type { AppState } from './appStore';
import { exportBaseName, exportNamePartsOf, gridImageFileName } from './exportNames';
import { layerGrid, selectLayers, selectMaxAbs, type LayerGrid } from './selectors';
import type { ViewMode } from './types';

/**
 * Everything the Grid PNG of one layer needs from the state, as plain values: the layer's grid,
 * its colour bound, the title lines and the file name. The drawing is viz's (gridImage.ts).
 */
export interface GridExport {
  readonly data: LayerGrid;
  readonly mode: ViewMode;
  /** The weight colour bound the on-screen grid uses (the dense model's max |w| of the layer). */
  readonly maxAbs: number;
  /** Weights per tile, t1 * t2. */
  readonly tileSize: number;
  readonly title: readonly string[];
  readonly fileName: string;
}

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 }).format;

/** The Grid PNG of `layer` (0-based) at `scale` px per weight; null before a model is shown. */
export function gridExportOf(s: AppState, layer: number, scale: number): GridExport | null {
  const data = layerGrid(s.shown, s.analysis, layer);
  const l = selectLayers(s)[layer];
  const parts = exportNamePartsOf(s);
  if (!data || !l || !parts || !s.shown || !s.analysis) return null;
  const name = s.dense?.name || 'model';
  const label = s.shown.label;
  const t = data.tiling;
  const a = t.orientation === 'A';
  const rows = a ? t.outputs : t.inputs;
  const cols = a ? t.inputs : t.outputs;
  const layers = s.analysis.plan.layers.length;
  const total = s.analysis.cost.total.weightCiphertexts;
  const tiles = `${s.tile.t1}×${s.tile.t2} tiles`;
  const view = `${s.viewMode} view, ${scale} px per weight`;
  const title = [
    label.startsWith(name) ? label : `${name} · ${label}`,
    l.conv
      ? `Layer ${layer + 1} of ${layers}: ${l.conv.label}; ${l.conv.shape}, orientation ${t.orientation}, shown as ${a ? 'K' : 'Kᵀ'} (${rows}×${cols}) in ${tiles}`
      : `Layer ${layer + 1} of ${layers}: ${l.shape} (outputs × inputs), orientation ${t.orientation}, shown as ${a ? 'W' : 'Wᵀ'} (${rows}×${cols}) in ${tiles}`,
    l.conv
      ? `${int(l.conv.kernel.nonZeroTiles)} of ${int(t.tileCount)} kernel tiles non-zero × ${int(l.conv.kernel.positions)} positions = ${int(l.nonZeroTiles)} weight ciphertexts (${int(total)} in the model) · ${view}`
      : `${int(l.nonZeroTiles)} of ${int(t.tileCount)} tiles non-zero = ${int(l.nonZeroTiles)} weight ciphertexts (${int(total)} in the model) · ${view}`,
  ];
  return {
    data,
    mode: s.viewMode,
    maxAbs: selectMaxAbs(s)[layer] ?? 1,
    tileSize: s.tile.t1 * s.tile.t2,
    title,
    fileName: gridImageFileName(exportBaseName(parts), layer, s.viewMode, scale),
  };
}
