import type { SourceActivation } from '../model/activation';
import { convGeometry, convLayer } from '../model/conv';
import { MAX_LAYER_SIZE, type ConvGeometry, type SourceLayer } from '../model/network';
import { kernelToWeights } from '../model/matrix';
import { readFloats, type WeightEntry } from './layersModelManifest';
import { invalid, shown } from './modelFileChecks';
import { nonPolynomialNamed } from './layersModelActivations';
import type { DenseNode, LayerJson } from './layersModelGraph';

/** A Conv2D layer of a TF.js model file: its geometry and its tied weights. */

/** A [height, width, channels] shape of whole numbers. */
export function imageShape(v: unknown, what: string): [number, number, number] {
  if (
    !Array.isArray(v) ||
    v.length !== 3 ||
    !v.every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_LAYER_SIZE)
  ) {
    throw invalid(
      `${what} must be an image shape [height, width, channels] of whole numbers, got ${shown(v)}.`,
    );
  }
  return v as [number, number, number];
}

/** A Conv2D config's geometry on `image`; the HE engine runs square kernels and strides, 'valid', channels last, linear. */
export function conv2dGeometry(
  layer: LayerJson,
  image: readonly [number, number, number],
): ConvGeometry {
  const c = layer.config;
  const where = `Conv2D layer "${layer.name}"`;
  const pair = (v: unknown, what: string): number => {
    const [a, b] = Array.isArray(v) ? v : [v, v];
    if (typeof a !== 'number' || a !== b || !Number.isInteger(a) || a < 1 || a > MAX_LAYER_SIZE)
      throw invalid(`${where} needs a square ${what} of whole numbers, got ${shown(v)}.`);
    return a;
  };
  const filters = c.filters;
  if (
    typeof filters !== 'number' ||
    !Number.isInteger(filters) ||
    filters < 1 ||
    filters > MAX_LAYER_SIZE
  )
    throw invalid(`${where} has ${shown(filters)} filters.`);
  const kernel = pair(c.kernel_size, 'kernel');
  const stride = pair(c.strides ?? 1, 'stride');
  if ((c.padding ?? 'valid') !== 'valid')
    throw invalid(
      `${where} uses padding ${shown(c.padding)}; the client packs 'valid' patches only.`,
    );
  if ((c.data_format ?? 'channels_last') !== 'channels_last')
    throw invalid(
      `${where} uses data format ${JSON.stringify(c.data_format)}; only channels_last (NHWC) is read.`,
    );
  if (pair(c.dilation_rate ?? 1, 'dilation rate') !== 1)
    throw invalid(`${where} is dilated; only dilation 1 is read.`);
  const activation = c.activation ?? 'linear';
  if (activation !== 'linear' && !nonPolynomialNamed(activation))
    throw invalid(
      `${where} uses activation ${shown(c.activation)}, which the studio does not read; use linear, relu, sigmoid, tanh or polynomial activations.`,
    );
  const [height, width, channels] = image;
  try {
    return convGeometry({ height, width, channels, kernel, stride, filters });
  } catch (error) {
    throw invalid(`${where}: ${(error as Error).message}`);
  }
}

/** A Conv2D node's HWIO kernel (k x k x C x filters) and bias as the core's tied ConvLayer. */
export function convFromFile(
  d: DenseNode,
  g: ConvGeometry,
  kernel: WeightEntry | undefined,
  bias: WeightEntry | undefined,
  weights: Uint8Array,
  activation: SourceActivation,
): SourceLayer {
  const want = [g.kernel, g.kernel, g.channels, g.filters];
  if (!kernel)
    throw invalid(`the weights of Conv2D layer "${d.name}" (${d.name}/kernel) are missing.`);
  if (kernel.shape.join() !== want.join()) {
    throw invalid(
      `${d.name}/kernel has shape [${kernel.shape.join(', ')}] but a ${g.kernel} x ${g.kernel} convolution of ${g.channels}-channel images into ${g.filters} filters needs [${want.join(', ')}].`,
    );
  }
  if (d.useBias && !bias)
    throw invalid(`the bias of Conv2D layer "${d.name}" (${d.name}/bias) is missing.`);
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== d.units))
    throw invalid(
      `${d.name}/bias has shape [${bias.shape.join(', ')}] but the layer has ${d.units} filters.`,
    );
  const taps = g.kernel * g.kernel * g.channels;
  // HWIO flattened is (k*k*C) x filters; the core's kernel is filters x (k*k*C).
  const filterBias = bias && d.useBias ? readFloats(weights, bias) : new Float32Array(d.units);
  // convLayer checks polynomial activations; a ReLU conv (to convert) takes its activation after.
  const conv = convLayer(
    g,
    kernelToWeights(readFloats(weights, kernel), taps, d.units),
    filterBias,
    {
      type: 'linear',
    },
  );
  return { ...conv, activation };
}
