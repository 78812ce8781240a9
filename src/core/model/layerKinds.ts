import { kernelMatrix, outputSize } from './conv';
import { kernelMask } from './convMasks';
import type { ConvGeometry, Layer } from './layers';
import type { Mask, Matrix } from './matrix';

/**
 * What differs between a dense layer and a convolution, in one place. A convolution's dense form
 * repeats one kernel (filters x patchWidth) at every output position; what a person prunes,
 * trains and counts is that kernel, and each of its weights or tiles costs once per position.
 * Code that asks these questions calls here instead of branching on `kind`.
 */

/** The convolution's geometry, or undefined for a dense layer. */
export function geometryOf(layer: Layer): ConvGeometry | undefined {
  return layer.kind === 'conv' ? layer.geometry : undefined;
}

/** How many times each of the layer's own weights appears in its dense form: positions, or 1. */
export function weightCopies(layer: Layer): number {
  return layer.kind === 'conv' ? outputSize(layer.geometry).positions : 1;
}

/** The weights the layer owns: the kernel (filters x patchWidth) of a convolution, else W. */
export function ownWeights(layer: Layer): Matrix {
  return layer.kind === 'conv' ? kernelMatrix(layer) : layer.weights;
}

/** A dense-form mask restricted to the layer's own weights (a convolution's kernel mask). */
export function ownMask(layer: Layer, mask: Mask): Mask {
  return layer.kind === 'conv' ? kernelMask(layer.geometry, mask) : mask;
}
