import {
  activationLabel,
  evaluateActivation,
  isPolynomialActivation,
  type Activation,
  type SourceActivation,
} from './activation';
import { HepexError, throwIfAborted } from './errors';
import {
  firstLayerInputs,
  forwardDenseView,
  validateSourceNetwork,
  type Layer,
  type Network,
  type SourceNetwork,
} from './network';

/**
 * HE-friendly conversion, the fit: each ReLU, sigmoid or tanh becomes the degree-2 polynomial
 * c0 + c1 x + c2 x^2 closest to it, in least squares, on the values it actually sees (that
 * layer's pre-activations on training samples). Degree 2 because the HE engine evaluates one
 * multiplicative level per activation (activation.ts).
 */
export interface QuadraticFit {
  /** Ascending: c0, c1, c2 (c2 >= 0 always). */
  readonly coefficients: readonly [number, number, number];
  /** Root-mean-square error of the polynomial against the activation on the values. */
  readonly rmse: number;
  /** The unconstrained fit had c2 < 0, so the best fit with c2 = 0 (a line) was taken. */
  readonly clamped: boolean;
}

/** Solves the symmetric 3 x 3 system A c = b (row-major) by Gaussian elimination with pivoting. */
function solve3(a: Float64Array, b: Float64Array): Float64Array | undefined {
  const m = Float64Array.from(a);
  const v = Float64Array.from(b);
  for (let col = 0; col < 3; col++) {
    let pivot = col;
    for (let r = col + 1; r < 3; r++)
      if (Math.abs(m[r * 3 + col]) > Math.abs(m[pivot * 3 + col])) pivot = r;
    if (Math.abs(m[pivot * 3 + col]) < 1e-12) return undefined;
    for (let k = 0; k < 3; k++)
      [m[col * 3 + k], m[pivot * 3 + k]] = [m[pivot * 3 + k], m[col * 3 + k]];
    [v[col], v[pivot]] = [v[pivot], v[col]];
    for (let r = col + 1; r < 3; r++) {
      const f = m[r * 3 + col] / m[col * 3 + col];
      for (let k = col; k < 3; k++) m[r * 3 + k] -= f * m[col * 3 + k];
      v[r] -= f * v[col];
    }
  }
  const c = new Float64Array(3);
  for (let r = 2; r >= 0; r--) {
    let s = v[r];
    for (let k = r + 1; k < 3; k++) s -= m[r * 3 + k] * c[k];
    c[r] = s / m[r * 3 + r];
  }
  return c;
}

/**
 * Least-squares c0 + c1 x + c2 x^2 through (x, target(x)) over `values`, with c2 >= 0.
 * The HE engine needs c2 >= 0: it folds sqrt(c2) into the layer's weights and computes
 * x'(x' + c1/sqrt(c2)) + c0 (executionPlan.ts). Least squares is convex in c, so when the free
 * optimum has c2 < 0 the best fit with c2 >= 0 lies on c2 = 0: the least-squares line.
 * The normal equations are formed in float64 on u = (x - mean) / std, which keeps the 3 x 3
 * moment matrix well conditioned whatever the scale of x, then mapped back to x.
 */
