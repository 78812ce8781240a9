import {
  NUM_CLASSES,
  imagesToFloat,
  meanImage,
  meanImageMse,
  pixelsOf,
  type Dataset,
} from '../../core/io/dataset';
import { LINEAR } from '../../core/model/activation';
import { HepexError, throwIfAborted } from '../../core/model/errors';
import { im2col } from '../../core/model/conv';
import { kernelMaskOf } from '../../core/model/convMasks';
import { assertSameShape, type Mask } from '../../core/model/matrix';
import {
  validateSourceNetwork,
  type Layer,
  type SourceLayer,
  type SourceNetwork,
  type Network,
} from '../../core/model/network';
import { checkGroupLasso } from '../../core/prune/common';
import { createRng, shuffleInPlace } from '../../core/model/random';
import type { Metric, TrainProgress } from '../../core/model/trainer';
import { setupBackend, tf } from './backend';
import { weightsToKernel } from '../../core/model/matrix';
import {
  checkDistill,
  checkImagesFit,
  disposeParams,
  forwardParams,
  fromParams,
  groupNorms,
  toParams,
} from './trainParams';
import { addNoise, evaluateParams, fillBatch, noisyImages } from './trainData';
import { ownMask } from '../../core/model/layerKinds';

/**
 * The tfjs training loop behind training from scratch and masked fine-tuning. A custom loop
 * (variableGrads + Adam) rather than model.fit, so that after EVERY step the pruned weights are
 * set to exactly zero (their gradients are masked too, so Adam's moments stay zero there), and
 * shuffling, augmentation and noise all draw from the seeded core RNG.
 * Inputs are pixels / 255 in [0, 1]; all tensors are disposed (tf.memory().numTensors is the
 * same before and after a call).
 *
 * A conv-first network (network.ts ConvLayer) trains its kernel, not the tied dense form: one
 * variable of k*k*C x filters (tfjs's HWIO kernel flattened), so the tie holds by construction.
 * Training feeds it im2col patches (a matMul: the WASM backend has no Conv2DBackpropFilter
 * kernel, so tf.conv2d has no filter gradient there); evaluation runs a real tf.conv2d on the
 * raw images. Both compute the same sums; the tests hold them to the core's forward pass.
 */
export interface TrainOptions {
  /** Default 10. */
  readonly epochs?: number;
  /** Default 64. */
  readonly batchSize?: number;
  /** Adam's initial learning rate; default 1e-3. */
  readonly learningRate?: number;
  /** 'cosine' (default): decays to 5% of the initial rate by the last epoch; 'constant'. */
  readonly schedule?: 'cosine' | 'constant';
  readonly seed?: number;
  /** Random shifts of up to this many pixels (classification only); default 0. */
  readonly maxShift?: number;
  /** Std of the Gaussian noise added to inputs (denoising), clipped to [0, 1]; default 0. */
  readonly noise?: number;
  /**
   * Keep-masks in W's frame (outputs x inputs); absent: dense. A conv layer's mask is in its
   * expanded frame and must be tied over positions; its kernel block (position 0) is held.
   */
  readonly masks?: readonly Mask[];
  /**
   * Group-lasso strength (default 0): adds groupLasso * sum of the L2 norms of every kernel row
   * and column (one group per neuron's fan-in and fan-out, per input pixel), which drives whole
   * neurons and pixels to zero and leaves the rest dense: structure a permutation can gather.
   */
  readonly groupLasso?: number;
  /**
   * Knowledge distillation: for a classifier the loss becomes (1 - weight) x cross-entropy
   * with the labels + weight x T^2 x cross-entropy with the teacher's softened outputs
   * (softmax(logits / T)), T = temperature; for an autoencoder (1 - weight) x MSE to the
   * targets + weight x MSE to the teacher's outputs. The teacher has the student's layer sizes
   * (the dense network the pruning started from, or the ReLU original a conversion fits) and
   * is not trained.
   */
  readonly distill?: {
    readonly teacher: SourceNetwork;
    readonly temperature?: number;
    readonly weight?: number;
  };
  /**
   * Rescales each step's gradients so their global L2 norm is at most this (absent: no clip):
   * a polynomial activation's x^2 can make one batch's gradient huge.
   */
  readonly clipNorm?: number;
  /** Evaluate on `test` after each epoch for the progress metric; default true. */
  readonly evaluateEachEpoch?: boolean;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: TrainProgress) => void;
}

