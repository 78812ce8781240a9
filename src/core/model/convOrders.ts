import { HepexError } from './errors';
import type { ConvGeometry } from './layers';
import { checkPermutation } from './permutation';
import { outputSize } from './conv';

/** Neuron orders of a convolution: kernel orders expanded over positions, and back (tied). */

/**
 * The client-side input order of a conv-first network from an order of the kernel's columns:
 * patchOrder has kernel*kernel*channels entries (y[k] = x[patchOrder[k]] within a patch), the
 * same at every position; padding columns stay last, in place. Returns positions*patchWidth
 * entries: order[p*patchWidth + k] = p*patchWidth + patchOrder[k].
 */
export function expandPatchOrder(g: ConvGeometry, patchOrder: ArrayLike<number>): Uint32Array {
  const kkc = g.kernel * g.kernel * g.channels;
  checkPermutation(patchOrder, kkc, 'The patch order');
  const { positions } = outputSize(g);
  const order = new Uint32Array(positions * g.patchWidth);
  for (let p = 0; p < positions; p++) {
    const base = p * g.patchWidth;
    for (let k = 0; k < g.patchWidth; k++) order[base + k] = base + (k < kkc ? patchOrder[k] : k);
  }
  return order;
}

/** The order of a conv layer's outputs from a filter order: order[p*filters + k] = p*filters + filterOrder[k]. */
export function expandFilterOrder(g: ConvGeometry, filterOrder: ArrayLike<number>): Uint32Array {
  checkPermutation(filterOrder, g.filters, 'The filter order');
  const { positions } = outputSize(g);
  const order = new Uint32Array(positions * g.filters);
  for (let p = 0; p < positions; p++)
    for (let k = 0; k < g.filters; k++) order[p * g.filters + k] = p * g.filters + filterOrder[k];
  return order;
}

/**
 * The per-position order an expanded order repeats (width: kernel columns for inputs, filters
 * for outputs), or throws when it moves values between positions, differs between positions,
 * or (inputs) moves a padding column: a convolution's orders must keep its weights tied.
 */
export function tiedOrderOf(
  g: ConvGeometry,
  order: ArrayLike<number>,
  side: 'inputs' | 'outputs',
): Uint32Array {
  const stride = side === 'inputs' ? g.patchWidth : g.filters;
  const width = side === 'inputs' ? g.kernel * g.kernel * g.channels : g.filters;
  const { positions } = outputSize(g);
  const what =
    side === 'inputs' ? 'The input order of a convolution' : "The order of a convolution's outputs";
  if (order.length !== positions * stride) {
    throw new HepexError(
      'invalid-argument',
      `${what} has ${order.length} entries; ${positions} positions x ${stride} need ${positions * stride}.`,
    );
  }
  const local = new Uint32Array(width);
  for (let k = 0; k < width; k++) local[k] = order[k];
  checkPermutation(local, width, `${what} (within a position)`);
  for (let p = 0; p < positions; p++) {
    for (let k = 0; k < stride; k++) {
      const want = p * stride + (k < width ? local[k] : k);
      if (order[p * stride + k] !== want) {
        throw new HepexError(
          'invalid-argument',
          `${what} must permute every position the same way${side === 'inputs' ? ' and keep patch padding last' : ''}; entry ${p * stride + k} breaks that.`,
        );
      }
    }
  }
  return local;
}
