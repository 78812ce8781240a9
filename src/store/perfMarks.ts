/**
 * Responsiveness marks (User Timing API), read by the e2e run and the browser's performance panel:
 *   hepex:input   a slider moved (the input event),
 *   hepex:counts  the store holds the new masks, tile counts and predicted cost,
 *   hepex:paint   the selected layer's canvas is repainted with them.
 * Measures "hepex:input->counts" and "hepex:input->paint" pair each with the latest input.
 */
const perf: Performance | undefined = typeof performance !== 'undefined' ? performance : undefined;
let pendingPaint = false;

export function markInput(): void {
  perf?.mark('hepex:input');
  pendingPaint = true;
}

export function markCounts(): void {
  if (!perf || perf.getEntriesByName('hepex:input', 'mark').length === 0) return;
  perf.mark('hepex:counts');
  perf.measure('hepex:input->counts', 'hepex:input', 'hepex:counts');
}

/** Called by the grid after a repaint; measures only the first repaint after an input. */
export function markPaint(): void {
  if (!perf || !pendingPaint) return;
  pendingPaint = false;
  perf.mark('hepex:paint');
  perf.measure('hepex:input->paint', 'hepex:input', 'hepex:paint');
  // Keep the buffers bounded during long slider sessions.
  if (perf.getEntriesByType('mark').length > 5000) perf.clearMarks();
}
