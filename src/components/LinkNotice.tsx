import { useAppStore } from '../store/storeContext';

/** What the link that opened the studio could not reproduce, in words, until dismissed. */
export function LinkNotice() {
  const notes = useAppStore((s) => s.linkNotice);
  const dismiss = useAppStore((s) => s.dismissLinkNotice);
  if (!notes) return null;
  return (
    <div className="link-notice" role="status" data-testid="link-notice">
      <div>
        <strong>This link could not be reproduced in full.</strong>
        <ul>
          {notes.map((note) => (
            <li key={note}>{note}</li>
          ))}
        </ul>
      </div>
      <button
        type="button"
        className="button button--ghost"
        onClick={dismiss}
        aria-label="Dismiss the link notice"
      >
        Dismiss
      </button>
    </div>
  );
}