export interface TrainResult<N extends SourceNetwork = Network> {
  readonly network: N;
  readonly history: readonly TrainProgress[];
  readonly metric: Metric;
  /** Mean wall time of one epoch's training steps (ms), evaluation excluded. */
  readonly msPerEpoch: number;
}

export interface Evaluation {
  readonly metric: Metric;
  /** Reconstruction only: MSE of predicting the training mean image for every test image. */
  readonly meanImageMse?: number;
}

/** An evaluation as a model's metrics: { accuracy } or { mse, meanImageMse }. */
export function metricsOf(evaluation: Evaluation): Record<string, number> {
  return evaluation.meanImageMse === undefined
    ? { [evaluation.metric.name]: evaluation.metric.value }
    : { mse: evaluation.metric.value, meanImageMse: evaluation.meanImageMse };
}

/** One mask per layer, each of its layer's shape; a conv's tied over positions. Throws `invalid-mask`. */
export function checkMasks(network: SourceNetwork, masks: readonly Mask[] | undefined): void {
  if (!masks) return;
  if (masks.length !== network.layers.length) {
    throw new HepexError(
      'invalid-mask',
      `Expected one mask per layer (${network.layers.length}), got ${masks.length}.`,
    );
  }
  masks.forEach((m, l) => {
    assertSameShape(network.layers[l].weights, m, `Layer ${l + 1} mask`);
    if (m.data.length !== m.rows * m.cols)
      throw new HepexError(
        'invalid-mask',
        `Layer ${l + 1}: the mask has ${m.data.length} entries for ${m.rows} x ${m.cols}.`,
      );
    const layer = network.layers[l];
    if (layer.kind === 'conv') kernelMaskOf(layer.geometry, m); // throws when not tied
  });
}

/** Layer l's keep-mask in its Params kernel's frame (0/1 floats, row-major, kernel's shape). */
function kernelFrameMask(layer: SourceLayer, mask: Mask): tf.Tensor2D {
  // A conv trains its kernel: position 0's filters x k*k*C mask (checkMasks checked the tie).
  const { rows, cols, data } = ownMask({ ...layer, activation: LINEAR } as Layer, mask);
  return tf.tensor2d(
    weightsToKernel(
      Float32Array.from(data, (v) => (v ? 1 : 0)),
      cols,
      rows,
    ),
    [cols, rows],
  );
}

const positive = (v: number, name: string): number => {
  if (!(Number.isFinite(v) && v > 0))
    throw new HepexError('invalid-argument', `${name} must be a positive number, got ${v}.`);
  return v;
};

/**
 * Trains `network` on `train`, reporting per-epoch loss and test metric. With `masks`, masked
 * weights are zero from the start and after every step. Never mutates its inputs. A network with
 * ReLU, sigmoid or tanh trains too (a model to convert) and comes back as a SourceNetwork.
 */
