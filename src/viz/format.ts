import { format } from 'd3';

/** Number formats shared by panels, tooltips and plots (d3-format, so locale-stable). */
export const fmtInt = format(',d');
export const fmtPct = format('.1%');
export const fmtPct0 = format('.0%');

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  if (ms >= 60_000) return `${format('.1f')(ms / 60_000)} min`;
  if (ms >= 1000) return `${format('.2~f')(ms / 1000)} s`;
  return `${format('.3~r')(ms)} ms`;
}

export function fmtBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${format(v >= 100 ? '.0f' : '.3~r')(v)} ${units[u]}`;
}

export const fmtNum = (x: number): string =>
  Math.abs(x) >= 1e-3 || x === 0 ? format('.4~r')(x) : format('.2e')(x);
