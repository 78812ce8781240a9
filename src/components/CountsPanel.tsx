import { selectCounts, selectRing } from '../store/selectors';
import { useAppStore } from '../store/storeContext';
import { fmtBytes, fmtInt, fmtMs, fmtPct, fmtPct0 } from '../viz/format';
import { LayerTable } from './LayerTable';

const TITLES = {
  ciphertexts:
    'Weight tiles the encrypted model stores and multiplies: non-zero, with a live input and a needed output. An all-zero tile costs nothing; so does a tile of a neuron that pruning removed entirely (its output folds into a constant).',
  latency:
    'Cost model: one batch of encrypted images through the plan (client encryption and decryption included), priced with the timing table named below.',
  memory: 'Model, keys, encrypted inputs and the working set of the largest layer, at once.',
  model: 'The encoded weight tiles, biases and activation constants the server keeps.',
  zeros:
    'Fraction of weights exactly zero in what is shown (a convolution’s kernel once per position). After HE-PEx’s expansion it is below the target: kept tiles get all their weights back.',
};

/**
 * "ciphertexts: before -> after" and the cost model's predicted latency and memory, for the
 * dense model (before) and what is shown (after). Updates on every slider frame; sticks to the
 * top of the page so the counts stay in sight while a slider moves.
 */
export function CountsPanel() {
  const c = useAppStore(selectCounts);
  const ring = useAppStore(selectRing);
  const label = useAppStore((s) => s.shown?.label ?? '');
  const tile = useAppStore((s) => s.tile);
  if (!c) return null;
  const insecure = !c.heFits;
  return (
    <section
      className="counts"
      aria-label="Ciphertext counts and predicted cost"
      data-testid="counts-panel"
    >
      <div className="counts__hero" title={TITLES.ciphertexts}>
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
        <div title={TITLES.latency}>
          <dt>Predicted latency, {fmtInt(c.batch)} images</dt>
          <dd className={insecure ? 'is-struck' : ''}>
            {fmtMs(c.predictedMsBefore)} →{' '}
            <strong data-testid="latency-after">{fmtMs(c.predictedMsAfter)}</strong>
          </dd>
        </div>
        <div title={TITLES.memory}>
          <dt>Peak memory</dt>
          <dd>
            {fmtBytes(c.peakBytesBefore)} → <strong>{fmtBytes(c.peakBytesAfter)}</strong>
          </dd>
        </div>
        <div title={TITLES.model}>
          <dt>Model size</dt>
          <dd>
            {fmtBytes(c.modelBytesBefore)} → <strong>{fmtBytes(c.modelBytesAfter)}</strong>
          </dd>
        </div>
        <div title={TITLES.zeros}>
          <dt>Zero weights</dt>
          <dd>
            <strong data-testid="zero-weights">{fmtPct0(c.zeroWeights)}</strong>
          </dd>
        </div>
      </dl>
      {insecure && (
        <p className="counts__insecure" aria-live="polite" data-testid="insecure-warning">
          Not secure: N = {tile.ringDegree} cannot carry this model&apos;s {c.depth} levels at
          128-bit security, so these figures describe parameters nobody should use.{' '}
          {ring?.secure
            ? `The smallest secure ring degree is ${ring.secure}; an encrypted run uses it.`
            : 'No ring degree carries this depth; the model cannot run encrypted.'}
        </p>
      )}
      <p className="counts__note">
        {label} · tiles {tile.t1}×{tile.t2}, N = {tile.ringDegree}, batch {tile.batch}, depth{' '}
        {c.depth} ·{' '}
        <span data-testid="timing-source" data-calibrated={c.calibrated}>
          timings {c.calibrated ? 'calibrated in this browser' : c.timingSource}
        </span>
      </p>
    </section>
  );
}

/** The cost model's per-layer breakdown, under the grids (the headline stays on top). */
export function CountsDetails() {
  const hasCounts = useAppStore((s) => s.analysis !== null);
  if (!hasCounts) return null;
  return (
    <section className="counts-details" aria-label="Per-layer cost">
      <LayerTable />
    </section>
  );
}
