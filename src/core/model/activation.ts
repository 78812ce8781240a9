import { HepexError } from './errors';

/**
 * Activations CKKS can evaluate: polynomials only (no ReLU). Coefficients are ascending
 * (c0 + c1 x + c2 x^2). The HE engine evaluates exactly these, so they live in the model spec.
 * Degree is capped at 2: with c2 > 0 the engine folds sqrt(c2) into the layer's weights and
 * evaluates x'(x' + c1/sqrt(c2)) + c0, one multiplicative level (see executionPlan.ts).
 */
export type Activation =
  | { readonly type: 'linear' }
  | { readonly type: 'square' }
  | { readonly type: 'poly'; readonly coefficients: readonly number[] };

export const LINEAR: Activation = { type: 'linear' };
export const SQUARE: Activation = { type: 'square' };

/** Ascending coefficients of the activation polynomial. */
export function activationCoefficients(activation: Activation): readonly number[] {
  switch (activation.type) {
    case 'linear':
      return [0, 1];
    case 'square':
      return [0, 0, 1];
    case 'poly':
      return activation.coefficients;
  }
}

/** Validates an activation and returns it; throws a plain-words error otherwise. */
export function checkActivation(activation: Activation): Activation {
  if (activation.type === 'poly') {
    const c = activation.coefficients;
    if (!Array.isArray(c) || c.length < 1 || c.length > 3 || !c.every(Number.isFinite)) {
      throw new HepexError(
        'invalid-network',
        'A polynomial activation needs 1 to 3 finite coefficients (c0 + c1 x + c2 x^2).',
      );
    }
    if (c.length === 3 && c[2] < 0) {
      throw new HepexError(
        'invalid-network',
        'A quadratic activation needs a non-negative x^2 coefficient (the HE engine folds its square root into the weights).',
      );
    }
  } else if (activation.type !== 'linear' && activation.type !== 'square') {
    throw new HepexError(
      'invalid-network',
      `Unknown activation "${(activation as { type: string }).type}".`,
    );
  }
  return activation;
}

/** True when the activation needs a ciphertext-by-ciphertext multiplication (one level). */
export function activationIsQuadratic(activation: Activation): boolean {
  const c = activationCoefficients(activation);
  return c.length === 3 && c[2] !== 0;
}

/**
 * Activations trained models use that CKKS cannot evaluate (not polynomials). A network that has
 * them is a SourceNetwork: it runs in plaintext (import, conversion) but must be converted to
 * polynomial activations before any tile plan or HE run sees it.
 */
export type NonPolynomialActivation =
  { readonly type: 'relu' } | { readonly type: 'sigmoid' } | { readonly type: 'tanh' };

export type SourceActivation = Activation | NonPolynomialActivation;

export const NON_POLYNOMIAL_TYPES: readonly NonPolynomialActivation['type'][] = [
  'relu',
  'sigmoid',
  'tanh',
];

export function isPolynomialActivation(activation: SourceActivation): activation is Activation {
  return activation.type === 'linear' || activation.type === 'square' || activation.type === 'poly';
}

/** Like checkActivation, but also accepts ReLU, sigmoid and tanh (plaintext-only). */
export function checkSourceActivation(activation: SourceActivation): SourceActivation {
  if (NON_POLYNOMIAL_TYPES.includes(activation.type as NonPolynomialActivation['type'])) {
    return activation;
  }
  return checkActivation(activation as Activation);
}

/** How people name an activation in messages: "ReLU", "square", "0.1 + 0.5x + 0.2x^2". */
export function activationLabel(activation: SourceActivation): string {
  switch (activation.type) {
    case 'relu':
      return 'ReLU';
    case 'sigmoid':
      return 'sigmoid';
    case 'tanh':
      return 'tanh';
    case 'linear':
    case 'square':
      return activation.type;
    case 'poly':
      return activation.coefficients
        .map((c, k) => (k === 0 ? `${c}` : k === 1 ? `${c}x` : `${c}x^${k}`))
        .join(' + ');
  }
}

export function evaluateActivation(activation: SourceActivation, x: number): number {
  switch (activation.type) {
    case 'relu':
      return x > 0 ? x : 0;
    case 'sigmoid':
      return 1 / (1 + Math.exp(-x));
    case 'tanh':
      return Math.tanh(x);
    case 'linear':
      return x;
    case 'square':
      return x * x;
    case 'poly': {
      const c = activation.coefficients;
      let y = 0;
      for (let k = c.length - 1; k >= 0; k--) y = y * x + c[k];
      return y;
    }
  }
}
