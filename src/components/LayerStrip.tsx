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
        // A convolution is painted as its kernel block (see TileGridView), so size the card by it.
        const t = l.conv?.kernel.tiling ?? l.tiling;
        const rows = t.orientation === 'A' ? t.outputs : t.inputs;
        const cols = t.orientation === 'A' ? t.inputs : t.outputs;
        // Thumbnails share one height; narrow matrices get narrow cards.
        const h = 52;
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
            <span
              className="layer-card__counts"
              data-testid={`layer-count-${l.layer}`}
              title={`${fmtInt(l.activeTiles)} of the layer's ${fmtInt(l.tiles)} weight tiles are ciphertexts (stored and multiplied). ${
                l.nonZeroTiles > l.activeTiles
                  ? `${fmtInt(l.nonZeroTiles - l.activeTiles)} more are non-zero but unused: their input neurons are pruned away or their outputs feed nothing, so they fold into constants.`
                  : 'Every non-zero tile is one.'
              }`}
            >
              <span data-testid={`layer-ciphertexts-${l.layer}`}>
                <strong>{fmtInt(l.activeTiles)}</strong> / {fmtInt(l.tiles)} ciphertexts
              </span>
              {l.conv ? (
                <span className="layer-card__detail">
                  {fmtInt(l.conv.kernel.nonZeroTiles)} kernel tiles ×
                  {fmtInt(l.conv.kernel.positions)} = {fmtInt(l.nonZeroTiles)} non-zero
                </span>
              ) : (
                l.nonZeroTiles > l.activeTiles && (
                  <span className="layer-card__detail">
                    {fmtInt(l.nonZeroTiles)} non-zero, {fmtInt(l.nonZeroTiles - l.activeTiles)}{' '}
                    unused
                  </span>
                )
              )}
            </span>
            <span className="layer-card__shape">{l.conv ? l.conv.label : l.shape}</span>
          </button>
        );
      })}
    </div>
  );
}
