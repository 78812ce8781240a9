import { useAppStore } from '../store/storeContext';

/** The running worker job, wherever the page is scrolled: what it is, how far, and Cancel. */
export function JobStatus() {
  const busy = useAppStore((s) => s.busy);
  const cancelJob = useAppStore((s) => s.cancelJob);
  if (!busy) return null;
  return (
    <div className="job-status" role="status" aria-live="polite" data-testid="busy">
      <progress max={1} value={busy.progress ?? undefined} aria-label={busy.label} />
      <div className="job-status__text">
        <strong>{busy.label}</strong>
        {busy.detail && <span>{busy.detail}</span>}
      </div>
      <button type="button" className="button" onClick={cancelJob}>
        Cancel
      </button>
    </div>
  );
}
