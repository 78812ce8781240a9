import { selectMaxAbs } from '../store/selectors';
import { useAppStore } from '../store/storeContext';
import { cssRgb, paletteFor } from '../viz/palette';
import { densityRampTicks, tickAlign, weightRampTicks } from '../viz/rampTicks';
import { useResolvedTheme } from '../viz/useResolvedTheme';

/**
 * What the colours of the current view mean, with numbers: the selected layer's weights
 * (-max, -max/4, 0, max/4, max of the dense model's layer, the grid's fixed colour bound) or the
 * kept weights per t1 x t2 tile. The all-zero swatch is hatched like the grid.
 */
export function GridLegend() {
  const mode = useAppStore((s) => s.viewMode);
  const layer = useAppStore((s) => s.selectedLayer);
  const maxAbs = useAppStore(selectMaxAbs)[layer] ?? 0;
  const tileSize = useAppStore((s) => s.tile.t1 * s.tile.t2);
  const p = paletteFor(useResolvedTheme(useAppStore((s) => s.theme)));
  const hatch = `repeating-linear-gradient(135deg, ${cssRgb(p.zeroTileHatch)} 0 1.5px, ${cssRgb(p.zeroTile)} 1.5px 5px)`;
  // Both gradients spread their colours evenly, as the ramp positions of rampTicks assume.
  const gradient =
    mode === 'density'
      ? `linear-gradient(90deg, ${cssRgb(p.densityLow)}, ${cssRgb(p.densityHigh)})`
      : `linear-gradient(90deg, ${cssRgb(p.negative)}, ${cssRgb(p.neutral)}, ${cssRgb(p.positive)})`;
  const ticks = mode === 'density' ? densityRampTicks(tileSize) : weightRampTicks(maxAbs);
  return (
    <ul className="legend" aria-label="Legend">
      {mode === 'mask' ? (
        <li>
          <span className="legend__swatch" style={{ background: cssRgb(p.kept) }} /> kept weight
        </li>
      ) : (
        <li className="legend__scale">
          <span className="legend__ramp-box">
            <span className="legend__ramp" style={{ background: gradient }} />
            <span className="legend__ticks" data-testid="legend-ticks">
              {ticks.map((t) => (
                <span
                  key={t.label}
                  className={`legend__tick legend__tick--${tickAlign(t)}`}
                  style={{ left: `${+(t.position * 100).toFixed(3)}%` }}
                  data-testid="legend-tick"
                >
                  {t.label}
                </span>
              ))}
            </span>
          </span>
          {mode === 'density' ? 'weights kept per tile' : 'weight (square-root scale)'}
        </li>
      )}
      {mode !== 'density' && (
        <li>
          <span
            className="legend__swatch legend__swatch--outlined"
            style={{ background: cssRgb(p.prunedInLiveTile) }}
          />{' '}
          pruned, tile still paid for
        </li>
      )}
      <li>
        <span className="legend__swatch legend__swatch--outlined" style={{ background: hatch }} />{' '}
        all-zero tile: no ciphertext
      </li>
    </ul>
  );
}
