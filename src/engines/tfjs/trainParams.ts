import { LINEAR, type SourceActivation } from '../../core/model/activation';
import { checkDatasetFits, type Dataset } from '../../core/io/dataset';
import { HepexError } from '../../core/model/errors';
import { convLayer, kernelOf } from '../../core/model/conv';
import {
  convolutionOf,
  inputWidth,
  validateSourceNetwork,
  type ConvGeometry,
  type ConvLayer,
  type DenseLayer,
  type Network,
  type SourceLayer,
  type SourceNetwork,
} from '../../core/model/network';
import { tf } from './backend';
import { kernelToWeights, weightsToKernel } from '../../core/model/matrix';
import type { TrainOptions } from './train';

/** A network as tfjs variables (weights in the kernel frame) and the forward pass over them. */

/**
 * One variable per trained tensor. kernels[l] is layer l's kernel: a Dense layer's inputs x
 * outputs (W^T), a conv's k*k*C x filters (row j = (dy*k + dx)*C + c, tfjs's HWIO order).
 */
export interface Params {
  readonly kernels: tf.Variable[];
  readonly biases: tf.Variable[];
  /** ReLU, sigmoid and tanh too: a model to convert trains and teaches in plaintext. */
  readonly activations: readonly SourceActivation[];
  /** The first layer's geometry when it is a conv. */
  readonly conv?: ConvGeometry;
}

export const tapsOf = (g: ConvGeometry): number => g.kernel * g.kernel * g.channels;

/** Throws `invalid-data-file` when the images cannot feed the network (conv: also their shape). */
export function checkImagesFit(network: SourceNetwork, data: Dataset): void {
  const g = convolutionOf(network);
  if (g && (data.rows !== g.height || data.cols !== g.width || g.channels !== 1)) {
    throw new HepexError(
      'invalid-data-file',
      `${data.name} has ${data.rows} x ${data.cols} grey images but the model's convolution reads ${g.height} x ${g.width} x ${g.channels} images.`,
    );
  }
  checkDatasetFits(data, inputWidth(network));
}

/** A layer's trained kernel, as in Params (row-major). */
export function kernelOfLayer(layer: DenseLayer | ConvLayer | SourceLayer): {
  data: Float32Array;
  shape: [number, number];
  bias: Float32Array;
} {
  if (layer.kind === 'conv') {
    // The kernel does not depend on the activation (which may be a ReLU here).
    const { kernel, bias } = kernelOf({ ...layer, activation: LINEAR });
    const taps = tapsOf(layer.geometry);
    return {
      data: weightsToKernel(kernel, taps, layer.geometry.filters),
      shape: [taps, layer.geometry.filters],
      bias,
    };
  }
  const { rows, cols, data } = layer.weights;
  return { data: weightsToKernel(data, cols, rows), shape: [cols, rows], bias: layer.bias };
}

export function toParams(network: SourceNetwork): Params {
  const kernels = network.layers.map(kernelOfLayer);
  const conv = convolutionOf(network);
  return {
    // tidy disposes the initial tensors; the variables (which share their data) survive it.
    kernels: kernels.map((k) => tf.tidy(() => tf.variable(tf.tensor2d(k.data, k.shape)))),
    biases: kernels.map((k) => tf.tidy(() => tf.variable(tf.tensor1d(k.bias)))),
    activations: network.layers.map((l) => l.activation),
    ...(conv ? { conv } : {}),
  };
}

export function fromParams(params: Params, task: Network['task']): SourceNetwork {
  return {
    task,
    layers: params.kernels.map((k, l) => {
      const [inputs, outputs] = k.shape as [number, number];
      const kernel = kernelToWeights(k.dataSync() as Float32Array, inputs, outputs);
      const bias = Float32Array.from(params.biases[l].dataSync());
      // The conv comes back in its tied dense form, expanded from the trained kernel.
      if (l === 0 && params.conv)
        return {
          ...convLayer(params.conv, kernel, bias, LINEAR),
          activation: params.activations[l],
        };
      return {
        kind: 'dense' as const,
        weights: { rows: outputs, cols: inputs, data: kernel },
        bias,
        activation: params.activations[l],
      };
    }),
  };
}

