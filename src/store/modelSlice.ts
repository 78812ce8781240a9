import type { StateCreator } from 'zustand';
import type { HepexModel } from '../core/io/model';
import type { Network } from '../core/model/network';
import type { NetworkPermutation } from '../core/model/permutation';
import type { MagnitudeRanks } from '../core/prune/magnitudeRanks';
import type { AppState } from './appStore';
import type { Analysis, LoadStatus, Preset, Shown } from './types';

/**
 * The model shown and where it came from. `dense` is the trained, unpruned model; `twin` its
 * shipped HE-PEx-pruned version (if the preset has one); `working` is the network previews prune
 * (the dense weights, reordered once a permutation step ran); `shown` + `analysis` are what the
 * grids and counts display. Every field is replaced as a whole, never mutated in place.
 */
export interface ModelSlice {
  preset: Preset;
  status: LoadStatus;
  /** Plain-words reason the last load failed (the previous model, if any, stays shown). */
  loadError: string | null;
  /** Where the model came from, for the header: "Autoencoder (public/models/ae)" or a file name. */
  sourceLabel: string;
  /** A shipped preset (a link can name it), or files / a browser-trained model (it cannot). */
  modelOrigin: ModelOrigin;
  /** Unique per loaded model (name + load number): runs of different models never mix in a plot. */
  modelKey: string;
  dense: HepexModel | null;
  twin: HepexModel | null;
  working: Network | null;
  workingPermutation: NetworkPermutation | null;
  /** Magnitude ranks of `working`, built once per network for slider-speed masks. */
  ranks: MagnitudeRanks | null;
  shown: Shown | null;
  analysis: Analysis | null;
  /** The data retraining, evaluation and encrypted runs use, in words. */
  dataLabel: string;
  /** Its short name for tables ("MNIST", an IDX file's name). */
  dataName: string;
  /** The last Permute step's figures and its function check; null when `working` has none. */
  lastPermutation: PermutationFigures | null;
}

export interface PermutationFigures {
  readonly nonZeroTilesBefore: number;
  readonly nonZeroTilesAfter: number;
  readonly lowerBound: number;
  /** max |outputs after - before| on `checkSamples` held-out samples (raw inputs, client orders). */
  readonly maxOutputChange: number;
  readonly checkSamples: number;
  readonly elapsedMs: number;
}

export type ModelOrigin =
  { readonly kind: 'preset' } | { readonly kind: 'file' | 'trained'; readonly name: string };

export const MNIST_DATA_LABEL = 'MNIST 10k, seed 1: 8000 train / 2000 test';
export const MNIST_DATA_NAME = 'MNIST';

export const createModelSlice: StateCreator<AppState, [], [], ModelSlice> = () => ({
  preset: 'ae',
  status: 'idle',
  loadError: null,
  sourceLabel: '',
  modelOrigin: { kind: 'preset' },
  modelKey: '',
  dense: null,
  twin: null,
  working: null,
  workingPermutation: null,
  ranks: null,
  shown: null,
  analysis: null,
  dataLabel: MNIST_DATA_LABEL,
  dataName: MNIST_DATA_NAME,
  lastPermutation: null,
});
