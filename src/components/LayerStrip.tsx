import { selectLayers } from '../store/selectors';
import { useAppStore } from '../store/storeContext';
import { fmtInt } from '../viz/format';
import { TileGridView } from './TileGridView';

/** Every layer as a small grid with its tile counts; choosing one opens it in the big view. */
export function LayerStrip() {
  const layers = useAppStore(selectLayers);
  const selected = useAppStore((s) => s.selectedLayer);
  const select = useAppStore((s) => s.selectLayer);
  if (!layers.length) return null;
  return (
    <div className="layer-strip" role="tablist" aria-label="Layers">
      {layers.map((l) => {
        const rows = l.tiling.orientation === 'A' ? l.tiling.outputs : l.tiling.inputs;
        const cols = l.tiling.orientation === 'A' ? l.tiling.inputs : l.tiling.outputs;
        // Thumbnails share one height; narrow matrices get narrow cards.
        const h = 84;
        const w = Math.max(56, Math.min(220, (h * cols) / rows));
        return (
          <button
            key={l.layer}
            type="button"
            role="tab"
            aria-selected={l.layer === selected}
            className={`layer-card${l.layer === selected ? ' is-selected' : ''}`}
            onClick={() => select(l.layer)}
            data-testid={`layer-card-${l.layer}`}
          >
            <span className="layer-card__title">
              Layer {l.layer + 1} <span className="layer-card__orient">{l.tiling.orientation}</span>
            </span>
            <span className="layer-card__grid" style={{ width: w }}>
              <TileGridView layer={l.layer} height={h} />
            </span>
            <span className="layer-card__counts" data-testid={`layer-count-${l.layer}`}>
              {fmtInt(l.nonZeroTiles)} / {fmtInt(l.tiles)} tiles
            </span>
            <span className="layer-card__shape">{l.shape}</span>
          </button>
        );
      })}
    </div>
  );
}
