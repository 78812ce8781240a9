import { selectLayers } from '../store/selectors';
import { useAppStore } from '../store/storeContext';
import type { ViewMode } from '../store/types';
import { fmtInt, fmtMs } from '../viz/format';
import { GridLegend } from './GridLegend';
import { TileGridView } from './TileGridView';
import { useWindowHeight } from '../viz/useWindowHeight';

/** Window height above the big grid at the default layout, px: summary, cards, grid heading. */
const GRID_TOP_ROOM = 520;

const MODES: { value: ViewMode; label: string }[] = [
  { value: 'weights', label: 'Weights' },
  { value: 'mask', label: 'Mask' },
  { value: 'density', label: 'Tile density' },
];

/** The selected layer, big: view-mode switch, the zoomable grid, legend and the layer's figures. */
export function GridPanel() {
  const layers = useAppStore(selectLayers);
  const selected = useAppStore((s) => s.selectedLayer);
  const mode = useAppStore((s) => s.viewMode);
  const setMode = useAppStore((s) => s.setViewMode);
  const windowHeight = useWindowHeight();
  const l = layers[selected];
  if (!l) return null;
  // A convolution is shown as its kernel block: the expanded layer is that block at every position.
  const t = l.conv?.kernel.tiling ?? l.tiling;
  const rows = t.orientation === 'A' ? t.outputs : t.inputs;
  const cols = t.orientation === 'A' ? t.inputs : t.outputs;
  // Tall matrices get up to 460 px, but never more than fits under the summary and cards on
  // this screen (about 460 px of the window above it and 60 px of legend below at 1440 x 900).
  const height = Math.round(
    Math.max(220, Math.min(460, (rows / cols) * 880, windowHeight - GRID_TOP_ROOM)),
  );
  return (
    <section className="grid-panel" aria-label="Selected layer">
      <header className="grid-panel__head">
        <div>
          <h2 data-testid="grid-title">
            Layer {selected + 1}: {l.conv ? l.conv.label : `${t.outputs}×${t.inputs}`}
          </h2>
          {l.conv ? (
            <p className="grid-panel__sub" data-testid="grid-sub">
              {l.conv.shape}, orientation {t.orientation}: shown as{' '}
              {t.orientation === 'A' ? 'K' : 'Kᵀ'} ({rows}×{cols}),{' '}
              {t.orientation === 'A' ? t.outBlocks : t.inBlocks}×
              {t.orientation === 'A' ? t.inBlocks : t.outBlocks} kernel tiles ·{' '}
              {fmtInt(l.conv.kernel.nonZeroTiles)} non-zero ×{fmtInt(l.conv.kernel.positions)}{' '}
              positions = {fmtInt(l.nonZeroTiles)} non-zero tiles of the {l.shape} layer,{' '}
              {fmtInt(l.activeTiles)} ciphertexts · {fmtInt(l.rotations)} rotations ·{' '}
              {fmtMs(l.predictedMs)} predicted
            </p>
          ) : (
            <p className="grid-panel__sub" data-testid="grid-sub">
              Orientation {t.orientation}: shown as {t.orientation === 'A' ? 'W' : 'Wᵀ'} ({rows}×
              {cols}), {t.orientation === 'A' ? t.outBlocks : t.inBlocks}×
              {t.orientation === 'A' ? t.inBlocks : t.outBlocks} tiles · {fmtInt(l.nonZeroTiles)}{' '}
              non-zero, {fmtInt(l.activeTiles)} ciphertexts · {fmtInt(l.rotations)} rotations ·{' '}
              {fmtMs(l.predictedMs)} predicted
            </p>
          )}
        </div>
        <div className="segmented" role="radiogroup" aria-label="View">
          {MODES.map((m) => (
            <label
              key={m.value}
              className={`segmented__option${m.value === mode ? ' is-active' : ''}`}
            >
              <input
                type="radio"
                name="view-mode"
                value={m.value}
                checked={m.value === mode}
                onChange={() => setMode(m.value)}
              />
              {m.label}
            </label>
          ))}
        </div>
      </header>
      <TileGridView layer={selected} height={height} interactive />
      <footer className="grid-panel__foot">
        <GridLegend />
        <span className="grid-panel__help">
          Ctrl + scroll or +/− to zoom, drag or arrow keys to pan, 0 to fit.
        </span>
      </footer>
    </section>
  );
}
