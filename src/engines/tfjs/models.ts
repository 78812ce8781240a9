import { checkActivation, type Activation } from '../../core/activation';
import { HepexError } from '../../core/errors';
import { createMatrix } from '../../core/matrix';
import { checkLayerSizes, type Network, type Task } from '../../core/network';
import { createRng } from '../../core/random';

/**
 * The HE-friendly architectures the studio trains (CKKS computes polynomials only, so no ReLU):
 *   mlp  classifier 784-h-...-10, polynomial hidden activations, linear logits
 *   ae   autoencoder 784-h1-h2-h1-784 (default 784-256-64-256-784), linear output
 *   dae  denoising autoencoder: the same shape, trained on noisy inputs to reproduce clean ones
 * The activation (its coefficients) is part of the spec and of every layer of the Network, so
 * the HE engine evaluates exactly the polynomial that was trained.
 */
export type Architecture = 'mlp' | 'ae' | 'dae';
export const ARCHITECTURES: readonly Architecture[] = ['mlp', 'ae', 'dae'];

export interface ModelSpec {
  readonly arch: Architecture;
  /** Layer sizes, inputs first: [784, 128, 10]. */
  readonly layers: readonly number[];
  /** Activation of every hidden layer; the last layer is linear. */
  readonly activation: Activation;
}

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
};

export const taskOf = (arch: Architecture): Task => (arch === 'mlp' ? 'classification' : 'reconstruction');

export function createSpec(arch: Architecture, layers?: readonly number[], activation: Activation = DEFAULT_POLY): ModelSpec {
  if (!ARCHITECTURES.includes(arch)) throw new HepexError('invalid-argument', `Unknown architecture "${arch}"; use mlp, ae or dae.`);
  const sizes = [...(layers ?? DEFAULT_LAYERS[arch])];
  checkLayerSizes(sizes);
  if (sizes.length < 3) throw new HepexError('invalid-layer-size', `A ${arch} needs at least one hidden layer, like ${DEFAULT_LAYERS[arch].join(',')}.`);
  if (arch === 'mlp' && sizes[sizes.length - 1] !== 10) {
    throw new HepexError('invalid-layer-size', `An MNIST classifier has 10 outputs (one per digit); got ${sizes[sizes.length - 1]}.`);
  }
  if (arch !== 'mlp' && sizes[0] !== sizes[sizes.length - 1]) {
    throw new HepexError('invalid-layer-size', `An autoencoder's output size must equal its input size; got ${sizes[0]} and ${sizes[sizes.length - 1]}.`);
  }
  return { arch, layers: sizes, activation: checkActivation(activation) };
}

/**
 * A fresh network for a spec: Glorot-uniform weights from createRng(seed), zero biases.
 * Drawing the initial weights in the core (not with tfjs initialisers) makes a seed reproduce
 * the same start on every backend.
 */
export function initNetwork(spec: ModelSpec, seed: number): Network {
  const rng = createRng(seed ^ 0x5eed);
  const { layers: sizes } = spec;
  return {
    task: taskOf(spec.arch),
    layers: sizes.slice(1).map((rows, l) => {
      const cols = sizes[l];
      const limit = Math.sqrt(6 / (rows + cols));
      const data = new Float32Array(rows * cols);
      for (let k = 0; k < data.length; k++) data[k] = (2 * rng.next() - 1) * limit;
      return {
        kind: 'dense' as const,
        weights: createMatrix(rows, cols, data),
        bias: new Float32Array(rows),
        activation: l === sizes.length - 2 ? { type: 'linear' as const } : spec.activation,
      };
    }),
  };
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
  throw new HepexError('invalid-argument', `Unknown activation "${text}"; use square, poly (0 + 0.5x + 0.25x^2) or poly:c0,c1,c2.`);
}
