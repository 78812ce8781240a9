import { useAppStore } from '../store/storeContext';
import { cssRgb, paletteFor } from '../viz/palette';
import { useResolvedTheme } from '../viz/useResolvedTheme';

/** What the colours of the current view mean. The all-zero swatch is hatched like the grid. */
export function GridLegend() {
  const mode = useAppStore((s) => s.viewMode);
  const p = paletteFor(useResolvedTheme(useAppStore((s) => s.theme)));
  const hatch = `repeating-linear-gradient(135deg, ${cssRgb(p.zeroTileHatch)} 0 1.5px, ${cssRgb(p.zeroTile)} 1.5px 5px)`;
  const gradient =
    mode === 'density'
      ? `linear-gradient(90deg, ${cssRgb(p.densityLow)}, ${cssRgb(p.densityHigh)})`
      : `linear-gradient(90deg, ${cssRgb(p.negative)}, ${cssRgb(p.neutral)}, ${cssRgb(p.positive)})`;
  return (
    <ul className="legend" aria-label="Legend">
      {mode === 'mask' ? (
        <li>
          <span className="legend__swatch" style={{ background: cssRgb(p.kept) }} /> kept weight
        </li>
      ) : (
        <li>
          <span className="legend__ramp" style={{ background: gradient }} />
          {mode === 'density' ? 'tile density: low → full' : 'weight: negative → 0 → positive'}
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
