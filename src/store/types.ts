import type { Mask } from '../core/model/matrix';
import type { Network } from '../core/model/network';
import type { NetworkPermutation } from '../core/model/permutation';
import type { PruneScope } from '../core/prune/common';
import { PRUNE_METHODS, type PruneMethod } from '../core/prune/pipelineSteps';
import type { TileScore } from '../core/prune/tilePrune';
import type { RingDegree } from '../core/tiling/tileShape';

/** The models shipped in public/models/<preset>/ (made by the project's CLI). */
export type Preset = 'mlp' | 'cnn' | 'ae' | 'dae';
export const PRESETS: readonly Preset[] = ['mlp', 'cnn', 'ae', 'dae'];
export const PRESET_LABELS: Record<Preset, string> = {
  mlp: 'MLP classifier',
  cnn: 'CNN classifier',
  ae: 'Autoencoder',
  dae: 'Denoising autoencoder',
};

/** magnitude: single weights; tile: whole tiles by score (Hunter baseline); hepex: magnitude + theta + expansion. */
export type Method = PruneMethod;
export const METHODS: readonly Method[] = PRUNE_METHODS;
export const METHOD_LABELS: Record<Method, string> = {
  magnitude: 'Magnitude',
  tile: 'Tile pruning',
  hepex: 'HE-PEx',
};

export type { PruneScope, TileScore };
export type ViewMode = 'weights' | 'mask' | 'density';

/** Where a banner's error came from: fixing that control (or a later success of that job) clears it. */
export type ErrorSource =
  'tile' | 'sparsity' | 'theta' | 'budget' | 'epochs' | 'data' | 'load' | 'job' | 'link' | 'export';
export type ThemeChoice = 'system' | 'light' | 'dark';

/** What the grids show and the counts count. Replaced as a whole, never mutated. */
export interface Shown {
  /** Weights with pruned entries exactly 0 (W frame per layer). */
  readonly network: Network;
  readonly masks: readonly Mask[];
  /** dense: the trained model; twin: the shipped HE-PEx model; preview: slider result; step: a worker step's result. */
  readonly origin: 'dense' | 'twin' | 'preview' | 'step';
  readonly label: string;
  readonly permutation?: NetworkPermutation;
  readonly metrics?: Readonly<Record<string, number>>;
  /** The pruning amount that made it (weight or tile sparsity), when the studio pruned it. */
  readonly target?: number;
  /** HE-PEx's theta that made it. */
  readonly theta?: number;
}

export type { Analysis, KernelView } from '../core/analysis/studioAnalysis';

export interface RunRecord {
  readonly id: number;
  /** The model the run started from (its name): the Pareto plot compares runs of one model. */
  readonly model: string;
  readonly label: string;
  readonly method: Method | 'none';
  /**
   * Fraction of the run's weights that are exactly zero, measured on its network (a convolution's
   * kernel entries once per position). After HE-PEx's expansion this is below the target: kept
   * tiles get their weights back.
   */
  readonly zeroWeights: number;
  /**
   * The amount of pruning asked for: weight sparsity (magnitude, HE-PEx) or the fraction of tiles
   * (tile pruning); null when nothing was pruned here (the trained model, a model as opened).
   */
  readonly target: number | null;
  /** HE-PEx's density threshold; 0 for other methods. */
  readonly theta: number;
  readonly tile: string;
  readonly ringDegree: RingDegree;
  readonly ciphertexts: number;
  readonly denseCiphertexts: number;
  readonly predictedMs: number;
  readonly peakBytes: number;
  /** Short name of the data the metric is measured on ("MNIST", an IDX file's name). */
  readonly dataset: string;
  /** The same data in full ("MNIST 10k, seed 1: 8000 train / 2000 test"): metrics of one label compare. */
  readonly datasetLabel: string;
  /** e.g. { accuracy } or { mse }, when the run was evaluated. */
  readonly metrics?: Readonly<Record<string, number>>;
  /** Real encrypted inference of the run's network (HE worker), when one was made. */
  readonly measured?: MeasuredRun;
  readonly at: string;
}

/** An encrypted run's measurement, kept with the history row of the model it ran. */
export interface MeasuredRun {
  readonly ringDegree: number;
  readonly samples: number;
  /** Encrypt + inference + decrypt, ms. */
  readonly latencyMs: number;
  /** The cost model's prediction for the same run, ms (with the timings in use then). */
  readonly predictedMs: number;
  readonly peakBytes: number;
}

export type LoadStatus = 'idle' | 'loading' | 'ready' | 'error';

export type { LoadedModels } from '../services/modelLoader';

/** A model the HE engine refused or failed on (e.g. over its memory budget), in words. */
export interface HeRunFailure {
  readonly label: string;
  readonly error: string;
}

/** One encrypted inference, measured in the HE worker (real SEAL), next to the cost model's prediction. */
export interface HeRunSummary {
  readonly label: string;
  readonly ringDegree: number;
  readonly weightCiphertexts: number;
  /** Keys + model encoding, ms. */
  readonly setupMs: number;
  /** Encrypt + inference + decrypt, ms. */
  readonly latencyMs: number;
  readonly predictedMs: number;
  readonly peakBytes: number;
  /** max |decrypted - plaintext forward pass|. */
  readonly maxAbsError: number;
  /** Classifiers: same argmax as plaintext; null for autoencoders. */
  readonly agreement: number | null;
  /** The decrypted outputs judged against the truth: accuracy (labels) or reconstruction MSE (inputs). */
  readonly metric: { readonly name: 'accuracy' | 'mse'; readonly value: number };
  readonly rotations: number;
  readonly multiplications: number;
  readonly opsMatchPlan: boolean;
  /** Where the prediction's timings came from (calibrated in this browser, or reference). */
  readonly timingSource: string;
  /** Server inference per layer: measured wall time next to the cost model's, ms. */
  readonly layers: readonly HeRunLayer[];
  /** HE workers the run used (1: the HE worker alone). */
  readonly workers: number;
  /** On a pool: the same plan predicted on one worker, ms (null for one worker). */
  readonly predictedSingleWorkerMs: number | null;
}

/** One layer of an encrypted run (all chunks): work done, measured and predicted server ms. */
export interface HeRunLayer {
  /** 0-based. */
  readonly layer: number;
  readonly weightCiphertexts: number;
  readonly multiplications: number;
  readonly rotations: number;
  readonly measuredMs: number;
  readonly predictedMs: number;
}
