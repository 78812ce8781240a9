import { useAppStore } from '../store/storeContext';

/** The inline error line: a plain-words message, the previous state kept, a dismiss button. */
export function ErrorBanner() {
  const error = useAppStore((s) => s.error);
  const dismiss = useAppStore((s) => s.dismissError);
  if (!error) return null;
  return (
    <div className="error-banner" role="alert" data-testid="error-banner">
      <span className="error-banner__icon" aria-hidden="true">
        !
      </span>
      <p>{error}</p>
      <button
        type="button"
        className="button button--ghost"
        onClick={dismiss}
        aria-label="Dismiss the error"
      >
        Dismiss
      </button>
    </div>
  );
}
