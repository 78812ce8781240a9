import { selectLayers } from '../store/selectors';
import { useAppStore } from '../store/storeContext';
import { fmtBytes, fmtInt, fmtMs } from '../viz/format';
import { TableHead } from './TableHead';

const LAYER_COLUMN_TITLES: Record<string, string> = {
  W: 'The weight matrix, outputs × inputs (a convolution: its tied kernel)',
  Orientation: 'A: W cut as [out/t1, in/t2], summed over tile columns; B: Wᵀ as [in/t1, out/t2]',
  Tiles: 'Weight tiles the layer can cost (a convolution: its kernel’s copies only)',
  'Non-zero': 'Tiles holding at least one kept weight',
  Ciphertexts:
    'Non-zero tiles with a live input and a needed output: stored and multiplied. These add up to the headline count; the rest fold into constants.',
  Multiplications: 'Plaintext-ciphertext products per batch (tiles, activation, masks)',
  Rotations: 'Rotate-and-add steps per batch: the costly key-switching operations',
  Predicted: 'Cost model time of the layer for one batch',
  'Model bytes': 'Encoded weight tiles, biases and constants the layer keeps',
};

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
            'Ciphertexts',
            'Multiplications',
            'Rotations',
            'Predicted',
            'Model bytes',
          ]}
          titles={LAYER_COLUMN_TITLES}
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
              <td className="num" data-testid={`layer-table-ciphertexts-${l.layer}`}>
                {fmtInt(l.activeTiles)}
              </td>
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
