import type { GridImageContext } from '../../src/viz/gridImage';
import type { PainterContext } from '../../src/viz/tileGridPainter';

export interface RecordedCall {
  readonly op: string;
  readonly args: unknown[];
  /** Context state when the call was made. */
  readonly fillStyle: string;
  readonly font: string;
  readonly textAlign: string;
  readonly imageSmoothingEnabled: boolean;
  readonly lineWidth: number;
}

/**
 * A 2-D context that records calls instead of drawing (jsdom has no canvas), for the grid painter
 * and the grid image. Text is measured
 * as 0.55 em per character of the current font's px size, so layouts are deterministic.
 */
export function canvasRecorder() {
  const calls: RecordedCall[] = [];
  const ctx = {
    fillStyle: '',
    strokeStyle: '',
    lineWidth: 1,
    imageSmoothingEnabled: true,
    font: '10px sans-serif',
    textAlign: 'start',
    textBaseline: 'alphabetic',
    measureText(text: string) {
      const px = Number(/(\d+)px/.exec(ctx.font)?.[1] ?? 10);
      return { width: text.length * px * 0.55 };
    },
    createImageData(width: number, height: number) {
      return { width, height, data: new Uint8ClampedArray(width * height * 4) };
    },
  } as unknown as GridImageContext & PainterContext & Record<string, unknown>;
  for (const op of [
    'setTransform',
    'fillRect',
    'strokeRect',
    'drawImage',
    'beginPath',
    'moveTo',
    'lineTo',
    'stroke',
    'fillText',
    'putImageData',
  ]) {
    ctx[op] = (...args: unknown[]) =>
      calls.push({
        op,
        args,
        fillStyle: String(ctx.fillStyle),
        font: ctx.font,
        textAlign: ctx.textAlign,
        imageSmoothingEnabled: ctx.imageSmoothingEnabled,
        lineWidth: Number(ctx.lineWidth),
      });
  }
  return { ctx, calls };
}
