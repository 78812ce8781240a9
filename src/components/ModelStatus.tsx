import { useAppStore } from '../store/storeContext';

/** What the main area shows before a model is there: loading, or why it could not load. */
export function ModelStatus() {
  const status = useAppStore((s) => s.status);
  const loadError = useAppStore((s) => s.loadError);
  const hasModel = useAppStore((s) => s.shown !== null);
  if (hasModel) return null;
  if (status === 'error') {
    return (
      <div className="empty-state" role="alert" data-testid="model-error">
        <h2>No model to show</h2>
        <p>{loadError}</p>
        <p className="muted">
          Pick another preset or open a TF.js model (model.json and weights.bin) above.
        </p>
      </div>
    );
  }
  return (
    <div className="empty-state" role="status" aria-live="polite" data-testid="model-loading">
      <div className="spinner" aria-hidden="true" />
      <p>Loading the model…</p>
    </div>
  );
}
