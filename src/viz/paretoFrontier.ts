/**
 * The Pareto frontier of points where both coordinates are costs (lower is better): a point is
 * on it when no other point is at least as good on both and better on one. Returned sorted by x.
 */
export function paretoFrontier<T>(
  points: readonly T[],
  x: (p: T) => number,
  y: (p: T) => number,
): T[] {
  const sorted = [...points]
    .filter((p) => Number.isFinite(x(p)) && Number.isFinite(y(p)))
    .sort((a, b) => x(a) - x(b) || y(a) - y(b));
  const frontier: T[] = [];
  let best = Infinity;
  for (const p of sorted) {
    if (y(p) < best) {
      frontier.push(p);
      best = y(p);
    }
  }
  return frontier;
}
