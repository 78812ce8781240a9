import { useAppStore } from '../store/storeContext';
import { fmtInt, fmtPct0 } from '../viz/format';
import { TileGridView } from './TileGridView';

/** Two recorded runs side by side: the selected layer's grid and the counts of each. */
export function ComparePanel() {
  const compare = useAppStore((s) => s.compare);
  const snapshots = useAppStore((s) => s.snapshots);
  const runs = useAppStore((s) => s.runs);
  const layer = useAppStore((s) => s.selectedLayer);
  const toggle = useAppStore((s) => s.toggleCompare);
  const chosen = compare
    .map((id) => ({ id, run: runs.find((r) => r.id === id), snap: snapshots[id] }))
    .filter((c) => c.run && c.snap);
  if (chosen.length < 2) return null;
  return (
    <section className="compare" aria-label="Two runs side by side" data-testid="compare-panel">
      <header className="section-head">
        <h2>Before / after: layer {layer + 1}</h2>
        <button
          type="button"
          className="button button--ghost"
          onClick={() => chosen.forEach((c) => toggle(c.id))}
        >
          Close
        </button>
      </header>
      <div className="compare__grid">
        {chosen.map(({ id, run, snap }) => {
          const tiling = snap!.analysis.plan.layers[layer];
          if (!tiling) return null;
          const nonZero = snap!.analysis.cost.layers[layer].nonZeroWeightTiles;
          // Tiles the layer can cost (a convolution: its full kernel's copies, not the whole plan).
          const tiles = snap!.analysis.denseCost.layers[layer].nonZeroWeightTiles;
          return (
            <figure key={id} className="compare__item">
              <figcaption>
                <strong>
                  #{id} {run!.label}
                </strong>
                <span>
                  layer: {fmtInt(nonZero)} / {fmtInt(tiles)} tiles · model:{' '}
                  {fmtInt(run!.ciphertexts)} ciphertexts (
                  {fmtPct0(1 - run!.ciphertexts / run!.denseCiphertexts)} fewer)
                </span>
              </figcaption>
              <TileGridView layer={layer} height={220} interactive source={snap} />
            </figure>
          );
        })}
      </div>
    </section>
  );
}
