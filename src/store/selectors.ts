import type { LayerTiling } from '../core/tilePlan';
import type { AppState } from './appStore';
import type { KernelView, Preset } from './types';

/**
 * Derived views of the state. Selectors that build objects are memoised on their inputs (the
 * store replaces arrays rather than mutating them, so identity comparison is enough).
 */
export interface CountsSummary {
  readonly before: number;
  readonly after: number;
  /** Fraction of ciphertexts saved, 0..1. */
  readonly saved: number;
  readonly predictedMsBefore: number;
  readonly predictedMsAfter: number;
  readonly peakBytesBefore: number;
  readonly peakBytesAfter: number;
  readonly modelBytesBefore: number;
  readonly modelBytesAfter: number;
  readonly sparsity: number;
  readonly timingSource: string;
  readonly heFits: boolean;
  readonly depth: number;
}

let lastAnalysis: AppState['analysis'] = null;
let lastSummary: CountsSummary | null = null;

export function selectCounts(state: AppState): CountsSummary | null {
  const a = state.analysis;
  if (!a) return null;
  if (a === lastAnalysis && lastSummary) return lastSummary;
  const before = a.denseCost.total.weightCiphertexts;
  const after = a.cost.total.weightCiphertexts;
  lastAnalysis = a;
  lastSummary = {
    before,
    after,
    saved: before ? 1 - after / before : 0,
    predictedMsBefore: a.denseCost.total.predictedMs,
    predictedMsAfter: a.cost.total.predictedMs,
    peakBytesBefore: a.denseCost.total.peakBytes,
    peakBytesAfter: a.cost.total.peakBytes,
    modelBytesBefore: a.denseCost.total.modelBytes,
    modelBytesAfter: a.cost.total.modelBytes,
    sparsity: a.sparsity,
    timingSource: a.cost.total.timingSource,
    heFits: a.cost.heParameters.fits,
    depth: a.cost.total.depth,
  };
  return lastSummary;
}

export interface LayerSummary {
  readonly layer: number;
  readonly tiling: LayerTiling;
  readonly shape: string;
  readonly tiles: number;
  readonly nonZeroTiles: number;
  readonly activeTiles: number;
  readonly rotations: number;
  readonly multiplications: number;
  readonly predictedMs: number;
  readonly modelBytes: number;
  /** A convolution: its kernel block (what the grids paint) and how it reads, else null. */
  readonly conv: ConvSummary | null;
}

export interface ConvSummary {
  readonly kernel: KernelView;
  /** "conv 5x5/2, 8 filters, x144 positions" */
  readonly label: string;
  /** "8×32 kernel (25 + 7 padding)" */
  readonly shape: string;
}

/** How the studio names a convolution: kernel size/stride, filters, output positions. */
export function convLabel(k: KernelView): string {
  const g = k.geometry;
  const channels = g.channels > 1 ? `x${g.channels}` : '';
  return `conv ${g.kernel}x${g.kernel}${channels}/${g.stride}, ${g.filters} filters, x${k.positions} positions`;
}

function convSummary(k: KernelView | null | undefined): ConvSummary | null {
  if (!k) return null;
  const g = k.geometry;
  const kkc = g.kernel * g.kernel * g.channels;
  return {
    kernel: k,
    label: convLabel(k),
    shape: `${g.filters}×${g.patchWidth} kernel (${kkc} + ${g.patchWidth - kkc} padding)`,
  };
}

let lastLayersFor: AppState['analysis'] = null;
let lastLayers: LayerSummary[] = [];

const NO_LAYERS: LayerSummary[] = [];
export function selectLayers(state: AppState): LayerSummary[] {
  const a = state.analysis;
  if (!a) return NO_LAYERS;
  if (a === lastLayersFor) return lastLayers;
  lastLayersFor = a;
  lastLayers = a.plan.layers.map((tiling, l) => {
    const c = a.cost.layers[l];
    return {
      layer: l,
      tiling,
      shape: `${tiling.outputs}×${tiling.inputs}`,
      // Tiles the layer can cost: all of a dense layer's, a convolution's full kernel copies only.
      tiles: a.denseCost.layers[l].nonZeroWeightTiles,
      nonZeroTiles: c.nonZeroWeightTiles,
      activeTiles: c.activeWeightTiles,
      rotations: c.rotations,
      multiplications: c.multiplications,
      predictedMs: c.predictedMs,
      modelBytes: c.modelBytes,
      conv: convSummary(a.kernels[l]),
    };
  });
  return lastLayers;
}

/**
 * Ciphertext numbering of the shown model: the non-zero tiles of all layers in storage order
 * (layer by layer, W-frame index order). firstIndex[l] is the number of layer l's first one.
 */
export function ciphertextOffsets(counts: readonly Uint32Array[]): number[] {
  const offsets: number[] = [];
  let total = 0;
  for (const c of counts) {
    offsets.push(total);
    for (let t = 0; t < c.length; t++) if (c[t] > 0) total++;
  }
  offsets.push(total);
  return offsets;
}

/** 0-based ciphertext number of tile t of a layer (null for an all-zero tile: no ciphertext). */
export function ciphertextIndex(
  counts: Uint32Array,
  tileIndex: number,
  layerOffset: number,
): number | null {
  if (counts[tileIndex] === 0) return null;
  let rank = 0;
  for (let t = 0; t < tileIndex; t++) if (counts[t] > 0) rank++;
  return layerOffset + rank;
}

/** Largest |w| of each layer of the dense model: the fixed colour-scale bounds of the grids. */
let lastDenseFor: AppState['dense'] = null;
let lastMaxAbs: number[] = [];
const NO_BOUNDS: number[] = [];
export function selectMaxAbs(state: AppState): number[] {
  const d = state.dense;
  if (!d) return NO_BOUNDS;
  if (d === lastDenseFor) return lastMaxAbs;
  lastDenseFor = d;
  lastMaxAbs = d.network.layers.map((l) => {
    let m = 0;
    const w = l.weights.data;
    for (let k = 0; k < w.length; k++) {
      const a = Math.abs(w[k]);
      if (a > m) m = a;
    }
    return m;
  });
  return lastMaxAbs;
}

/** What "Train" trains: a CNN when the model shown starts with a convolution, else the preset's architecture. */
export function selectTrainArch(state: AppState): Preset {
  return state.dense?.network.layers[0].kind === 'conv' ? 'cnn' : state.preset;
}
