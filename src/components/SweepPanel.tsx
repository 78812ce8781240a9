import { useState } from 'react';
import { PRUNE_METHODS, type PruneMethod } from '../core/prune/pipelineSteps';
import type { SweepSpec } from '../core/sweep/spec';
import { useAppStore } from '../store/storeContext';
import { selectSweepSpec } from '../store/sweepSlice';
import { fmtInt, fmtPct } from '../viz/format';
import { SweepFrontierPlot } from './SweepFrontierPlot';
import { download } from './download';

const METHOD_LABELS: Record<PruneMethod, string> = {
  magnitude: 'magnitude',
  tile: 'tile pruning',
  hepex: 'HE-PEx',
};

/** "0.5, 0.8" -> [0.5, 0.8]; the spec check says what is wrong with anything else. */
const numbersOf = (text: string): number[] =>
  text
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '')
    .map(Number);

/** A text field that commits on blur or Enter (a half-typed list is not an error yet). */
function ListField({
  label,
  value,
  disabled,
  onCommit,
}: {
  label: string;
  value: string;
  disabled?: boolean;
  onCommit: (text: string) => void;
}) {
  const [draft, setDraft] = useState<string | null>(null);
  const commit = () => {
    if (draft !== null && draft !== value) onCommit(draft);
    setDraft(null);
  };
  return (
    <label className="field">
      <span>{label}</span>
      <input
        type="text"
        value={draft ?? value}
        disabled={disabled}
        onChange={(e) => setDraft(e.target.value)}
        onBlur={commit}
        onKeyDown={(e) => {
          if (e.key === 'Enter') commit();
        }}
      />
    </label>
  );
}

/**
 * A small sweep of the model shown: methods x sparsities x seeds as independent jobs on the
 * sweep workers, with progress and cancel, the frontier plotted. The spec is the file `hepex
 * sweep --spec` reads: export it to run the full sweep from the command line, or import one.
 */
export function SweepPanel() {
  const spec = useAppStore(selectSweepSpec);
  const status = useAppStore((s) => s.sweepStatus);
  const progress = useAppStore((s) => s.sweepProgress);
  const results = useAppStore((s) => s.sweepResults);
  const error = useAppStore((s) => s.sweepError);
  const hasModel = useAppStore((s) => s.dense !== null);
  const setSweepSpec = useAppStore((s) => s.setSweepSpec);
  const importSweepSpec = useAppStore((s) => s.importSweepSpec);
  const exportSweepSpec = useAppStore((s) => s.exportSweepSpec);
  const runSweep = useAppStore((s) => s.runSweep);
  const cancelSweep = useAppStore((s) => s.cancelSweep);
  const running = status === 'running';
  const update = (patch: Partial<SweepSpec>) => setSweepSpec({ ...spec, ...patch });
  const shared = Array.isArray(spec.grid.sparsity) ? (spec.grid.sparsity as number[]) : null;

  return (
    <section className="sweep-panel" aria-label="Sweep">
      <h2>Sweep</h2>
      <p className="muted">
        {`Each method at each sparsity and seed is one job from ${spec.model} as loaded, ${spec.settings?.retrainEpochs ?? 4} retrain epoch(s)${spec.data?.trainLimit ? ` on ${fmtInt(spec.data.trainLimit)} training images` : ''}.`}
      </p>
      <fieldset className="sweep-panel__methods" disabled={running}>
        <legend>Methods</legend>
        {PRUNE_METHODS.map((m) => (
          <label key={m}>
            <input
              type="checkbox"
              checked={spec.methods.includes(m)}
              onChange={(e) => {
                const methods = e.target.checked
                  ? PRUNE_METHODS.filter((k) => k === m || spec.methods.includes(k))
                  : spec.methods.filter((k) => k !== m);
                update({ methods });
              }}
            />{' '}
            {METHOD_LABELS[m]}
          </label>
        ))}
      </fieldset>
      {shared ? (
        <ListField
          label="Sparsities"
          value={shared.join(', ')}
          disabled={running}
          onCommit={(text) => update({ grid: { ...spec.grid, sparsity: numbersOf(text) } })}
        />
      ) : (
        <p className="muted">Sparsities per method, from the imported spec.</p>
      )}
      <ListField
        label="Seeds"
        value={(spec.seeds ?? [1]).join(', ')}
        disabled={running}
        onCommit={(text) => update({ seeds: numbersOf(text) })}
      />
      <div className="sweep-panel__actions">
        {running ? (
          <button type="button" className="button" onClick={cancelSweep}>
            Cancel sweep
          </button>
        ) : (
          <button
            type="button"
            className="button"
            disabled={!hasModel}
            onClick={() => void runSweep()}
          >
            Run sweep
          </button>
        )}
        <button
          type="button"
          className="button button--ghost"
          onClick={() => download('hepex-sweep.json', [exportSweepSpec()], 'application/json')}
        >
          Export spec
        </button>
        <label className="button button--ghost">
          Import spec
          <input
            type="file"
            accept="application/json,.json"
            hidden
            data-testid="sweep-import"
            disabled={running}
            onChange={(e) => {
              const file = e.target.files?.[0];
              e.target.value = '';
              if (file) void file.text().then((text) => importSweepSpec(text));
            }}
          />
        </label>
      </div>
      {progress && (
        <p role="status" data-testid="sweep-progress">
          {progress.done} of {progress.total} jobs done · {progress.step}
        </p>
      )}
      {error && (
        <p role="alert" className="error-text">
          {error}
        </p>
      )}
      {results && results.points.length > 0 && (
        <>
          <SweepFrontierPlot points={results.points} />
          <table className="sweep-panel__table">
            <thead>
              <tr>
                <th>Method</th>
                <th>Sparsity</th>
                <th>Seed</th>
                <th>Ciphertexts</th>
                <th>Metric</th>
              </tr>
            </thead>
            <tbody>
              {results.points.map((p) => (
                <tr key={p.id} className={p.pareto ? 'is-pareto' : undefined}>
                  <td>{METHOD_LABELS[p.method]}</td>
                  <td>{p.sparsity}</td>
                  <td>{p.seed}</td>
                  <td>
                    {fmtInt(p.ciphertexts)} / {fmtInt(p.baseline.ciphertexts)}
                  </td>
                  <td>
                    {p.metricName === 'accuracy'
                      ? `acc ${fmtPct(p.metric)}`
                      : `mse ${p.metric.toExponential(2)}`}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
