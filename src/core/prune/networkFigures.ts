import type { Activation } from '../model/activation';
import { planExecution, type HeMode } from '../tiling/executionPlan';
import { fullKernelTileFlags } from '../tiling/convTiling';
import { outputSize } from '../model/conv';
import { nonZeroMask } from '../model/matrix';
import { type Layer, type Network } from '../model/network';
import {
  countTileNonZeros,
  nonZeroTileFlags,
  type LayerTiling,
  type TilePlan,
} from '../tiling/tilePlan';

export interface LayerFigures {
  readonly layer: number;
  /**
   * Tiles the layer can cost: all of its plan's, or for a convolution only those its kernel
   * copies touch (the rest are structural zeros, never paid for).
   */
  readonly tiles: number;
  readonly nonZeroTiles: number;
  readonly nonZeroWeights: number;
  /** Weights: rows x cols, or for a convolution its kernel copies (positions x filters x k*k*C). */
  readonly weights: number;
  /** ceil(non-zero weights / weights per tile): the fewest tiles those weights could occupy. */
  readonly lowerBound: number;
}

export interface NetworkFigures {
  readonly weightTiles: number;
  readonly nonZeroTiles: number;
  /** Weight ciphertexts (plaintexts in plain-model mode) the execution plan stores and multiplies. */
  readonly weightCiphertexts: number;
  readonly lowerBound: number;
  /** Fraction of zero weights. */
  readonly sparsity: number;
  /** Fraction of all-zero weight tiles. */
  readonly tileSparsity: number;
  readonly layers: readonly LayerFigures[];
}

/** Figures of a network's weights under a tile plan (tiles with any non-zero weight). */
export function networkFigures(
  network: Network,
  plan: TilePlan,
  mode: HeMode = 'plain-model',
): NetworkFigures {
  let weights = 0;
  let nonZero = 0;
  const flags: Uint8Array[] = [];
  const layers = network.layers.map((layer, l) => {
    const t = plan.layers[l];
    const counts = countTileNonZeros(nonZeroMask(layer.weights), t);
    const f = nonZeroTileFlags(counts);
    flags.push(f);
    let nnz = 0;
    for (let k = 0; k < counts.length; k++) nnz += counts[k];
    const size = layerSize(layer, t);
    weights += size.weights;
    nonZero += nnz;
    return {
      layer: l,
      tiles: size.tiles,
      nonZeroTiles: f.reduce((s, v) => s + v, 0),
      nonZeroWeights: nnz,
      weights: size.weights,
      lowerBound: Math.ceil(nnz / (t.blockOut * t.blockIn)),
    };
  });
  const activations: Activation[] = network.layers.map((l) => l.activation);
  const exec = planExecution(plan, flags, activations, mode);
  const nonZeroTiles = layers.reduce((s, l) => s + l.nonZeroTiles, 0);
  const weightTiles = layers.reduce((s, l) => s + l.tiles, 0);
  return {
    weightTiles,
    nonZeroTiles,
    weightCiphertexts: exec.weightCiphertexts,
    lowerBound: layers.reduce((s, l) => s + l.lowerBound, 0),
    sparsity: weights ? 1 - nonZero / weights : 0,
    tileSparsity: weightTiles ? 1 - nonZeroTiles / weightTiles : 0,
    layers,
  };
}

/** Weights and payable tiles of a layer (see LayerFigures): a convolution's kernel copies only. */
function layerSize(layer: Layer, t: LayerTiling): { weights: number; tiles: number } {
  if (layer.kind !== 'conv') return { weights: layer.weights.data.length, tiles: t.tileCount };
  const g = layer.geometry;
  const flags = fullKernelTileFlags(g, t);
  let tiles = 0;
  for (let k = 0; k < flags.length; k++) tiles += flags[k];
  return { weights: outputSize(g).positions * g.filters * g.kernel * g.kernel * g.channels, tiles };
}
