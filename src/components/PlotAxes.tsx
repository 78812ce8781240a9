import type { ScaleLinear } from 'd3';
import { fmtInt } from '../viz/format';

export interface PlotFrame {
  readonly width: number;
  readonly height: number;
  /** Margins around the plot area, px. */
  readonly m: {
    readonly top: number;
    readonly right: number;
    readonly bottom: number;
    readonly left: number;
  };
}

/**
 * The grid, ticks and labels of a ciphertexts-against-metric plot (the run history's and the
 * sweep's): x = weight ciphertexts, y = `yLabel` formatted with `yFormat`.
 */
export function PlotAxes({
  frame: { width, height, m },
  x,
  y,
  yLabel,
  yFormat,
}: {
  frame: PlotFrame;
  x: ScaleLinear<number, number>;
  y: ScaleLinear<number, number>;
  yLabel: string;
  yFormat: (v: number) => string;
}) {
  return (
    <g className="axis">
      {x.ticks(6).map((t) => (
        <g key={`x${t}`} transform={`translate(${x(t)},0)`}>
          <line y1={m.top} y2={height - m.bottom} className="axis__grid" />
          <text y={height - m.bottom + 16} textAnchor="middle">
            {fmtInt(t)}
          </text>
        </g>
      ))}
      {y.ticks(5).map((t) => (
        <g key={`y${t}`} transform={`translate(0,${y(t)})`}>
          <line x1={m.left} x2={width - m.right} className="axis__grid" />
          <text x={m.left - 8} dy="0.32em" textAnchor="end">
            {yFormat(t)}
          </text>
        </g>
      ))}
      <text
        x={(m.left + width - m.right) / 2}
        y={height - 6}
        textAnchor="middle"
        className="axis__label"
      >
        weight ciphertexts
      </text>
      <text
        transform={`translate(12,${(m.top + height - m.bottom) / 2}) rotate(-90)`}
        textAnchor="middle"
        className="axis__label"
      >
        {yLabel}
      </text>
    </g>
  );
}
