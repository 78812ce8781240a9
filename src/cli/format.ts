import { outputSize } from '../core/model/conv';
import type { Layer, SourceNetwork } from '../core/model/network';

/** Plain-text helpers for human-readable CLI output. */

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}

/** A left-aligned first column, right-aligned others. */
export function table(
  header: readonly string[],
  rows: readonly (readonly (string | number)[])[],
): string {
  const cells = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, c) => Math.max(...cells.map((r) => r[c].length)));
  return cells
    .map((r) =>
      r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '),
    )
    .join('\n');
}

/** "conv 5x5/2 x8, 144 pos" or "dense": the kind column of the per-layer tables. */
export function layerKindLabel(layer: Layer): string {
  if (layer.kind !== 'conv') return 'dense';
  const g = layer.geometry;
  const channels = g.channels > 1 ? `x${g.channels}` : '';
  return `conv ${g.kernel}x${g.kernel}${channels}/${g.stride} x${g.filters}, ${outputSize(g).positions} pos`;
}

/**
 * A network in one line, inputs first: "784 -> 64 -> 10", or for a CNN "28x28x1 image -> conv
 * 5x5/2 x8 (12x12 = 144 positions, 1152 outputs; kernel 8x25 as 1152x4608 dense) -> 64 -> 10".
 */
export function networkLabel(network: SourceNetwork): string {
  const [first, ...rest] = network.layers;
  const tail = rest.map((l) => ` -> ${l.weights.rows}`).join('');
  if (first.kind !== 'conv') return `${first.weights.cols} -> ${first.weights.rows}${tail}`;
  const g = first.geometry;
  const { outHeight, outWidth, positions } = outputSize(g);
  const kkc = g.kernel * g.kernel * g.channels;
  return `${g.height}x${g.width}x${g.channels} image -> conv ${g.kernel}x${g.kernel}/${g.stride} x${g.filters} (${outHeight}x${outWidth} = ${positions} positions, ${first.weights.rows} outputs; kernel ${g.filters}x${kkc} as ${first.weights.rows}x${first.weights.cols} dense)${tail}`;
}
