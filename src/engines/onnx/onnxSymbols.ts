import type { NonPolynomialActivation, SourceActivation } from '../../core/model/activation';
import type { ConstTensor } from './onnxDecode';
import { onnxInvalid } from './onnxDecode';

/**
 * How the importer sees a tensor of an ONNX graph: a constant, or a symbol, an element-wise
 * function of one weighted layer's output y. Polynomials are tracked as c0 + c1 y + c2 y^2 (the
 * HE engine evaluates degree <= 2), so x * x, x ** 2 and 0.1 x^2 + 0.5 x + 0.2 built from Mul,
 * Pow and Add nodes all become one layer activation; ReLU, sigmoid and tanh are kept by name.
 */
export interface Sym {
  readonly kind: 'sym';
  /** The weighted layer whose output this is a function of; -1 is the graph input. */
  readonly layer: number;
  readonly c: readonly [number, number, number];
  /** A non-polynomial activation applied to the layer's output itself (c is then 1 y). */
  readonly act?: NonPolynomialActivation['type'];
  /** Per-sample shape, batch dropped: [n] is flat, [channels, height, width] an image (NCHW). */
  readonly shape: readonly number[];
  /**
   * Flat, but in ONNX's (filter, y, x) order of a flattened convolution output; the studio's conv
   * layer gives (y, x, filter), so the next dense layer's columns are permuted to match.
   */
  readonly convOrder?: boolean;
  /**
   * A convolution's output viewed as [outHeight, outWidth, filters] (a Transpose to NHWC, as
   * tf2onnx writes around Keras convolutions): flattening it gives the studio's order as is.
   */
  readonly nhwc?: boolean;
  /** A Softmax (or LogSoftmax) was applied: nothing may follow but the graph output. */
  readonly softmax?: boolean;
  /** The layer's LayerSpec.version this was computed from (its bias may grow by a later Add). */
  readonly version?: number;
}

export interface Const {
  readonly kind: 'const';
  readonly tensor: ConstTensor;
}

export type Value = Sym | Const;

export const IDENTITY: readonly [number, number, number] = [0, 1, 0];

export const isIdentity = (s: Sym): boolean =>
  !s.act && s.c[0] === 0 && s.c[1] === 1 && s.c[2] === 0;

/** Two symbols of the same layer output, laid out alike: element-wise ops may combine them. */
const sameLayout = (a: Sym, b: Sym): boolean =>
  a.layer === b.layer &&
  a.shape.length === b.shape.length &&
  a.shape.every((d, k) => d === b.shape[k]) &&
  !a.convOrder === !b.convOrder &&
  !a.nhwc === !b.nhwc;

/** The one value of a single-element constant, or undefined for a larger tensor. */
export function scalarOf(v: Const): number | undefined {
  return v.tensor.data.length === 1 ? v.tensor.data[0] : undefined;
}

/** Refuses a polynomial step on a symbol that already went through ReLU, sigmoid or tanh. */
function polynomialOperand(s: Sym, where: string): Sym {
  if (s.act) {
    throw onnxInvalid(
      `${where} computes on the output of a ${s.act}; a layer's activation must be one ReLU, sigmoid, tanh or one polynomial, not a mix.`,
    );
  }
  return s;
}

/** a + b of two symbols of the same layer output. */
export function addSyms(a: Sym, b: Sym, where: string): Sym {
  polynomialOperand(a, where);
  polynomialOperand(b, where);
  if (!sameLayout(a, b)) {
    throw onnxInvalid(
      `${where} adds outputs of different layers (a skip connection or branch); the studio reads simple chains of layers.`,
    );
  }
  return { ...a, c: [a.c[0] + b.c[0], a.c[1] + b.c[1], a.c[2] + b.c[2]] };
}

/** a * b of two symbols of the same layer output, refusing degree above 2. */
export function mulSyms(a: Sym, b: Sym, where: string): Sym {
  polynomialOperand(a, where);
  polynomialOperand(b, where);
  if (!sameLayout(a, b)) {
    throw onnxInvalid(
      `${where} multiplies outputs of different layers; only element-wise polynomials of one layer's output are supported.`,
    );
  }
  const [a0, a1, a2] = a.c;
  const [b0, b1, b2] = b.c;
  if ((a2 !== 0 && (b1 !== 0 || b2 !== 0)) || (b2 !== 0 && a1 !== 0)) {
    throw onnxInvalid(
      `${where} makes an activation of degree above 2; the HE engine evaluates polynomials of degree at most 2.`,
    );
  }
  return { ...a, c: [a0 * b0, a0 * b1 + a1 * b0, a0 * b2 + a1 * b1 + a2 * b0] };
}

/** s * k for a number k. */
export function scaleSym(s: Sym, k: number, where: string): Sym {
  polynomialOperand(s, where);
  return { ...s, c: [s.c[0] * k, s.c[1] * k, s.c[2] * k] };
}

/** s + k for a number k. */
export function shiftSym(s: Sym, k: number, where: string): Sym {
  polynomialOperand(s, where);
  return { ...s, c: [s.c[0] + k, s.c[1], s.c[2]] };
}

/** A non-polynomial activation of a layer's output, which must be the output itself. */
export function activateSym(s: Sym, act: NonPolynomialActivation['type'], where: string): Sym {
  if (s.layer < 0) {
    throw onnxInvalid(
      `${where} applies ${act} to the raw input; the studio's activations follow a weighted layer (Gemm, MatMul or Conv).`,
    );
  }
  if (!isIdentity(s)) {
    throw onnxInvalid(
      `${where} applies ${act} after other element-wise operations; a layer's activation must be one ReLU, sigmoid, tanh or one polynomial, not a mix.`,
    );
  }
  return { ...s, act };
}

/** The layer activation a symbol stands for: linear, square, a polynomial, or ReLU/sigmoid/tanh. */
export function activationOf(s: Sym): SourceActivation {
  if (s.act) return { type: s.act };
  const [c0, c1, c2] = s.c;
  if (c0 === 0 && c1 === 1 && c2 === 0) return { type: 'linear' };
  if (c0 === 0 && c1 === 0 && c2 === 1) return { type: 'square' };
  const coefficients = c2 !== 0 ? [c0, c1, c2] : c1 !== 0 ? [c0, c1] : [c0];
  return { type: 'poly', coefficients };
}

/**
 * Element-wise arithmetic of two constants (op: +, -, * or /), for graphs that compute their
 * scalars: the same shape, or one side a single value.
 */
export function foldConstants(
  a: ConstTensor,
  b: ConstTensor,
  op: (x: number, y: number) => number,
  where: string,
): Const {
  const na = a.data.length;
  const nb = b.data.length;
  if (na !== nb && na !== 1 && nb !== 1) {
    throw onnxInvalid(
      `${where} combines constants of shapes [${a.dims.join(', ')}] and [${b.dims.join(', ')}]; only equal shapes or a single value are folded.`,
    );
  }
  const n = Math.max(na, nb);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = op(a.data[na === 1 ? 0 : i], b.data[nb === 1 ? 0 : i]);
  return { kind: 'const', tensor: { dims: na >= nb ? a.dims : b.dims, data } };
}
