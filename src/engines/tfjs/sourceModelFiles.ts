import { LINEAR, isPolynomialActivation } from '../../core/model/activation';
import { kernelOf } from '../../core/model/conv';
import { HepexError } from '../../core/model/errors';
import type { SourceModel } from '../../core/io/model';
import { encodeSourceMetadata, sourceModelFromFiles } from '../../core/io/sourceModelFile';
import { inputWidth, validateSourceNetwork } from '../../core/model/network';
import { setupBackend, tf } from './backend';
import { layersModelFiles } from './modelFiles';

/**
 * A SourceModel (ReLU, sigmoid or tanh hidden layers, linear output) as TF.js files: built-in
 * Dense/Conv2D layers with their Keras activation, so plain tf.loadLayersModel runs it and
 * sourceModelFromFiles reads it back; `userDefinedMetadata.hepexSource` carries name, task,
 * metrics and provenance. A polynomial hidden activation belongs in a HE-ready file
 * (modelToFiles), so it is refused here. Layout as convert.ts: input -> [reshape_1 -> conv_1
 * -> flatten_1] | dense_1 -> ... -> dense_L.
 */
export async function sourceModelToFiles(
  model: SourceModel,
): Promise<{ modelJson: string; weights: Uint8Array }> {
  const network = validateSourceNetwork(model.network);
  const kerasActivation = network.layers.map((layer, l) => {
    const a = layer.activation;
    if (a.type === 'linear' || !isPolynomialActivation(a)) return a.type;
    throw new HepexError(
      'invalid-argument',
      `Cannot write layer ${l + 1}'s polynomial activation into a source model file; a model whose activations are all polynomials is written as a HE-ready model.`,
    );
  });
  const meta = encodeSourceMetadata(model);
  await setupBackend();
  const input = tf.input({ shape: [inputWidth(network)], name: 'input' });
  let x: tf.SymbolicTensor = input;
  const weighted: { layer: tf.layers.Layer; values: () => tf.Tensor[] }[] = [];
  network.layers.forEach((layer, l) => {
    const activation = kerasActivation[l] as 'linear' | 'relu' | 'sigmoid' | 'tanh';
    if (layer.kind === 'conv') {
      const g = layer.geometry;
      const conv = tf.layers.conv2d({
        filters: g.filters,
        kernelSize: g.kernel,
        strides: g.stride,
        padding: 'valid',
        activation,
        name: `conv_${l + 1}`,
      });
      const image = tf.layers
        .reshape({ targetShape: [g.height, g.width, g.channels], name: `reshape_${l + 1}` })
        .apply(x) as tf.SymbolicTensor;
      x = tf.layers
        .flatten({ name: `flatten_${l + 1}` })
        .apply(conv.apply(image)) as tf.SymbolicTensor;
      weighted.push({
        layer: conv,
        values: () => {
          const { kernel, bias } = kernelOf({ ...layer, activation: LINEAR });
          // filters x k*k*C -> HWIO (k x k x C x filters), tfjs's kernel layout.
          const hwio = tf
            .tensor2d(kernel, [g.filters, g.kernel * g.kernel * g.channels])
            .transpose()
            .reshape([g.kernel, g.kernel, g.channels, g.filters]);
          return [hwio, tf.tensor1d(bias)];
        },
      });
      return;
    }
    const dense = tf.layers.dense({
      units: layer.weights.rows,
      activation,
      name: `dense_${l + 1}`,
    });
    x = dense.apply(x) as tf.SymbolicTensor;
    weighted.push({
      layer: dense,
      values: () => {
        const { rows, cols, data } = layer.weights;
        return [tf.tensor2d(data, [rows, cols]).transpose(), tf.tensor1d(layer.bias)];
      },
    });
  });
  const layersModel = tf.model({ inputs: input, outputs: x, name: 'hepex_source' });
  try {
    for (const w of weighted) tf.tidy(() => w.layer.setWeights(w.values()));
    layersModel.setUserDefinedMetadata({ hepexSource: meta });
    const { modelJson, weights } = await layersModelFiles(layersModel);
    sourceModelFromFiles(modelJson, weights); // throws in words if it would not read back
    return { modelJson, weights };
  } finally {
    layersModel.dispose();
  }
}
