import { selectCounts } from '../store/selectors';
import { useAppStore } from '../store/storeContext';
import { fmtBytes, fmtInt, fmtMs, fmtPct, fmtPct0 } from '../viz/format';
import { LayerTable } from './LayerTable';

/**
 * "ciphertexts: before -> after" and the cost model's predicted latency and memory, for the
 * dense model (before) and what is shown (after). Updates on every slider frame.
 */
export function CountsPanel() {
  const c = useAppStore(selectCounts);
  const label = useAppStore((s) => s.shown?.label ?? '');
  const tile = useAppStore((s) => s.tile);
  if (!c) return null;
  return (
    <section
      className="counts"
      aria-label="Ciphertext counts and predicted cost"
      data-testid="counts-panel"
    >
      <div className="counts__hero">
        <span className="counts__caption">Weight ciphertexts</span>
        <span className="counts__numbers" data-testid="ciphertext-counts" aria-live="polite">
          <span data-testid="ciphertexts-before">{fmtInt(c.before)}</span>
          <span className="counts__arrow" aria-label="becomes">
            →
          </span>
          <strong data-testid="ciphertexts-after">{fmtInt(c.after)}</strong>
        </span>
        <span
          className={`counts__badge${c.saved > 0 ? ' is-good' : ''}`}
          data-testid="ciphertexts-saved"
        >
          {c.saved > 0 ? `${fmtPct(c.saved)} fewer` : 'no saving'}
        </span>
      </div>
      <dl className="counts__grid">
        <div>
          <dt>Predicted latency</dt>
          <dd>
            {fmtMs(c.predictedMsBefore)} →{' '}
            <strong data-testid="latency-after">{fmtMs(c.predictedMsAfter)}</strong>
          </dd>
        </div>
        <div>
          <dt>Peak memory</dt>
          <dd>
            {fmtBytes(c.peakBytesBefore)} → <strong>{fmtBytes(c.peakBytesAfter)}</strong>
          </dd>
        </div>
        <div>
          <dt>Model size</dt>
          <dd>
            {fmtBytes(c.modelBytesBefore)} → <strong>{fmtBytes(c.modelBytesAfter)}</strong>
          </dd>
        </div>
        <div>
          <dt>Weight sparsity</dt>
          <dd>
            <strong data-testid="weight-sparsity">{fmtPct0(c.sparsity)}</strong>
          </dd>
        </div>
      </dl>
      <p className="counts__note">
        {label} · tiles {tile.t1}×{tile.t2}, N = {tile.ringDegree}, batch {tile.batch}, depth{' '}
        {c.depth}
        {c.heFits ? '' : ' (too deep for 128-bit security at this N)'} · timings: {c.timingSource}
      </p>
      <LayerTable />
    </section>
  );
}
