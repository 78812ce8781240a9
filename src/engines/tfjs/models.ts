import { checkActivation, type Activation } from '../../core/model/activation';
import { HepexError } from '../../core/model/errors';
import { createMatrix } from '../../core/model/matrix';
import { convGeometry, convLayer, outputSize } from '../../core/model/conv';
import {
  checkLayerSizes,
  type ConvGeometry,
  type Layer,
  type Network,
  type Task,
} from '../../core/model/network';
import { createRng, type Rng } from '../../core/model/random';

/**
 * The HE-friendly architectures the studio trains (CKKS computes polynomials only, so no ReLU):
 *   mlp  classifier 784-h-...-10, polynomial hidden activations, linear logits
 *   ae   autoencoder 784-h1-h2-h1-784 (default 784-256-64-256-784), linear output
 *   dae  denoising autoencoder: the same shape, trained on noisy inputs to reproduce clean ones
 *   cnn  classifier: conv (default 5x5 stride 2 'valid', 8 filters: 28x28x1 -> 12x12x8 = 1152
 *        features) -> poly -> dense 64 -> poly -> dense 10. `layers` are the image's pixel count
 *        and the dense layers AFTER the conv ([784, 64, 10]); the conv's own sizes follow from
 *        `conv` (in the core it is the first layer, in its tied dense form, see network.ts).
 * The activation (its coefficients) is part of the spec and of every layer of the Network, so
 * the HE engine evaluates exactly the polynomial that was trained.
 */
export type Architecture = 'mlp' | 'ae' | 'dae' | 'cnn';
export const ARCHITECTURES: readonly Architecture[] = ['mlp', 'ae', 'dae', 'cnn'];

export interface ModelSpec {
  readonly arch: Architecture;
  /** Layer sizes, inputs first: [784, 128, 10]; cnn: pixels, then the dense layers after the conv. */
  readonly layers: readonly number[];
  /** Activation of every hidden layer (the conv's too); the last layer is linear. */
  readonly activation: Activation;
  /** cnn only: the first layer's convolution. */
  readonly conv?: ConvGeometry;
}

/** The conv of a cnn spec; the image is square with one channel unless given (MNIST: 28 x 28 x 1). */
export interface ConvOptions {
  readonly filters?: number;
  readonly kernel?: number;
  readonly stride?: number;
  readonly height?: number;
  readonly width?: number;
  readonly channels?: number;
}

/** 5 x 5 stride 2 keeps 12 x 12 of a 28 x 28 digit; 8 filters give 1152 features. */
export const DEFAULT_CONV = { filters: 8, kernel: 5, stride: 2 } as const;

/**
 * Default hidden activation: 0.5 x + 0.25 x^2 (poly, degree 2). The linear term keeps gradients
 * alive near 0 where a pure square has none, and the quadratic term gives the non-linearity;
 * one multiplicative level under CKKS, like a square.
 */
export const DEFAULT_POLY: Activation = { type: 'poly', coefficients: [0, 0.5, 0.25] };

export const DEFAULT_LAYERS: Record<Architecture, readonly number[]> = {
  mlp: [784, 128, 10],
  ae: [784, 256, 64, 256, 784],
  dae: [784, 256, 64, 256, 784],
  cnn: [784, 64, 10],
};

export const taskOf = (arch: Architecture): Task =>
  arch === 'mlp' || arch === 'cnn' ? 'classification' : 'reconstruction';

export function createSpec(
  arch: Architecture,
  layers?: readonly number[],
  activation: Activation = DEFAULT_POLY,
  conv: ConvOptions = {},
): ModelSpec {
  if (!ARCHITECTURES.includes(arch))
    throw new HepexError(
      'invalid-argument',
      `Unknown architecture "${arch}"; use mlp, ae, dae or cnn.`,
    );
  const sizes = [...(layers ?? DEFAULT_LAYERS[arch])];
  checkLayerSizes(sizes);
  // A cnn's conv is a hidden layer of its own, so [784, 10] (conv -> dense 10) is a cnn too.
  if (sizes.length < (arch === 'cnn' ? 2 : 3))
    throw new HepexError(
      'invalid-layer-size',
      `A ${arch} needs at least one hidden layer, like ${DEFAULT_LAYERS[arch].join(',')}.`,
    );
  if ((arch === 'mlp' || arch === 'cnn') && sizes[sizes.length - 1] !== 10) {
    throw new HepexError(
      'invalid-layer-size',
      `An MNIST classifier has 10 outputs (one per digit); got ${sizes[sizes.length - 1]}.`,
    );
  }
  if ((arch === 'ae' || arch === 'dae') && sizes[0] !== sizes[sizes.length - 1]) {
    throw new HepexError(
      'invalid-layer-size',
      `An autoencoder's output size must equal its input size; got ${sizes[0]} and ${sizes[sizes.length - 1]}.`,
    );
  }
  const spec = { arch, layers: sizes, activation: checkActivation(activation) };
  return arch === 'cnn' ? { ...spec, conv: cnnGeometry(sizes[0], conv) } : spec;
}

