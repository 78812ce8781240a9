import { expandKernelMask } from '../model/convMasks';
import { createMask } from '../model/matrix';
import type { ConvGeometry } from '../model/layers';
import { countTileNonZeros, nonZeroTileFlags, type LayerTiling } from './tilePlan';

/** A convolution's kernel under a layer's tiling: what its tied copies pay for. */

/**
 * Non-zero tile flags of a conv layer with every kernel weight kept: the tiles its tied copies
 * touch (the rest are structural zeros, never paid for). What "unpruned" costs for a convolution.
 */
export function fullKernelTileFlags(g: ConvGeometry, tiling: LayerTiling): Uint8Array {
  const full = expandKernelMask(g, createMask(g.filters, g.kernel * g.kernel * g.channels));
  return nonZeroTileFlags(countTileNonZeros(full, tiling));
}

/**
 * The tiling of the kernel (filters x kernel*kernel*channels, or x patchWidth with the padding
 * columns when `inputs` says so) with the blocks of the conv layer's tiling. Kernel tile (o, i)
 * sits at every position; when blockOut divides filters and blockIn divides patchWidth each copy
 * is exactly one tile of the layer's plan.
 */
export function kernelTiling(
  g: ConvGeometry,
  tiling: LayerTiling,
  inputs = g.kernel * g.kernel * g.channels,
): LayerTiling {
  const outBlocks = Math.ceil(g.filters / tiling.blockOut);
  const inBlocks = Math.ceil(inputs / tiling.blockIn);
  return {
    ...tiling,
    outputs: g.filters,
    inputs,
    outBlocks,
    inBlocks,
    tileCount: outBlocks * inBlocks,
  };
}
