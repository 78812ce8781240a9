import { LINEAR, type SourceActivation } from '../../core/model/activation';
import { convLayer } from '../../core/model/conv';
import { isHepexError } from '../../core/model/errors';
import type { SourceLayer, SourceNetwork } from '../../core/model/layers';
import { MAX_WEIGHT_BYTES } from '../../core/io/modelFileChecks';
import type { SourceModel } from '../../core/io/model';
import { validateSourceNetwork } from '../../core/model/network';
import { decodeModel, defaultOpset, int64, onnxInvalid } from './onnxDecode';
import { interpretGraph } from './onnxGraph';
import type { LayerSpec } from './onnxLayers';

/**
 * Reads an ONNX model as PyTorch's torch.onnx.export or tf2onnx writes it into a SourceModel:
 * a chain of Gemm / MatMul (+ Add) layers, optionally led by one Conv, with ReLU, sigmoid, tanh
 * or degree-2 polynomial activations between them and an optional Softmax at the end (dropped:
 * the argmax is unchanged). The network computes on the same raw inputs what the ONNX model
 * computes (before its Softmax); a conv's output order is reconciled in the next layer's columns.
 * Anything else is refused with an invalid-model-file error that says, in words, which node.
 */
export function sourceModelFromOnnx(bytes: Uint8Array, name: string): SourceModel {
  const model = decodeModel(bytes);
  const opset = defaultOpset(model);
  const graph = interpretGraph(model.graph!, opset);
  let network: SourceNetwork;
  try {
    const layers = graph.layers.map(toLayer);
    const inputWidth = graph.inputShape.reduce((n, d) => n * d, 1);
    const outputWidth = layers[layers.length - 1].weights.rows;
    network = validateSourceNetwork({
      task: outputWidth === inputWidth ? 'reconstruction' : 'classification',
      layers,
    });
  } catch (error) {
    // The core's shape and activation checks speak of layers; say which file they concern.
    if (isHepexError(error) && error.code !== 'invalid-model-file')
      throw onnxInvalid(error.message);
    throw error;
  }
  const notes: string[] = [];
  if (graph.softmax) {
    notes.push(
      'The output Softmax was dropped: the network gives the logits, and the predicted class (argmax) is unchanged.',
    );
  }
  if (graph.fromDouble) notes.push('Weights stored as float64 were rounded to float32.');
  const producer = [model.producerName, model.producerVersion].filter(Boolean).join(' ');
  return {
    name,
    network,
    provenance: {
      source: 'onnx',
      opset,
      irVersion: int64(model.irVersion, 'the IR version'),
      ...(producer ? { producer } : {}),
    },
    notes,
  };
}

/** A LayerSpec as the studio's layer: dense as is, a conv expanded to its tied dense form. */
function toLayer(spec: LayerSpec): SourceLayer {
  const activation: SourceActivation = spec.activation ?? LINEAR;
  if (!spec.conv) return { kind: 'dense', weights: spec.weights, bias: spec.bias, activation };
  const g = spec.conv;
  // The tied form is positions*filters x positions*patchWidth float32: refuse sizes that would
  // not fit in memory before allocating them.
  const positions = spec.outputShape![1] * spec.outputShape![2];
  const bytes = positions * g.filters * positions * g.patchWidth * 4;
  if (bytes > MAX_WEIGHT_BYTES) {
    throw onnxInvalid(
      `${spec.node} expands to a ${positions * g.filters} x ${positions * g.patchWidth} matrix (${bytes} bytes); the studio accepts at most ${MAX_WEIGHT_BYTES}.`,
    );
  }
  // convLayer checks activations as polynomials; ReLU and friends are put back after.
  const layer = convLayer(g, spec.weights.data, spec.bias, LINEAR);
  return { ...layer, activation };
}
