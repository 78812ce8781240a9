import { HepexError } from './errors';
import type { Mask } from './matrix';
import type { ConvGeometry } from './layers';
import { kernelEntries, outputSize, tileOverPositions } from './conv';

/** A convolution's keep-masks: the kernel's, and the tied layer mask it stands for. */

/** Position 0's part of a conv layer's mask: filters x kernel*kernel*channels. */
export function kernelMask(g: ConvGeometry, mask: Mask): Mask {
  return {
    rows: g.filters,
    cols: g.kernel * g.kernel * g.channels,
    data: kernelEntries(g, mask.data, mask.cols),
  };
}

/**
 * The tied layer mask of a kernel mask (filters x kernel*kernel*channels): the kernel mask at
 * every position, 0 between positions and over the padding columns (weights that are always 0).
 */
export function expandKernelMask(g: ConvGeometry, kmask: Mask): Mask {
  const kkc = g.kernel * g.kernel * g.channels;
  if (kmask.rows !== g.filters || kmask.cols !== kkc) {
    throw new HepexError(
      'invalid-mask',
      `A kernel mask is ${g.filters} x ${kkc}, got ${kmask.rows} x ${kmask.cols}.`,
    );
  }
  const { positions } = outputSize(g);
  const rows = positions * g.filters;
  const cols = positions * g.patchWidth;
  return { rows, cols, data: tileOverPositions(g, kmask.data, kkc, new Uint8Array(rows * cols)) };
}

/**
 * The expanded mask of a filters x patchWidth kernel block mask (padding columns included, as
 * kernelMaskOf returns it and model files store it).
 */
export function expandKernelBlockMask(g: ConvGeometry, block: Mask): Mask {
  const { positions } = outputSize(g);
  const rows = positions * g.filters;
  const cols = positions * g.patchWidth;
  return {
    rows,
    cols,
    data: tileOverPositions(g, block.data, g.patchWidth, new Uint8Array(rows * cols)),
  };
}

/**
 * A conv layer's keep-mask (expanded frame, positions*filters x positions*patchWidth) as its
 * kernel block: the filters x patchWidth block of position 0, with the padding columns
 * (j >= k*k*C) set to 0 since their weights are always 0 (checkTied). Throws `invalid-mask`
 * unless every position's diagonal block keeps the same kernel weights (a tied conv keeps or
 * prunes a kernel weight everywhere). Off-block and padding bits are not read.
 */
export function kernelMaskOf(g: ConvGeometry, mask: Mask): Mask {
  const positions = mask.rows / g.filters;
  if (
    mask.rows !== positions * g.filters ||
    mask.cols !== positions * g.patchWidth ||
    !Number.isInteger(positions)
  ) {
    throw new HepexError(
      'invalid-mask',
      `A ${g.filters}-filter convolution's mask cannot be ${mask.rows} x ${mask.cols}.`,
    );
  }
  const taps = g.kernel * g.kernel * g.channels;
  const block = new Uint8Array(g.filters * g.patchWidth);
  for (let f = 0; f < g.filters; f++)
    for (let j = 0; j < taps; j++)
      block[f * g.patchWidth + j] = mask.data[f * mask.cols + j] ? 1 : 0;
  for (let p = 1; p < positions; p++) {
    for (let f = 0; f < g.filters; f++) {
      const row = (p * g.filters + f) * mask.cols + p * g.patchWidth;
      for (let j = 0; j < taps; j++) {
        if ((mask.data[row + j] ? 1 : 0) !== block[f * g.patchWidth + j]) {
          throw new HepexError(
            'invalid-mask',
            `The convolution's mask differs between output positions 0 and ${p} (filter ${f + 1}, kernel entry ${j + 1}); a convolution's weights are shared, so prune its kernel and expand the mask.`,
          );
        }
      }
    }
  }
  return { rows: g.filters, cols: g.patchWidth, data: block };
}