/** "mlp 784-128-10", "cnn 784-64-10 (conv 8 x 5x5 stride 2)": how the CLI and model names say a spec. */
export function specName(spec: ModelSpec): string {
  const conv = spec.conv
    ? ` (conv ${spec.conv.filters} x ${spec.conv.kernel}x${spec.conv.kernel} stride ${spec.conv.stride})`
    : '';
  return `${spec.arch} ${spec.layers.join('-')}${conv}`;
}

function cnnGeometry(pixels: number, options: ConvOptions): ConvGeometry {
  const channels = options.channels ?? 1;
  const side = Math.round(Math.sqrt(pixels / channels));
  const height = options.height ?? side;
  const width = options.width ?? side;
  if (height * width * channels !== pixels) {
    throw new HepexError(
      'invalid-layer-size',
      `A cnn's first size is the image's pixel count; ${pixels} is not ${height} x ${width} x ${channels} (give a square image, like 784 = 28 x 28).`,
    );
  }
  return convGeometry({
    height,
    width,
    channels,
    kernel: options.kernel ?? DEFAULT_CONV.kernel,
    stride: options.stride ?? DEFAULT_CONV.stride,
    filters: options.filters ?? DEFAULT_CONV.filters,
  });
}

/** Glorot-uniform values for a fan-in x fan-out layer. */
function glorot(rng: Rng, length: number, fanIn: number, fanOut: number): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const data = new Float32Array(length);
  for (let k = 0; k < data.length; k++) data[k] = (2 * rng.next() - 1) * limit;
  return data;
}

/**
 * A fresh network for a spec: Glorot-uniform weights from createRng(seed), zero biases.
 * Drawing the initial weights in the core (not with tfjs initialisers) makes a seed reproduce
 * the same start on every backend.
 */
export function initNetwork(spec: ModelSpec, seed: number): Network {
  const rng = createRng(seed ^ 0x5eed);
  const layers: Layer[] = [];
  const sizes = [...spec.layers];
  if (spec.conv) {
    // Keras's conv Glorot: fan-in k*k*C, fan-out k*k*filters; kernel filters x k*k*C.
    const g = spec.conv;
    const taps = g.kernel * g.kernel * g.channels;
    const kernel = glorot(rng, g.filters * taps, taps, g.kernel * g.kernel * g.filters);
    layers.push(convLayer(g, kernel, new Float32Array(g.filters), spec.activation));
    sizes[0] = outputSize(g).positions * g.filters;
  }
  sizes.slice(1).forEach((rows, l) => {
    const cols = sizes[l];
    layers.push({
      kind: 'dense' as const,
      weights: createMatrix(rows, cols, glorot(rng, rows * cols, cols, rows)),
      bias: new Float32Array(rows),
      activation: l === sizes.length - 2 ? { type: 'linear' as const } : spec.activation,
    });
  });
  return { task: taskOf(spec.arch), layers };
}

/** Parses --activation: "square", "linear", or "poly:c0,c1,c2" (ascending coefficients). */
export function parseActivation(text: string): Activation {
  if (text === 'square' || text === 'linear') return { type: text };
  if (text === 'poly') return DEFAULT_POLY;
  const m = /^poly:(.+)$/.exec(text);
  if (m) {
    const coefficients = m[1].split(',').map((s) => Number(s.trim()));
    return checkActivation({ type: 'poly', coefficients });
  }
  throw new HepexError(
    'invalid-argument',
    `Unknown activation "${text}"; use square, poly (0 + 0.5x + 0.25x^2) or poly:c0,c1,c2.`,
  );
}
