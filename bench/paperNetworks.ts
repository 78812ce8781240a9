import { HepexError } from '../src/core/model/errors';
import { layerSizes, type Network } from '../src/core/model/network';
import { PRUNE_SCOPES, type PruneScope } from '../src/core/prune/common';
import { adviseTileShapes } from '../src/core/analysis/tileAdvisor';
import { parseTileShape, tileShapeLabel, type TileShape } from '../src/core/tiling/tileShape';

/** The networks, sweeps and tile shapes `bench paper` runs (see paper.ts). */

export interface NetworkEntry {
  /** Key for --networks and in the JSON. */
  readonly id: string;
  readonly label: string;
  /** Architecture name of src/engines/tfjs/models.ts; networks whose architecture is missing are skipped. */
  readonly arch: string;
  readonly layers: readonly number[];
  /** Subdirectory of the models directory holding the trained model, when it is shipped. */
  readonly shipped?: string;
  /** Full-run sweep; --quick uses QUICK_SWEEP. */
  readonly sweep: Sweep;
  /**
   * The data it is trained, pruned and scored on: the built-in MNIST 10k (default) or
   * Fashion-MNIST 10k (Debian's dataset-fashion-mnist; skipped, with the reason, when missing).
   * Both split seed 1, 8000 / 2000; Fashion-MNIST models are trained in the bench run.
   */
  readonly data?: 'mnist' | 'fashion-mnist';
}

export interface Sweep {
  /** Weight sparsities of the magnitude trajectory, increasing. */
  readonly magnitude: readonly number[];
  /** The checkpoints HE-PEx branches off (a subset of `magnitude`). */
  readonly hepex: readonly number[];
  /** Tile sparsities of the tile-pruning search and trajectory, increasing. */
  readonly tile: readonly number[];
  /** Epochs of each retraining in the trajectories. */
  readonly retrainEpochs: number;
  /** Epochs of HE-PEx's final retraining (after expansion). */
  readonly branchEpochs: number;
}

// Epoch costs (2 cores, `bench train`): MLP ~1 s, CNN ~1.6 s, AE 128/32 ~3 s, AE 256/64 ~6.3 s.
// The budget goes to HE-PEx's last retraining, which has the expanded tiles to settle (on the
// MLP, 3 epochs left 0.98 0.3 points short of the limit where 0.97 was 1.2 points inside it).
export const CLASSIFIER_SWEEP: Sweep = {
  magnitude: [0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99],
  hepex: [0.9, 0.95, 0.97, 0.98, 0.99],
  tile: [0.5, 0.7, 0.8, 0.9, 0.95],
  retrainEpochs: 2,
  branchEpochs: 4,
};
// The CNN trains ~1.6x slower than the MLP and has one more shape (the advisor's): fewer points.
// Its global magnitude pruning falls off past 0.88 (the dense 1152x64 layer holds most weights
// and empties first: 0.9 left 89% after one epoch, HE-PEx from it 94.3%), so HE-PEx branches below.
export const CNN_SWEEP: Sweep = {
  magnitude: [0.5, 0.7, 0.8, 0.85, 0.88, 0.9, 0.95],
  hepex: [0.8, 0.85, 0.88, 0.9],
  tile: [0.5, 0.7, 0.8, 0.9],
  retrainEpochs: 1,
  branchEpochs: 3,
};
// Past 0.9 the autoencoders lost more than the limit allows in trial runs (DAE: MSE +36% at 0.95).
export const AE_SWEEP: Sweep = {
  magnitude: [0.5, 0.75, 0.85, 0.9],
  hepex: [0.75, 0.85, 0.9],
  tile: [0.4, 0.55, 0.7],
  retrainEpochs: 1,
  branchEpochs: 2,
};
export const QUICK_SWEEP: Sweep = {
  magnitude: [0.9],
  hepex: [0.9],
  tile: [0.5],
  retrainEpochs: 1,
  branchEpochs: 1,
};

export const NETWORKS: readonly NetworkEntry[] = [
  {
    id: 'mlp',
    label: 'MLP 784-128-10',
    arch: 'mlp',
    layers: [784, 128, 10],
    shipped: 'mlp',
    sweep: CLASSIFIER_SWEEP,
  },
  {
    id: 'ae-256-64',
    label: 'AE 784-256-64-256-784',
    arch: 'ae',
    layers: [784, 256, 64, 256, 784],
    shipped: 'ae',
    sweep: AE_SWEEP,
  },
  {
    id: 'ae-128-32',
    label: 'AE 784-128-32-128-784',
    arch: 'ae',
    layers: [784, 128, 32, 128, 784],
    sweep: AE_SWEEP,
  },
  {
    id: 'dae-128-32',
    label: 'DAE 784-128-32-128-784',
    arch: 'dae',
    layers: [784, 128, 32, 128, 784],
    shipped: 'dae',
    sweep: AE_SWEEP,
  },
  // The studio's CNN (conv 8 x 5x5 stride 2 -> dense 64 -> dense 10, createSpec's defaults); a
  // network whose architecture src/engines/tfjs/models.ts lacks is skipped with the reason.
  {
    id: 'cnn',
    label: 'CNN conv 8x5x5/2-64-10',
    arch: 'cnn',
    layers: [784, 64, 10],
    shipped: 'cnn',
    sweep: CNN_SWEEP,
  },
  // Fashion-MNIST: the same classifiers, methods, sweeps and limits on clothing
  // images, where MNIST-tuned pruning was first seen to fail.
  {
    id: 'fashion-mlp',
    label: 'MLP 784-128-10, Fashion-MNIST',
    arch: 'mlp',
    layers: [784, 128, 10],
    sweep: CLASSIFIER_SWEEP,
    data: 'fashion-mnist',
  },
  {
    id: 'fashion-cnn',
    label: 'CNN conv 8x5x5/2-64-10, Fashion-MNIST',
    arch: 'cnn',
    layers: [784, 64, 10],
    sweep: CNN_SWEEP,
    data: 'fashion-mnist',
  },
];
export const QUICK_NETWORKS = ['mlp', 'dae-128-32', 'fashion-mlp'];

export const BASE_SHAPES = ['4x4', '4x8', '8x8'];
export const QUICK_SHAPES = ['4x8'];
/** The paper's batch: predictions are for 512 images at every shape, so shapes compare at equal work. */
export const FULL_BATCH = 512;
/** HE-PEx's almost-zero tile threshold (the authors' demo). */
export const THETA = 0.0625;
export const SCOPES: readonly PruneScope[] = PRUNE_SCOPES;

/** One pruned (or unpruned) model and what it scored. */
/**
 * The tile shapes of a network: the base list plus (unless `quick`) the advisor's pick for the
 * dense network, deduplicated. The pick is returned either way.
 */
export function shapesFor(
  network: Network,
  base: readonly string[],
  quick: boolean,
): { shapes: TileShape[]; advisor: string | null } {
  let advisor: string | null = null;
  try {
    const advice = adviseTileShapes(
      layerSizes(network),
      network.layers.map((l) => l.activation),
      undefined,
      { samples: FULL_BATCH },
    );
    advisor = advice.length ? tileShapeLabel(advice[0].tile) : null;
  } catch (e) {
    if (!(e instanceof HepexError)) throw e;
  }
  const labels = [...new Set([...base, ...(advisor && !quick ? [advisor] : [])])];
  return { shapes: labels.map((l) => parseTileShape(l)), advisor };
}
