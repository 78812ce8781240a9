import { extent, scaleLinear } from 'd3';
import { useMemo } from 'react';
import { PlotAxes } from './PlotAxes';
import type { RunRecord } from '../store/types';
import { fmtInt } from '../viz/format';
import { paretoFrontier } from '../viz/paretoFrontier';

export interface ParetoPoint {
  readonly run: RunRecord;
  readonly x: number;
  readonly y: number;
}

const LEGEND = {
  none: 'trained',
  magnitude: 'magnitude',
  tile: 'tile pruning',
  hepex: 'HE-PEx',
} as const;
const METHOD_CLASS: Record<string, string> = {
  none: 'dot--none',
  magnitude: 'dot--magnitude',
  tile: 'dot--tile',
  hepex: 'dot--hepex',
};

/**
 * Runs as points: x = weight ciphertexts, y = a cost in yLabel's units (accuracy loss, MSE, or
 * predicted latency), with the Pareto frontier drawn through the non-dominated runs. d3 gives the
 * scales and ticks; React draws the SVG.
 */
export function ParetoPlot({
  points,
  yLabel,
  yFormat,
}: {
  points: readonly ParetoPoint[];
  yLabel: string;
  yFormat: (v: number) => string;
}) {
  const width = 520;
  const height = 260;
  const m = { top: 14, right: 20, bottom: 40, left: 76 };
  const { x, y, frontier } = useMemo(() => {
    const [x0 = 0, x1 = 1] = extent(points, (p) => p.x);
    const [y0 = 0, y1 = 1] = extent(points, (p) => p.y);
    const x = scaleLinear()
      .domain([Math.min(0, x0), x1 || 1])
      .nice()
      .range([m.left, width - m.right]);
    const y = scaleLinear()
      .domain([Math.min(0, y0), y1 > y0 ? y1 : y0 + 1])
      .nice()
      .range([height - m.bottom, m.top]);
    return {
      x,
      y,
      frontier: paretoFrontier(
        points,
        (p) => p.x,
        (p) => p.y,
      ),
    };
  }, [points, m.left, m.right, m.top, m.bottom]);

  return (
    <figure className="pareto-figure">
      <svg
        className="pareto"
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-label={`Runs: weight ciphertexts against ${yLabel}`}
        data-testid="pareto-plot"
      >
        <PlotAxes frame={{ width, height, m }} x={x} y={y} yLabel={yLabel} yFormat={yFormat} />
        {frontier.length > 1 && (
          <path
            className="pareto__frontier"
            d={frontier.map((p, k) => `${k ? 'L' : 'M'}${x(p.x)},${y(p.y)}`).join('')}
            fill="none"
          />
        )}
        {points.map((p) => (
          <circle
            key={p.run.id}
            cx={x(p.x)}
            cy={y(p.y)}
            r={frontier.includes(p) ? 5 : 3.5}
            className={`dot ${METHOD_CLASS[p.run.method] ?? ''}`}
          >
            <title>
              {p.run.label}: {fmtInt(p.x)} ciphertexts, {yFormat(p.y)}
            </title>
          </circle>
        ))}
      </svg>
      <figcaption className="legend">
        {(['none', 'magnitude', 'tile', 'hepex'] as const).map((m) => (
          <span key={m}>
            <svg width="10" height="10" aria-hidden="true">
              <circle cx="5" cy="5" r="4" className={`dot ${METHOD_CLASS[m]}`} />
            </svg>{' '}
            {LEGEND[m]}
          </span>
        ))}
        <span>
          <svg width="18" height="10" aria-hidden="true">
            <path d="M1 5H17" className="pareto__frontier" />
          </svg>{' '}
          Pareto frontier
        </span>
      </figcaption>
    </figure>
  );
}
