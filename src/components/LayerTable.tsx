import { selectLayers } from '../store/selectors';
import { useAppStore } from '../store/storeContext';
import { fmtBytes, fmtInt, fmtMs } from '../viz/format';
import { TableHead } from './TableHead';

/** The cost model's per-layer breakdown of what is shown: tiles, operations, time and model bytes. */
export function LayerTable() {
  const layers = useAppStore(selectLayers);
  const select = useAppStore((s) => s.selectLayer);
  if (!layers.length) return null;
  return (
    <details className="layer-table">
      <summary>Per-layer breakdown</summary>
      <table className="history__table" data-testid="layer-table">
        <TableHead
          text={['Layer', 'Orientation', 'W']}
          numeric={[
            'Tiles',
            'Non-zero',
            'Multiplied',
            'Multiplications',
            'Rotations',
            'Predicted',
            'Model bytes',
          ]}
        />
        <tbody>
          {layers.map((l) => (
            <tr key={l.layer}>
              <td>
                <button type="button" className="link-button" onClick={() => select(l.layer)}>
                  {l.layer + 1}
                </button>
              </td>
              <td>{l.tiling.orientation}</td>
              <td>{l.conv ? `${l.conv.label} (${l.shape} tied)` : l.shape}</td>
              <td className="num">{fmtInt(l.tiles)}</td>
              <td className="num">{fmtInt(l.nonZeroTiles)}</td>
              <td className="num">{fmtInt(l.activeTiles)}</td>
              <td className="num">{fmtInt(l.multiplications)}</td>
              <td className="num">{fmtInt(l.rotations)}</td>
              <td className="num">{fmtMs(l.predictedMs)}</td>
              <td className="num">{fmtBytes(l.modelBytes)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}
