import { autoHeWorkers } from './heSlice';
import { REFERENCE_TIMINGS, type OpTimingTable } from '../core/he/costModel';
import { resolveRing, runRingDegree, type ResolvedRing } from '../core/he/heModel';
import type { LayerTiling } from '../core/tiling/tilePlan';
import type { AppState } from './appStore';
import type { Analysis, KernelView, Preset, Shown } from './types';
import { geometryOf } from '../core/model/layerKinds';

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
  /** Fraction of weights exactly zero in what is shown (measured; see RunRecord.zeroWeights). */
  readonly zeroWeights: number;
  readonly timingSource: string;
  /** Whether the timings were calibrated in this browser. */
  readonly calibrated: boolean;
  readonly heFits: boolean;
  readonly depth: number;
  /** Images one batch holds at this tile shape (what one prediction covers). */
  readonly batch: number;
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
    zeroWeights: a.sparsity,
    timingSource: a.cost.total.timingSource,
    calibrated: a.cost.total.timingSource.startsWith('calibrated'),
    batch: a.cost.tile.batch,
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
 * Ciphertext numbering of the shown model: the weight ciphertexts (Analysis.active) of all
 * layers in storage order (layer by layer, W-frame index order). firstIndex[l] is the number of
 * layer l's first one; the last entry is the total, the headline count.
 */
export function ciphertextOffsets(active: readonly Uint8Array[]): number[] {
  const offsets: number[] = [];
  let total = 0;
  for (const a of active) {
    offsets.push(total);
    for (let t = 0; t < a.length; t++) total += a[t];
  }
  offsets.push(total);
  return offsets;
}

/** 0-based ciphertext number of tile t of a layer (null when the tile is not a ciphertext). */
export function ciphertextIndex(
  active: Uint8Array,
  tileIndex: number,
  layerOffset: number,
): number | null {
  if (!active[tileIndex]) return null;
  let rank = 0;
  for (let t = 0; t < tileIndex; t++) rank += active[t];
  return layerOffset + rank;
}

/**
 * What a grid paints for one layer (the shape viz's TileGridData takes): W with its mask and kept
 * weights per tile, or for a convolution its kernel block (filters x patchWidth, never the
 * positions*filters x positions*patchWidth layer) with the patch padding columns marked.
 */
export interface LayerGrid {
  readonly tiling: LayerTiling;
  readonly weights: Float32Array;
  readonly mask: Uint8Array;
  readonly counts: Uint32Array;
  readonly paddingFrom?: number;
}

export function layerGrid(
  shown: Shown | null,
  analysis: Analysis | null,
  layer: number,
): LayerGrid | null {
  if (!shown || !analysis || !analysis.plan.layers[layer]) return null;
  const kernel = analysis.kernels[layer];
  if (kernel) {
    const g = kernel.geometry;
    return {
      tiling: kernel.tiling,
      weights: kernel.weights,
      mask: kernel.mask,
      counts: kernel.counts,
      paddingFrom: g.kernel * g.kernel * g.channels,
    };
  }
  return {
    tiling: analysis.plan.layers[layer],
    weights: shown.network.layers[layer].weights.data,
    mask: shown.masks[layer].data,
    counts: analysis.counts[layer],
  };
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
  const first = state.dense?.network.layers[0];
  return first && geometryOf(first) ? 'cnn' : state.preset;
}

/** The cost model's timing tables: calibrated in this browser where there is one, else reference. */
let lastCalibrated: AppState['calibrated'] | null = null;
let lastTimings: readonly OpTimingTable[] = REFERENCE_TIMINGS;
export function selectTimings(state: Pick<AppState, 'calibrated'>): readonly OpTimingTable[] {
  if (state.calibrated === lastCalibrated) return lastTimings;
  lastCalibrated = state.calibrated;
  lastTimings = REFERENCE_TIMINGS.map((t) => state.calibrated[t.ringDegree]?.table ?? t);
  return lastTimings;
}

/**
 * The ring degree in use and the smallest secure one for the model's depth; null before a model
 * is there. An encrypted run uses runRingDegree of it.
 */
let lastRingKey: unknown[] = [];
let lastRing: ResolvedRing | null = null;
export function selectRing(state: AppState): ResolvedRing | null {
  const network = state.dense?.network;
  if (!network) return null;
  const key = [network, state.tile, state.ringChoice];
  if (key.every((k, i) => k === lastRingKey[i])) return lastRing;
  lastRingKey = key;
  const resolved = resolveRing(network, state.tile, state.ringChoice);
  // The priced ring degree is the tile's (it may be a fixed choice that is not secure).
  lastRing = { ...resolved, ringDegree: state.tile.ringDegree };
  return lastRing;
}

/** The ring degree an encrypted run of this model uses now; null when none carries its depth. */
export function selectRunRingDegree(state: AppState): number | null {
  const ring = selectRing(state);
  return ring && runRingDegree(ring);
}

/**
 * HE workers an encrypted run uses: the choice, or autoHeWorkers of the reported cores (each
 * worker holds its own evaluation keys and a WASM heap of its own).
 */
export function selectHeWorkers(state: AppState): number {
  return state.heWorkers === 'auto' ? autoHeWorkers(state.heCores) : state.heWorkers;
}
