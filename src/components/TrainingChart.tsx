import { extent, line, scaleLinear } from 'd3';
import type { TrainProgress } from '../core/model/trainer';
import { fmtNum } from '../viz/format';

/** Loss (solid) and held-out metric (dashed, own scale) per epoch, drawn as the worker reports them. */
export function TrainingChart({
  history,
  epochs,
}: {
  history: readonly TrainProgress[];
  epochs: number;
}) {
  const width = 260;
  const height = 110;
  const m = { top: 8, right: 8, bottom: 20, left: 40 };
  const x = scaleLinear()
    .domain([1, Math.max(2, epochs)])
    .range([m.left, width - m.right]);
  const [l0 = 0, l1 = 1] = extent(history, (p) => p.loss);
  const y = scaleLinear()
    .domain([Math.min(0, l0), l1 > 0 ? l1 : 1])
    .nice()
    .range([height - m.bottom, m.top]);
  const [v0 = 0, v1 = 1] = extent(history, (p) => p.metric.value);
  const yMetric = scaleLinear()
    .domain([v0, v1 > v0 ? v1 : v0 + 1e-9])
    .range([height - m.bottom, m.top]);
  const lossPath =
    line<TrainProgress>(
      (p) => x(p.epoch),
      (p) => y(p.loss),
    )(history as TrainProgress[]) ?? '';
  const metricPath =
    line<TrainProgress>(
      (p) => x(p.epoch),
      (p) => yMetric(p.metric.value),
    )(history as TrainProgress[]) ?? '';
  const last = history.at(-1);
  return (
    <figure className="train-chart">
      <svg
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-label={`Training loss per epoch${last ? `, last ${fmtNum(last.loss)}` : ''}`}
        data-testid="training-chart"
      >
        {y.ticks(3).map((t) => (
          <g key={t} transform={`translate(0,${y(t)})`}>
            <line x1={m.left} x2={width - m.right} className="axis__grid" />
            <text x={m.left - 6} dy="0.32em" textAnchor="end">
              {fmtNum(t)}
            </text>
          </g>
        ))}
        <text x={(m.left + width - m.right) / 2} y={height - 4} textAnchor="middle">
          epoch
        </text>
        <path d={lossPath} className="train-chart__loss" fill="none" />
        <path d={metricPath} className="train-chart__metric" fill="none" />
        {history.map((p) => (
          <circle
            key={p.epoch}
            cx={x(p.epoch)}
            cy={y(p.loss)}
            r={2.5}
            className="train-chart__dot"
          />
        ))}
      </svg>
      {last && (
        <figcaption>
          loss {fmtNum(last.loss)} · {last.metric.name} {fmtNum(last.metric.value)} (dashed)
        </figcaption>
      )}
    </figure>
  );
}