/** Sum over kernels of the L2 norms of their rows (inputs) and columns (outputs); the 1e-12 keeps sqrt's gradient finite at 0. */
export function groupNorms(kernels: readonly tf.Variable[]): tf.Scalar {
  return tf.addN(
    kernels.map((k) => {
      const sq = k.square();
      return sq.sum(1).add(1e-12).sqrt().sum().add(sq.sum(0).add(1e-12).sqrt().sum());
    }),
  ) as tf.Scalar;
}

/**
 * Validates a distillation teacher and fills the defaults (T = 4, weight 0.7). The teacher may
 * have ReLU, sigmoid or tanh (conversion distils the original); a reconstruction teacher's
 * outputs are MSE targets (no temperature there).
 */
export function checkDistill(
  network: SourceNetwork,
  distill: NonNullable<TrainOptions['distill']>,
): { teacher: SourceNetwork; temperature: number; weight: number } {
  if (network.task !== distill.teacher.task)
    throw new HepexError(
      'invalid-argument',
      'The distillation teacher must do the same task as the student (classify or reconstruct).',
    );
  validateSourceNetwork(distill.teacher);
  const same = (a: SourceNetwork, b: SourceNetwork) =>
    a.layers.length === b.layers.length &&
    a.layers.every(
      (l, i) =>
        l.kind === b.layers[i].kind &&
        l.weights.rows === b.layers[i].weights.rows &&
        l.weights.cols === b.layers[i].weights.cols,
    );
  if (!same(network, distill.teacher))
    throw new HepexError(
      'invalid-network',
      "The distillation teacher must have the student's layer sizes (the dense network before pruning).",
    );
  const temperature = distill.temperature ?? 4;
  const weight = distill.weight ?? 0.7;
  if (!(temperature >= 1 && temperature <= 100))
    throw new HepexError(
      'invalid-argument',
      `The distillation temperature must be between 1 and 100, got ${temperature}.`,
    );
  if (!(weight >= 0 && weight <= 1))
    throw new HepexError(
      'invalid-argument',
      `The distillation weight must be between 0 and 1, got ${weight}.`,
    );
  return { teacher: distill.teacher, temperature, weight };
}

export function disposeParams(params: Params): void {
  for (const v of [...params.kernels, ...params.biases]) v.dispose();
}

export function activate(z: tf.Tensor2D, activation: SourceActivation): tf.Tensor2D {
  switch (activation.type) {
    case 'linear':
      return z;
    case 'relu':
      return z.relu();
    case 'sigmoid':
      return z.sigmoid();
    case 'tanh':
      return z.tanh();
    case 'square':
      return z.square();
    case 'poly': {
      const [c0 = 0, c1 = 0, c2 = 0] = activation.coefficients;
      let y = z.mul(c1) as tf.Tensor2D;
      if (c2 !== 0) y = y.add(z.square().mul(c2));
      return c0 !== 0 ? y.add(c0) : y;
    }
  }
}

/**
 * The conv's pre-activations, batch x positions*filters (NHWC flatten order, as the core's rows),
 * from either 'patches' (batch x positions*patchWidth, core im2col) or 'images' (batch x H*W*C).
 */
export function convForward(
  g: ConvGeometry,
  kernel: tf.Variable,
  bias: tf.Variable,
  x: tf.Tensor2D,
  input: 'patches' | 'images',
): tf.Tensor2D {
  const n = x.shape[0];
  if (input === 'patches') {
    // (batch * positions) x patchWidth, less the zero padding columns, times k*k*C x filters.
    const patches = x.reshape([-1, g.patchWidth]).slice([0, 0], [-1, tapsOf(g)]);
    return patches.matMul(kernel).add(bias).reshape([n, -1]);
  }
  const images = x.reshape([n, g.height, g.width, g.channels]) as tf.Tensor4D;
  const filter = kernel.reshape([g.kernel, g.kernel, g.channels, g.filters]) as tf.Tensor4D;
  return tf.conv2d(images, filter, g.stride, 'valid').add(bias).reshape([n, -1]);
}

/** The network on x: images (batch x H*W*C) or, for a conv-first network in training, patches. */
export function forwardParams(
  params: Params,
  x: tf.Tensor2D,
  input: 'patches' | 'images' = 'images',
): tf.Tensor2D {
  let h = x;
  params.kernels.forEach((k, l) => {
    const z =
      l === 0 && params.conv
        ? convForward(params.conv, k, params.biases[0], h, input)
        : (h.matMul(k).add(params.biases[l]) as tf.Tensor2D);
    h = activate(z, params.activations[l]);
  });
  return h;
}
