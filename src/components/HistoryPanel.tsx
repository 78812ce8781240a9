import { useMemo } from 'react';
import { useAppStore } from '../store/storeContext';
import { METHOD_LABELS, type RunRecord } from '../store/types';
import { fmtInt, fmtMs, fmtNum, fmtPct0 } from '../viz/format';
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

/** Every recorded run: the Pareto plot (ciphertexts against metric loss, or predicted latency) and a table. */
export function HistoryPanel() {
  const runs = useAppStore((s) => s.runs);
  const model = useAppStore((s) => s.modelKey);
  const clearRuns = useAppStore((s) => s.clearRuns);
  const snapshots = useAppStore((s) => s.snapshots);
  const compare = useAppStore((s) => s.compare);
  const toggleCompare = useAppStore((s) => s.toggleCompare);
  const { points, yLabel, yFormat } = useMemo(() => {
    // The plot compares runs of the model on screen; the table keeps every run.
    const mine = runs.filter((r) => r.model === model);
    const base = mine.find((r) => r.method === 'none' && r.metrics);
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
        yFormat: accuracy ? (v: number) => `${fmtNum(v)}` : fmtNum,
      };
    }
    return {
      points: mine
        .filter((r) => Number.isFinite(r.predictedMs))
        .map((r): ParetoPoint => ({ run: r, x: r.ciphertexts, y: r.predictedMs })),
      yLabel: 'predicted latency',
      yFormat: fmtMs,
    };
  }, [runs, model]);

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
          <ParetoPlot points={points} yLabel={yLabel} yFormat={yFormat} />
          <div className="history__table-wrap">
            <table className="history__table" data-testid="history-table">
              <TableHead
                text={['#', 'Run', 'Method', 'Tile']}
                numeric={['Sparsity', 'Ciphertexts', 'Predicted', 'Metric']}
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
                    <td>{r.method === 'none' ? '—' : METHOD_LABELS[r.method]}</td>
                    <td>{r.tile}</td>
                    <td className="num">{fmtPct0(r.sparsity)}</td>
                    <td className="num">
                      {fmtInt(r.ciphertexts)}{' '}
                      <span className="muted">/ {fmtInt(r.denseCiphertexts)}</span>
                    </td>
                    <td className="num">{fmtMs(r.predictedMs)}</td>
                    <td className="num">
                      {r.metrics?.accuracy !== undefined
                        ? `acc ${fmtPct0(r.metrics.accuracy)}`
                        : r.metrics?.mse !== undefined
                          ? `mse ${fmtNum(r.metrics.mse)}`
                          : '—'}
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