export async function trainNetwork(
  network: Network,
  train: Dataset,
  test: Dataset,
  options?: TrainOptions,
): Promise<TrainResult>;
export async function trainNetwork(
  network: SourceNetwork,
  train: Dataset,
  test: Dataset,
  options?: TrainOptions,
): Promise<TrainResult<SourceNetwork>>;
export async function trainNetwork(
  network: SourceNetwork,
  train: Dataset,
  test: Dataset,
  options: TrainOptions = {},
): Promise<TrainResult<SourceNetwork>> {
  validateSourceNetwork(network);
  checkImagesFit(network, train);
  checkImagesFit(network, test);
  checkMasks(network, options.masks);
  const epochs = options.epochs ?? 10;
  if (!Number.isInteger(epochs) || epochs < 0 || epochs > 10_000)
    throw new HepexError(
      'invalid-argument',
      `Epochs must be a whole number from 0 to 10000, got ${epochs}.`,
    );
  const requestedBatch = options.batchSize ?? 64;
  if (!Number.isInteger(requestedBatch) || requestedBatch < 1 || requestedBatch > 65_536) {
    throw new HepexError(
      'invalid-argument',
      `The batch size must be a whole number from 1 to 65536, got ${requestedBatch}.`,
    );
  }
  const batchSize = Math.min(train.count, requestedBatch);
  const lr0 = positive(options.learningRate ?? 1e-3, 'The learning rate');
  const noise = options.noise ?? 0;
  if (!(noise >= 0 && noise <= 10))
    throw new HepexError(
      'invalid-argument',
      `The input noise must be between 0 and 10, got ${noise}.`,
    );
  if (
    network.task === 'classification' &&
    network.layers[network.layers.length - 1].weights.rows < NUM_CLASSES
  ) {
    throw new HepexError(
      'invalid-layer-size',
      `A digit classifier needs ${NUM_CLASSES} outputs, one per digit.`,
    );
  }
  const maxShift = network.task === 'classification' ? Math.floor(options.maxShift ?? 0) : 0;
  const groupLasso = checkGroupLasso(options.groupLasso ?? 0);
  const clipNorm =
    options.clipNorm === undefined ? 0 : positive(options.clipNorm, 'The gradient clip norm');
  const distill = options.distill ? checkDistill(network, options.distill) : undefined;
  const seed = options.seed ?? 1;
  const { signal } = options;
  throwIfAborted(signal);
  await setupBackend();

  const task = network.task;
  const p = pixelsOf(train);
  const outputs = network.layers[network.layers.length - 1].weights.rows;
  const trainPixels = imagesToFloat(train);
  const testClean = imagesToFloat(test);
  const testInputs = noise > 0 ? noisyImages(testClean, noise, seed) : testClean;
  const rng = createRng(seed);

  const teacher = distill ? toParams(distill.teacher) : undefined;
  const params = toParams(network);
  const maskTensors = options.masks?.map((m, l) => kernelFrameMask(network.layers[l], m));
  const applyMasks = (): void => {
    if (!maskTensors) return;
    tf.tidy(() => params.kernels.forEach((k, l) => k.assign(k.mul(maskTensors[l]))));
  };
  const optimizer = tf.train.adam(lr0);
  const vars = [...params.kernels, ...params.biases];
  const history: TrainProgress[] = [];
  const xBatch = new Float32Array(batchSize * p);
  const yBatch =
    task === 'classification'
      ? new Float32Array(batchSize * outputs)
      : new Float32Array(batchSize * p);
  const order = Uint32Array.from({ length: train.count }, (_, i) => i);
  let trainMs = 0;
  try {
    applyMasks();
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const t0 = performance.now();
      const lr =
        options.schedule === 'constant' || epochs <= 1
          ? lr0
          : lr0 * (0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * (epoch - 1)) / (epochs - 1))));
      (optimizer as unknown as { learningRate: number }).learningRate = lr;
      shuffleInPlace(order, rng);
      let lossSum = 0;
      let batches = 0;
      // Drop the ragged last batch: every step sees batchSize samples.
      for (let from = 0; from + batchSize <= train.count; from += batchSize) {
        if (batches % 8 === 0) {
          await new Promise((resolve) => setTimeout(resolve, 0)); // let cancel messages in
          throwIfAborted(signal);
        }
        fillBatch(train, trainPixels, order, from, batchSize, maxShift, rng, xBatch);
        if (task === 'classification') {
          yBatch.fill(0);
          for (let k = 0; k < batchSize; k++)
            yBatch[k * outputs + train.labels[order[from + k]]] = 1;
        } else {
          yBatch.set(xBatch);
          if (noise > 0) addNoise(xBatch, xBatch.length, noise, rng);
        }
        const loss = tf.tidy(() => {
          // A conv-first network trains on the batch's im2col patches (see the header).
          const x = params.conv
            ? tf.tensor2d(im2col(params.conv, xBatch, batchSize), [
                batchSize,
                network.layers[0].weights.cols,
              ])
            : tf.tensor2d(xBatch, [batchSize, p]);
          const y = tf.tensor2d(yBatch, [batchSize, task === 'classification' ? outputs : p]);
          // The teacher's softened outputs are targets: computed outside the gradient tape.
          const taught = teacher && forwardParams(teacher, x, params.conv ? 'patches' : 'images');
          const soft =
            taught && distill && task === 'classification'
              ? tf.softmax(taught.div(distill.temperature))
              : taught;
          const { value, grads } = tf.variableGrads(() => {
            const out = forwardParams(params, x, params.conv ? 'patches' : 'images');
            let fit = (
              task === 'classification'
                ? tf.losses.softmaxCrossEntropy(y, out)
                : tf.losses.meanSquaredError(y, out)
            ) as tf.Scalar;
            if (soft && distill) {
              const { temperature: t, weight } = distill;
              const kd =
                task === 'classification'
                  ? tf.losses.softmaxCrossEntropy(soft, out.div(t)).mul(t * t)
                  : tf.losses.meanSquaredError(soft, out);
              fit = fit.mul(1 - weight).add(kd.mul(weight)) as tf.Scalar;
            }
            return groupLasso > 0
              ? (fit.add(groupNorms(params.kernels).mul(groupLasso)) as tf.Scalar)
              : fit;
          }, vars);
          if (maskTensors)
            params.kernels.forEach((k, l) => (grads[k.name] = grads[k.name].mul(maskTensors[l])));
          if (clipNorm > 0) {
            const norm = tf.addN(Object.values(grads).map((g) => g.square().sum())).sqrt();
            const scale = tf.minimum(1, tf.div(clipNorm, norm.add(1e-12)));
            for (const name of Object.keys(grads)) grads[name] = grads[name].mul(scale);
          }
          optimizer.applyGradients(grads as tf.NamedTensorMap as Record<string, tf.Variable>);
          return value.dataSync()[0];
        });
        applyMasks();
        if (!Number.isFinite(loss)) {
          throw new HepexError(
            'invalid-argument',
            `Training diverged at epoch ${epoch} (the loss became ${loss}); lower the learning rate or use an activation with a smaller x^2 coefficient.`,
          );
        }
        lossSum += loss;
        batches++;
      }
      trainMs += performance.now() - t0;
      const evaluate = options.evaluateEachEpoch !== false || epoch === epochs;
      const metric: Metric = evaluate
        ? evaluateParams(params, task, test, testInputs, testClean)
        : { name: task === 'classification' ? 'accuracy' : 'mse', value: NaN };
      const progress: TrainProgress = {
        epoch,
        epochs,
        loss: lossSum / Math.max(1, batches),
        metric,
      };
      history.push(progress);
      options.onProgress?.(progress);
    }
    const metric = history.length
      ? history[history.length - 1].metric
      : evaluateParams(params, task, test, testInputs, testClean);
    return {
      network: fromParams(params, task),
      history,
      metric,
      msPerEpoch: epochs ? trainMs / epochs : 0,
    };
  } finally {
    optimizer.dispose();
    disposeParams(params);
    if (teacher) disposeParams(teacher);
    maskTensors?.forEach((m) => m.dispose());
  }
}

/**
 * Accuracy (classification) or reconstruction MSE on `test`; for reconstruction also the MSE of
 * the training set's mean image, the scale an MSE is judged against. `noise` > 0 evaluates a
 * denoiser: noisy inputs (fixed seed), clean targets.
 */
export async function evaluateNetwork(
  network: SourceNetwork,
  train: Dataset | undefined,
  test: Dataset,
  options: { noise?: number; seed?: number; signal?: AbortSignal } = {},
): Promise<Evaluation> {
  validateSourceNetwork(network);
  checkImagesFit(network, test);
  throwIfAborted(options.signal);
  await setupBackend();
  const clean = imagesToFloat(test);
  const noise = options.noise ?? 0;
  const inputs = noise > 0 ? noisyImages(clean, noise, options.seed ?? 1) : clean;
  const params = toParams(network);
  try {
    const metric = evaluateParams(params, network.task, test, inputs, clean);
    if (network.task === 'classification') return { metric };
    return { metric, meanImageMse: meanImageMse(test, meanImage(train ?? test)) };
  } finally {
    disposeParams(params);
  }
}
