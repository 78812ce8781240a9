import { activationCoefficients, type Activation } from '../../core/activation';
import type { Network } from '../../core/network';
import { tf } from './backend';

/**
 * Core Network <-> tfjs LayersModel. A tfjs Dense kernel is inputs x outputs; the core's W is
 * outputs x inputs, so every crossing transposes.
 *
 * Polynomial activations are built from built-in layers only, so an exported file loads in
 * plain tfjs with no custom layer registered:
 *   linear          d
 *   square          Multiply()([d, d])
 *   c0 + c1 x + c2 x^2   Add()([Rescaling(c2)(Multiply()([d, d])), Rescaling(c1, offset c0)(d)])
 *   c0 + c1 x       Rescaling(c1, offset c0)(d)
 * Layer names are dense_<l>, square_<l>, quad_<l>, lin_<l>, act_<l> (l from 1).
 * Needs a ready backend: await setupBackend() (backend.ts) first.
 */
export function networkToLayersModel(network: Network): tf.LayersModel {
  const inputs = network.layers[0].weights.cols;
  const input = tf.input({ shape: [inputs], name: 'input' });
  let x: tf.SymbolicTensor = input;
  const denses: tf.layers.Layer[] = [];
  network.layers.forEach((layer, l) => {
    const dense = tf.layers.dense({ units: layer.weights.rows, name: `dense_${l + 1}`, useBias: true, kernelInitializer: 'zeros' });
    denses.push(dense);
    const d = dense.apply(x) as tf.SymbolicTensor;
    x = applyActivation(d, layer.activation, l + 1);
  });
  const model = tf.model({ inputs: input, outputs: x, name: 'hepex' });
  setNetworkWeights(denses, network);
  return model;
}

function applyActivation(d: tf.SymbolicTensor, activation: Activation, index: number): tf.SymbolicTensor {
  if (activation.type === 'linear') return d;
  if (activation.type === 'square') return tf.layers.multiply({ name: `square_${index}` }).apply([d, d]) as tf.SymbolicTensor;
  const [c0 = 0, c1 = 0, c2 = 0] = activationCoefficients(activation);
  const linear = tf.layers.rescaling({ scale: c1, offset: c0, name: `lin_${index}` }).apply(d) as tf.SymbolicTensor;
  if (c2 === 0) return linear;
  const square = tf.layers.multiply({ name: `square_${index}` }).apply([d, d]) as tf.SymbolicTensor;
  const quad = tf.layers.rescaling({ scale: c2, name: `quad_${index}` }).apply(square) as tf.SymbolicTensor;
  return tf.layers.add({ name: `act_${index}` }).apply([quad, linear]) as tf.SymbolicTensor;
}

/** Copies the core weights into the Dense layers (kernel = W^T). */
function setNetworkWeights(denses: readonly tf.layers.Layer[], network: Network): void {
  network.layers.forEach((layer, l) => {
    const { rows, cols, data } = layer.weights;
    tf.tidy(() => {
      const kernel = tf.tensor2d(data, [rows, cols]).transpose();
      denses[l].setWeights([kernel, tf.tensor1d(layer.bias)]);
    });
  });
}

/** Kernel (inputs x outputs, row-major) -> W (outputs x inputs, row-major). */
export function kernelToWeights(kernel: Float32Array, inputs: number, outputs: number): Float32Array {
  const w = new Float32Array(inputs * outputs);
  for (let i = 0; i < inputs; i++) {
    const ko = i * outputs;
    for (let o = 0; o < outputs; o++) w[o * inputs + i] = kernel[ko + o];
  }
  return w;
}

/** W (outputs x inputs) -> kernel (inputs x outputs), both row-major. */
export function weightsToKernel(w: Float32Array, inputs: number, outputs: number): Float32Array {
  const kernel = new Float32Array(inputs * outputs);
  for (let o = 0; o < outputs; o++) {
    const wo = o * inputs;
    for (let i = 0; i < inputs; i++) kernel[i * outputs + o] = w[wo + i];
  }
  return kernel;
}

/** Runs a LayersModel on count x inputs floats in batches; returns count x outputs. */
export function predictFlat(model: tf.LayersModel, inputs: Float32Array, count: number, batchSize = 500): Float32Array {
  const width = inputs.length / count;
  const chunks: Float32Array[] = [];
  for (let s = 0; s < count; s += batchSize) {
    const n = Math.min(batchSize, count - s);
    chunks.push(
      tf.tidy(() => {
        const x = tf.tensor2d(inputs.subarray(s * width, (s + n) * width), [n, width]);
        return (model.predict(x) as tf.Tensor).dataSync() as Float32Array;
      }),
    );
  }
  const out = new Float32Array(chunks.reduce((a, c) => a + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