export function fitQuadratic(
  values: ArrayLike<number>,
  target: SourceActivation | ((x: number) => number),
): QuadraticFit {
  const n = values.length;
  if (n === 0)
    throw new HepexError('invalid-argument', 'Fitting an activation needs at least one value.');
  const f = typeof target === 'function' ? target : (x: number) => evaluateActivation(target, x);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += values[i];
  mean /= n;
  let variance = 0;
  for (let i = 0; i < n; i++) variance += (values[i] - mean) ** 2;
  const std = Math.sqrt(variance / n);
  if (!Number.isFinite(mean) || !Number.isFinite(std))
    throw new HepexError('invalid-argument', 'The values to fit an activation on are not finite.');
  if (std < 1e-9 * Math.max(1, Math.abs(mean))) {
    // All values (nearly) equal: only the constant is determined.
    return { coefficients: [f(mean), 0, 0], rmse: 0, clamped: false };
  }
  // Moments of u: sums of u^0..u^4 and of y u^0..u^2.
  const su = new Float64Array(5);
  const sy = new Float64Array(3);
  for (let i = 0; i < n; i++) {
    const u = (values[i] - mean) / std;
    const y = f(values[i]);
    let p = 1;
    for (let k = 0; k < 5; k++) {
      su[k] += p;
      if (k < 3) sy[k] += y * p;
      p *= u;
    }
  }
  const normal = Float64Array.from([su[0], su[1], su[2], su[1], su[2], su[3], su[2], su[3], su[4]]);
  let a = solve3(normal, sy);
  let clamped = false;
  if (!a || a[2] < 0) {
    // A line in u (su[1] = 0 up to rounding, but solve the 2 x 2 system exactly).
    const det = su[0] * su[2] - su[1] * su[1];
    a = Float64Array.from([
      (sy[0] * su[2] - sy[1] * su[1]) / det,
      (su[0] * sy[1] - su[1] * sy[0]) / det,
      0,
    ]);
    clamped = true;
  }
  // y = a0 + a1 u + a2 u^2 with u = (x - mean) / std, expanded in powers of x.
  const c2 = a[2] / (std * std);
  const c1 = a[1] / std - (2 * a[2] * mean) / (std * std);
  const c0 = a[0] - (a[1] * mean) / std + (a[2] * mean * mean) / (std * std);
  let se = 0;
  for (let i = 0; i < n; i++) {
    const x = values[i];
    se += (c0 + c1 * x + c2 * x * x - f(x)) ** 2;
  }
  return { coefficients: [c0, c1, c2], rmse: Math.sqrt(se / n), clamped };
}

/** The polynomial activation of a fit, without trailing zero terms. */
export function fitActivation(fit: QuadraticFit): Activation {
  const c = [...fit.coefficients];
  while (c.length > 1 && c[c.length - 1] === 0) c.pop();
  return { type: 'poly', coefficients: c };
}

/** One converted layer: what it had and the polynomial it got. */
export interface LayerFit extends QuadraticFit {
  /** 0-based layer index. */
  readonly layer: number;
  /** "ReLU", "sigmoid" or "tanh". */
  readonly from: string;
  /** Pre-activation values the fit saw (samples x the layer's outputs). */
  readonly values: number;
}

/**
 * Replaces every non-polynomial activation by its fit, layer by layer: layer l's
 * pre-activations are observed on `inputs` (count x inputWidth, raw samples) with layers < l
 * already converted, so each fit sees what the converted network feeds it. Pure, float64;
 * polynomial layers are kept as they are. Returns a network validateNetwork accepts.
 */
export function fitNetworkActivations(
  network: SourceNetwork,
  inputs: Float32Array,
  count: number,
  signal?: AbortSignal,
): { network: Network; fits: LayerFit[] } {
  validateSourceNetwork(network);
  let h = firstLayerInputs(network, inputs, count);
  const fits: LayerFit[] = [];
  const layers: Layer[] = network.layers.map((layer, l) => {
    throwIfAborted(signal);
    let activation = layer.activation;
    const linear = { ...layer, activation: { type: 'linear' as const } } as Layer;
    // count x rows pre-activations of this layer on the converted prefix's outputs.
    const z = forwardDenseView({ task: network.task, layers: [linear] }, h, count);
    if (!isPolynomialActivation(activation)) {
      const fit = fitQuadratic(z, activation);
      fits.push({ ...fit, layer: l, from: activationLabel(activation), values: z.length });
      activation = fitActivation(fit);
    }
    const a = activation;
    h = z.map((v) => evaluateActivation(a, v));
    return { ...layer, activation } as Layer;
  });
  return { network: { task: network.task, layers }, fits };
}
