import { useMemo } from 'react';
import { useAppStore } from '../store/storeContext';
import { METHOD_LABELS, type RunRecord } from '../store/types';
import { fmtBytes, fmtInt, fmtMs, fmtNum, fmtPct, fmtPct0 } from '../viz/format';
import { ParetoPlot, type ParetoPoint } from './ParetoPlot';
import { TableHead } from './TableHead';

/** The metric a run is judged by, as a cost (lower is better), relative to the trained model. */
function metricCost(run: RunRecord, base: RunRecord | undefined): number | undefined {
  const m = run.metrics;
  const b = base?.metrics;
  if (!m || !b) return undefined;
  if (m.accuracy !== undefined && b.accuracy !== undefined) return (b.accuracy - m.accuracy) * 100;
  if (m.mse !== undefined && b.mse !== undefined) return m.mse - b.mse;
  return undefined;
}

/** "acc 97.1%" or "mse 0.0087", or a dash while the run is not evaluated. */
export function metricText(run: Pick<RunRecord, 'metrics'>): string {
  if (run.metrics?.accuracy !== undefined) return `acc ${fmtPct(run.metrics.accuracy)}`;
  if (run.metrics?.mse !== undefined) return `mse ${fmtNum(run.metrics.mse)}`;
  return '—';
}

const COLUMN_TITLES: Record<string, string> = {
  Compare: 'Choose two runs to see their grids side by side',
  Data: 'The data the metric was measured on; runs on other data are never plotted together',
  Tile: 'Tile shape · the ring degree N it was priced at',
  'Zero weights':
    'Fraction of weights exactly zero, measured on the run’s network (after HE-PEx’s expansion this is below the target in the label)',
  Ciphertexts: 'Weight ciphertexts of the run / of the unpruned model at the same tile shape',
  Predicted: 'Cost model: one batch of encrypted images, with the timings in use then',
  Measured: 'Real SEAL encrypted run in this browser (latency for its images), when one was made',
  Metric: 'Test accuracy (classifiers) or reconstruction MSE (autoencoders) on the run’s data',
};

/** Every recorded run: the Pareto plot (ciphertexts against metric loss, or predicted latency) and a table. */
export function HistoryPanel() {
  const runs = useAppStore((s) => s.runs);
  const model = useAppStore((s) => s.modelKey);
  const dataLabel = useAppStore((s) => s.dataLabel);
  const dataName = useAppStore((s) => s.dataName);
  const clearRuns = useAppStore((s) => s.clearRuns);
  const snapshots = useAppStore((s) => s.snapshots);
  const compare = useAppStore((s) => s.compare);
  const toggleCompare = useAppStore((s) => s.toggleCompare);
  const { points, yLabel, yFormat, otherData } = useMemo(() => {
    // The plot compares runs of the model on screen, on the data in use; the table keeps all.
    const ofModel = runs.filter((r) => r.model === model);
    const mine = ofModel.filter((r) => r.datasetLabel === dataLabel);
    const otherData = ofModel.length - mine.length;
    const base = mine.findLast((r) => r.method === 'none' && r.metrics);
    const withMetric = mine
      .map((r) => ({ run: r, cost: metricCost(r, base) }))
      .filter((p) => p.cost !== undefined);
    if (withMetric.length >= 2) {
      const accuracy = base?.metrics?.accuracy !== undefined;
      return {
        points: withMetric.map((p): ParetoPoint => ({
          run: p.run,
          x: p.run.ciphertexts,
          y: p.cost!,
        })),
        yLabel: accuracy ? 'accuracy loss (points)' : 'MSE increase',
        yFormat: fmtNum,
        otherData,
      };
    }
    return {
      points: mine
        .filter((r) => Number.isFinite(r.predictedMs))
        .map((r): ParetoPoint => ({ run: r, x: r.ciphertexts, y: r.predictedMs })),
      yLabel: 'predicted latency',
      yFormat: fmtMs,
      otherData,
    };
  }, [runs, model, dataLabel]);

  return (
    <section className="history" aria-label="Run history">
      <header className="section-head">
        <h2>History</h2>
        <button
          type="button"
          className="button button--ghost"
          onClick={clearRuns}
          disabled={!runs.length}
        >
          Clear
        </button>
      </header>
      {runs.length ? (
        <div className="history__body">
          <div>
            <ParetoPlot points={points} yLabel={`${yLabel}, on ${dataName}`} yFormat={yFormat} />
            {otherData > 0 && (
              <p className="counts__note" data-testid="pareto-other-data">
                {otherData} run{otherData === 1 ? '' : 's'} of this model on other data{' '}
                {otherData === 1 ? 'is' : 'are'} in the table, not in the plot: metrics on different
                data do not compare.
              </p>
            )}
          </div>
          <div className="history__table-wrap">
            <table className="history__table" data-testid="history-table">
              <TableHead
                text={['Compare', '#', 'Run', 'Data', 'Method', 'Tile']}
                numeric={['Zero weights', 'Ciphertexts', 'Predicted', 'Measured', 'Metric']}
                titles={COLUMN_TITLES}
                hidden={['Compare']}
              />
              <tbody>
                {[...runs].reverse().map((r) => (
                  <tr key={r.id}>
                    <td>
                      {r.id in snapshots && (
                        <input
                          type="checkbox"
                          checked={compare.includes(r.id)}
                          onChange={() => toggleCompare(r.id)}
                          aria-label={`Compare run ${r.id}`}
                          data-testid={`compare-${r.id}`}
                        />
                      )}
                    </td>
                    <td>{r.id}</td>
                    <td className="history__label" title={`${r.model}: ${r.label}`}>
                      {r.label}
                    </td>
                    <td title={r.datasetLabel}>{r.dataset}</td>
                    <td>{r.method === 'none' ? '—' : METHOD_LABELS[r.method]}</td>
                    <td>
                      {r.tile} <span className="muted">· {r.ringDegree}</span>
                    </td>
                    <td className="num">{fmtPct0(r.zeroWeights)}</td>
                    <td className="num">
                      {fmtInt(r.ciphertexts)}{' '}
                      <span className="muted">/ {fmtInt(r.denseCiphertexts)}</span>
                    </td>
                    <td className="num">{fmtMs(r.predictedMs)}</td>
                    <td
                      className="num"
                      data-testid={`measured-${r.id}`}
                      title={
                        r.measured
                          ? `${r.measured.samples} images at N = ${r.measured.ringDegree}; predicted ${fmtMs(r.measured.predictedMs)}; peak memory ${fmtBytes(r.measured.peakBytes)}`
                          : undefined
                      }
                    >
                      {r.measured ? fmtMs(r.measured.latencyMs) : '—'}
                    </td>
                    <td className="num" data-testid={`metric-${r.id}`}>
                      {metricText(r)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      ) : (
        <p className="muted">Runs you record appear here and on the Pareto plot.</p>
      )}
    </section>
  );
}
