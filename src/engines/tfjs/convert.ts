import { activationCoefficients, type Activation } from '../../core/model/activation';
import { kernelOf } from '../../core/model/conv';
import { inputWidth, type Network } from '../../core/model/network';
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
 * A conv-first network (network.ts ConvLayer) reads raw images, as the studio feeds them:
 *   input [H*W*C] -> Reshape [H, W, C] 'reshape_1' -> Conv2D 'conv_1' (k x k, stride, 'valid')
 *   -> Flatten 'flatten_1' (NHWC order: feature p * filters + f, the core's row order) -> activation
 * so the file holds the kernel once (HWIO, k x k x C x filters), not the tied dense form.
 * Needs a ready backend: await setupBackend() (backend.ts) first.
 */
export function networkToLayersModel(network: Network): tf.LayersModel {
  const input = tf.input({ shape: [inputWidth(network)], name: 'input' });
  let x: tf.SymbolicTensor = input;
  const weighted: tf.layers.Layer[] = [];
  network.layers.forEach((layer, l) => {
    let d: tf.SymbolicTensor;
    if (layer.kind === 'conv') {
      const g = layer.geometry;
      const image = tf.layers
        .reshape({ targetShape: [g.height, g.width, g.channels], name: `reshape_${l + 1}` })
        .apply(x) as tf.SymbolicTensor;
      const conv = tf.layers.conv2d({
        filters: g.filters,
        kernelSize: g.kernel,
        strides: g.stride,
        padding: 'valid',
        name: `conv_${l + 1}`,
        useBias: true,
        kernelInitializer: 'zeros',
      });
      weighted.push(conv);
      d = tf.layers
        .flatten({ name: `flatten_${l + 1}` })
        .apply(conv.apply(image)) as tf.SymbolicTensor;
    } else {
      const dense = tf.layers.dense({
        units: layer.weights.rows,
        name: `dense_${l + 1}`,
        useBias: true,
        kernelInitializer: 'zeros',
      });
      weighted.push(dense);
      d = dense.apply(x) as tf.SymbolicTensor;
    }
    x = applyActivation(d, layer.activation, l + 1);
  });
  const model = tf.model({ inputs: input, outputs: x, name: 'hepex' });
  setNetworkWeights(weighted, network);
  return model;
}

function applyActivation(
  d: tf.SymbolicTensor,
  activation: Activation,
  index: number,
): tf.SymbolicTensor {
  if (activation.type === 'linear') return d;
  if (activation.type === 'square')
    return tf.layers.multiply({ name: `square_${index}` }).apply([d, d]) as tf.SymbolicTensor;
  const [c0 = 0, c1 = 0, c2 = 0] = activationCoefficients(activation);
  const linear = tf.layers
    .rescaling({ scale: c1, offset: c0, name: `lin_${index}` })
    .apply(d) as tf.SymbolicTensor;
  if (c2 === 0) return linear;
  const square = tf.layers.multiply({ name: `square_${index}` }).apply([d, d]) as tf.SymbolicTensor;
  const quad = tf.layers
    .rescaling({ scale: c2, name: `quad_${index}` })
    .apply(square) as tf.SymbolicTensor;
  return tf.layers.add({ name: `act_${index}` }).apply([quad, linear]) as tf.SymbolicTensor;
}

/** Copies the core weights into the Dense layers (kernel = W^T) and the conv (kernel HWIO). */
function setNetworkWeights(layers: readonly tf.layers.Layer[], network: Network): void {
  network.layers.forEach((layer, l) => {
    tf.tidy(() => {
      if (layer.kind === 'conv') {
        const g = layer.geometry;
        const { kernel, bias } = kernelOf(layer);
        // filters x k*k*C -> (k*k*C) x filters = HWIO flattened (j = (dy*k + dx)*C + c).
        const hwio = tf
          .tensor2d(kernel, [g.filters, g.kernel * g.kernel * g.channels])
          .transpose()
          .reshape([g.kernel, g.kernel, g.channels, g.filters]);
        layers[l].setWeights([hwio, tf.tensor1d(bias)]);
        return;
      }
      const { rows, cols, data } = layer.weights;
      const kernel = tf.tensor2d(data, [rows, cols]).transpose();
      layers[l].setWeights([kernel, tf.tensor1d(layer.bias)]);
    });
  });
}

/** Runs a LayersModel on count x inputs floats in batches; returns count x outputs. */
export function predictFlat(
  model: tf.LayersModel,
  inputs: Float32Array,
  count: number,
  batchSize = 500,
): Float32Array {
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
