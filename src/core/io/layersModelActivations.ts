import type { NonPolynomialActivation } from '../model/activation';
import type { Sym } from './layersModelGraph';
import { invalid } from './modelFileChecks';

/**
 * The non-polynomial activations a TF.js model may bring (Dense/Conv2D `activation`, or an
 * Activation layer): read into a SourceNetwork, which `hepex convert` makes HE-friendly.
 */
const NON_POLYNOMIAL_NAMES: Readonly<Record<string, NonPolynomialActivation['type']>> = {
  relu: 'relu',
  sigmoid: 'sigmoid',
  tanh: 'tanh',
};

/** The non-polynomial activation a Keras config names ("relu", "sigmoid", "tanh"), if any. */
export function nonPolynomialNamed(name: unknown): NonPolynomialActivation['type'] | undefined {
  return typeof name === 'string' && Object.hasOwn(NON_POLYNOMIAL_NAMES, name)
    ? NON_POLYNOMIAL_NAMES[name]
    : undefined;
}

/**
 * Refuses arithmetic (Multiply, Add, Rescaling) on a ReLU/sigmoid/tanh output: a polynomial of
 * it is no single activation a layer could carry.
 */
export function polynomialOnly(args: readonly Sym[], where: string): void {
  const bad = args.find((a) => a.nonPolynomial);
  if (bad)
    throw invalid(
      `"${where}" transforms the output of a ${bad.nonPolynomial} activation; the studio reads one activation per layer.`,
    );
}
