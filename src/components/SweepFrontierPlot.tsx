import { extent, scaleLinear } from 'd3';
import { useMemo } from 'react';
import { PlotAxes } from './PlotAxes';
import type { SweepPoint } from '../core/sweep/results';
import { fmtInt, fmtNum } from '../viz/format';

const METHOD_CLASS: Record<string, string> = {
  magnitude: 'dot--magnitude',
  tile: 'dot--tile',
  hepex: 'dot--hepex',
};
const LEGEND = { magnitude: 'magnitude', tile: 'tile pruning', hepex: 'HE-PEx' } as const;

/** A point's place: x = weight ciphertexts, y = metric lost (accuracy points, or MSE increase). */
export function sweepPlotY(p: SweepPoint): number {
  return p.metricName === 'accuracy' ? p.loss * 100 : p.loss;
}

/**
 * A sweep's rows as points, weight ciphertexts against metric lost, the frontier (rows no other
 * row beats on both, SweepPoint.pareto) drawn through them in ciphertext order. d3 gives the
 * scales and ticks; React draws the SVG, as ParetoPlot does for the run history.
 */
export function SweepFrontierPlot({ points }: { points: readonly SweepPoint[] }) {
  const width = 520;
  const height = 240;
  const m = { top: 14, right: 20, bottom: 40, left: 64 };
  const yLabel = points[0]?.metricName === 'accuracy' ? 'accuracy loss (points)' : 'MSE increase';
  const { x, y, frontier } = useMemo(() => {
    const [x0 = 0, x1 = 1] = extent(points, (p) => p.ciphertexts);
    const [y0 = 0, y1 = 1] = extent(points, sweepPlotY);
    return {
      x: scaleLinear()
        .domain([Math.min(0, x0), x1 || 1])
        .nice()
        .range([m.left, width - m.right]),
      y: scaleLinear()
        .domain([Math.min(0, y0), y1 > y0 ? y1 : y0 + 1])
        .nice()
        .range([height - m.bottom, m.top]),
      frontier: points.filter((p) => p.pareto).sort((a, b) => a.ciphertexts - b.ciphertexts),
    };
  }, [points, m.left, m.right, m.top, m.bottom]);
  return (
    <figure className="pareto-figure">
      <svg
        className="pareto"
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-label={`Sweep: weight ciphertexts against ${yLabel}`}
        data-testid="sweep-plot"
      >
        <PlotAxes frame={{ width, height, m }} x={x} y={y} yLabel={yLabel} yFormat={fmtNum} />
        {frontier.length > 1 && (
          <path
            className="pareto__frontier"
            data-testid="sweep-frontier"
            d={frontier
              .map((p, k) => `${k ? 'L' : 'M'}${x(p.ciphertexts)},${y(sweepPlotY(p))}`)
              .join('')}
            fill="none"
          />
        )}
        {points.map((p) => (
          <circle
            key={p.id}
            data-id={p.id}
            data-pareto={p.pareto}
            cx={x(p.ciphertexts)}
            cy={y(sweepPlotY(p))}
            r={p.pareto ? 5 : 3.5}
            className={`dot ${METHOD_CLASS[p.method] ?? ''}`}
          >
            <title>
              {LEGEND[p.method]} at {p.sparsity}
              {p.theta === undefined ? '' : `, theta ${p.theta}`}, {p.tile}, seed {p.seed}:{' '}
              {fmtInt(p.ciphertexts)} ciphertexts, {fmtNum(sweepPlotY(p))}
            </title>
          </circle>
        ))}
      </svg>
      <figcaption className="legend">
        {(['magnitude', 'tile', 'hepex'] as const).map((k) => (
          <span key={k}>
            <svg width="10" height="10" aria-hidden="true">
              <circle cx="5" cy="5" r="4" className={`dot ${METHOD_CLASS[k]}`} />
            </svg>{' '}
            {LEGEND[k]}
          </span>
        ))}
        <span>
          <svg width="18" height="10" aria-hidden="true">
            <path d="M1 5H17" className="pareto__frontier" />
          </svg>{' '}
          frontier
        </span>
      </figcaption>
    </figure>
  );
}
