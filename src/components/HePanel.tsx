import { useState } from 'react';
import { useAppStore } from '../store/storeContext';
import { autoHeWorkers, HE_WORKER_CHOICES } from '../store/heSlice';
import { selectHeWorkers, selectRunRingDegree } from '../store/selectors';
import { fmtBytes, fmtInt, fmtMs, fmtNum, fmtPct } from '../viz/format';
import { TableHead } from './TableHead';

const SAMPLE_CHOICES = [16, 64, 256];

/**
 * Real encrypted inference in the HE worker (node-seal): the shown model against the trained,
 * unpruned one, on held-out digits. Measured latency and memory next to the cost model's
 * prediction, the error against the plaintext forward pass and, for classifiers, agreement;
 * then each layer's measured server time next to its predicted time.
 */
export function HePanel() {
  const [samples, setSamples] = useState(16);
  const results = useAppStore((s) => s.heResults);
  const busy = useAppStore((s) => s.busy);
  const hasModel = useAppStore((s) => s.shown !== null);
  const runEncrypted = useAppStore((s) => s.runEncrypted);
  const calibrateHere = useAppStore((s) => s.calibrateHere);
  const runN = useAppStore(selectRunRingDegree);
  const calibratedAt = useAppStore((s) => (runN ? s.calibrated[runN]?.at : undefined));
  const workerChoice = useAppStore((s) => s.heWorkers);
  const workers = useAppStore(selectHeWorkers);
  const cores = useAppStore((s) => s.heCores);
  const setHeWorkers = useAppStore((s) => s.setHeWorkers);
  const measured = (results?.rows ?? []).map((r) => ('error' in r ? null : r));
  const [dense, current] = measured;
  return (
    <section className="he-panel" aria-label="Encrypted inference">
      <header className="section-head">
        <div>
          <h2>Encrypted inference</h2>
          <p className="grid-panel__sub">
            CKKS with node-seal on {workers} HE worker{workers === 1 ? '' : 's'}: plaintext model,
            encrypted input, at N = {runN ?? '–'} (the ring degree above, or the smallest the depth
            needs). A CNN&apos;s client packs image patches (im2col) before encrypting. The MLP
            takes seconds, the autoencoders minutes, with progress and Cancel.
          </p>
          <p className="grid-panel__sub" data-testid="he-timings">
            Predictions use{' '}
            {calibratedAt
              ? `timings calibrated in this browser (${calibratedAt.slice(0, 10)})`
              : 'reference timings (Node 24 on a 2-core server); the first run calibrates this browser once'}
            .{' '}
            <button
              type="button"
              className="link-button"
              disabled={!hasModel || busy !== null || !runN}
              onClick={() => void calibrateHere()}
              data-testid="he-calibrate"
            >
              {calibratedAt ? 'Calibrate again' : 'Calibrate now'}
            </button>
          </p>
        </div>
        <div className="controls__row">
          <label className="field field--inline">
            <span className="field__label">Test images</span>
            <select
              value={samples}
              onChange={(e) => setSamples(Number(e.target.value))}
              aria-label="Test images to encrypt"
            >
              {SAMPLE_CHOICES.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <label
            className="field field--inline"
            title="Each HE worker is a Web Worker with its own SEAL: every layer's output blocks are split across them (same operations, same results), the keys stay in one."
          >
            <span className="field__label">HE workers</span>
            <select
              value={String(workerChoice)}
              onChange={(e) =>
                setHeWorkers(e.target.value === 'auto' ? 'auto' : Number(e.target.value))
              }
              aria-label="HE workers"
              data-testid="he-workers"
            >
              <option value="auto">auto ({autoHeWorkers(cores)})</option>
              {HE_WORKER_CHOICES.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <button
            type="button"
            className="button button--primary"
            disabled={!hasModel || busy !== null}
            onClick={() => void runEncrypted(samples)}
            data-testid="he-run"
          >
            Run encrypted: shown vs trained
          </button>
        </div>
      </header>
      {results?.ringNote && (
        <p className="he-panel__note" role="note" data-testid="he-ring-note">
          {results.ringNote}
        </p>
      )}
      {results && (
        <div className="history__table-wrap">
          <table className="history__table" data-testid="he-results">
            <TableHead
              text={['Model']}
              numeric={[
                'N',
                'Workers',
                'Ciphertexts',
                'Measured',
                'Predicted',
                'Peak memory',
                'Rotations',
                'Max |error|',
                'Agreement',
                'Metric',
              ]}
            />
            <tbody>
              {results.rows.map((r) =>
                'error' in r ? (
                  <tr key={r.label}>
                    <td className="history__label" title={r.label}>
                      {r.label}
                    </td>
                    <td colSpan={10} className="he-panel__error" data-testid="he-error">
                      {r.error}
                    </td>
                  </tr>
                ) : (
                  <tr key={r.label}>
                    <td className="history__label" title={r.label} data-testid="he-row-label">
                      {r.label}
                    </td>
                    <td className="num">{r.ringDegree}</td>
                    <td
                      className="num"
                      data-testid="he-row-workers"
                      title={
                        r.predictedSingleWorkerMs === null
                          ? 'One HE worker'
                          : `Predicted ${fmtMs(r.predictedSingleWorkerMs)} on one worker, ${fmtMs(r.predictedMs)} on ${r.workers}: x${(r.predictedSingleWorkerMs / r.predictedMs).toFixed(2)}`
                      }
                    >
                      {r.workers}
                    </td>
                    <td className="num" data-testid="he-ciphertexts">
                      {fmtInt(r.weightCiphertexts)}
                    </td>
                    <td className="num" data-testid="he-measured">
                      {fmtMs(r.latencyMs)}
                    </td>
                    <td className="num" data-testid="he-predicted">
                      {fmtMs(r.predictedMs)}
                    </td>
                    <td className="num">{fmtBytes(r.peakBytes)}</td>
                    <td className="num">{fmtInt(r.rotations)}</td>
                    <td className="num">{r.maxAbsError.toExponential(1)}</td>
                    <td className="num" data-testid="he-agreement">
                      {r.agreement === null ? '—' : fmtPct(r.agreement)}
                    </td>
                    <td className="num" data-testid="he-metric">
                      {r.metric.name === 'accuracy'
                        ? `acc ${fmtPct(r.metric.value)}`
                        : `mse ${fmtNum(r.metric.value)}`}
                    </td>
                  </tr>
                ),
              )}
            </tbody>
          </table>
          {current && dense && (
            <p className="counts__note" data-testid="he-summary">
              {results.samples} images: {fmtInt(current.weightCiphertexts)} vs{' '}
              {fmtInt(dense.weightCiphertexts)} ciphertexts, latency ×
              {(current.latencyMs / dense.latencyMs).toFixed(2)}, peak memory ×
              {(current.peakBytes / dense.peakBytes).toFixed(2)}; measured / predicted{' '}
              {(current.latencyMs / current.predictedMs).toFixed(2)} and{' '}
              {(dense.latencyMs / dense.predictedMs).toFixed(2)}
              {current.opsMatchPlan && dense.opsMatchPlan
                ? '; operation counts equal the plan'
                : ''}
              ; timings {current.timingSource}
              {current.predictedSingleWorkerMs !== null && (
                <span data-testid="he-pool-speedup">
                  ; on {current.workers} HE workers, predicted ×
                  {(current.predictedSingleWorkerMs / current.predictedMs).toFixed(2)} faster than
                  on one ({fmtMs(current.predictedSingleWorkerMs)})
                </span>
              )}
              .
            </p>
          )}
        </div>
      )}
      {measured.some((r) => r !== null) && (
        <div className="history__table-wrap">
          <p className="counts__note">
            Server time per layer (all chunks; encrypt and decrypt are the client&apos;s), measured
            in the worker next to the cost model.
          </p>
          <table className="history__table" data-testid="he-layers">
            <TableHead
              text={['Model']}
              numeric={[
                'Layer',
                'Ciphertexts',
                'Multiplications',
                'Rotations',
                'Measured',
                'Predicted',
                'Ratio',
              ]}
              titles={{ Ratio: 'Measured / predicted' }}
            />
            <tbody>
              {measured.flatMap((r) =>
                r === null
                  ? []
                  : r.layers.map((l) => (
                      <tr key={`${r.label}-${l.layer}`}>
                        <td className="history__label" title={r.label}>
                          {l.layer === 0 ? r.label : ''}
                        </td>
                        <td className="num">{l.layer + 1}</td>
                        <td className="num">{fmtInt(l.weightCiphertexts)}</td>
                        <td className="num">{fmtInt(l.multiplications)}</td>
                        <td className="num">{fmtInt(l.rotations)}</td>
                        <td className="num" data-testid="he-layer-measured">
                          {fmtMs(l.measuredMs)}
                        </td>
                        <td className="num" data-testid="he-layer-predicted">
                          {fmtMs(l.predictedMs)}
                        </td>
                        <td className="num">{(l.measuredMs / l.predictedMs).toFixed(2)}</td>
                      </tr>
                    )),
              )}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
