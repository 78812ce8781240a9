import type { onnx as Onnx } from 'onnx-proto';
import {
  floatAttribute,
  intAttribute,
  intsAttribute,
  onnxInvalid,
  type ConstTensor,
} from './onnxDecode';
import { biasFrom, type LayerSpec } from './onnxLayers';
import {
  addSyms,
  foldConstants,
  isIdentity,
  mulSyms,
  scalarOf,
  scaleSym,
  shiftSym,
  type Sym,
  type Value,
} from './onnxSymbols';

/**
 * The element-wise and shape-only nodes between weighted layers: Add/Sub and Mul/Div on
 * symbols and constants, and Flatten/Reshape, which only relabel a sample's shape.
 */

/**
 * a + b (or a - b). Two symbols of one layer add their polynomials; a single constant shifts;
 * a constant vector added to a layer's own output (MatMul + Add, tf2onnx's Dense) is its bias.
 */
export function addValues(
  a: Value,
  b: Value,
  subtract: boolean,
  layers: LayerSpec[],
  where: string,
): Value {
  const sign = subtract ? -1 : 1;
  if (a.kind === 'const' && b.kind === 'const')
    return foldConstants(a.tensor, b.tensor, (x, y) => x + sign * y, where);
  if (a.kind === 'sym' && b.kind === 'sym')
    return addSyms(a, subtract ? scaleSym(b, -1, where) : b, where);
  // One symbol s and one constant k: a + b is s + sign k, or k - s when the constant is first.
  const s = (a.kind === 'sym' ? a : b) as Sym;
  const k = (a.kind === 'const' ? a : b) as { kind: 'const'; tensor: ConstTensor };
  const symFirst = a.kind === 'sym';
  const base = symFirst || !subtract ? s : scaleSym(s, -1, where);
  const kSign = symFirst ? sign : 1;
  const scalar = scalarOf(k);
  if (scalar !== undefined) return shiftSym(base, kSign * scalar, where);
  return addBias(base, k.tensor, kSign, layers, where);
}

/**
 * s + sign * v for a vector v of one value per output: folded into the bias of the layer whose
 * output s is a linear function of (c0 + c1 y + v = c0 + c1 (y + v / c1)). The layer's version
 * is bumped, so any symbol of its output before the bias was added can no longer be used.
 */
function addBias(s: Sym, v: ConstTensor, sign: number, layers: LayerSpec[], where: string): Sym {
  const layer = layers[s.layer];
  const linear = !s.act && s.c[2] === 0 && s.c[1] !== 0;
  if (
    !layer ||
    s.layer !== layers.length - 1 ||
    layer.conv ||
    !linear ||
    s.shape.length !== 1 ||
    s.convOrder
  ) {
    throw onnxInvalid(
      `${where} adds a constant tensor of shape [${v.dims.join(', ')}]; the studio reads a vector added only as a dense layer's bias (MatMul then Add) or a single constant.`,
    );
  }
  const add = biasFrom(v, layer.bias.length, sign / s.c[1], `${where}'s constant`);
  for (let i = 0; i < add.length; i++) layer.bias[i] += add[i];
  layer.version += 1;
  return { ...s, version: layer.version };
}

/**
 * y -> scale * y + shift per output unit (per filter of a conv), folded into the weights and
 * bias of the layer whose raw output s is: BatchNormalization at inference, or a Mul by a
 * vector. Bumps the layer's version like addBias.
 */
export function foldAffine(
  s: Sym,
  scale: Float64Array,
  shift: Float64Array,
  layers: LayerSpec[],
  where: string,
): Sym {
  const layer = layers[s.layer];
  const units = layer?.weights.rows;
  const channels = s.shape.length === 1 || (layer?.conv && !s.nhwc) ? s.shape[0] : undefined;
  if (
    !layer ||
    s.layer !== layers.length - 1 ||
    !isIdentity(s) ||
    s.convOrder ||
    channels !== units ||
    scale.length !== units
  ) {
    throw onnxInvalid(
      `${where} scales values per unit; the studio folds that only into the weights of the layer right before it (its raw output, before any activation), with one value per unit.`,
    );
  }
  const { cols, data } = layer.weights;
  for (let r = 0; r < units; r++) {
    for (let c = 0; c < cols; c++) data[r * cols + c] *= scale[r];
    layer.bias[r] = scale[r] * layer.bias[r] + shift[r];
  }
  layer.version += 1;
  return { ...s, version: layer.version };
}

/**
 * BatchNormalization at inference: y = gamma (x - mean) / sqrt(var + epsilon) + beta per
 * channel (axis 1), i.e. scale gamma / sqrt(var + epsilon) and shift beta - scale * mean.
 */
export function batchNorm(
  s: Sym,
  [gamma, beta, mean, variance]: ConstTensor[],
  attrs: Map<string, Onnx.IAttributeProto>,
  layers: LayerSpec[],
  where: string,
): Sym {
  if (intAttribute(attrs, 'training_mode', 0, where) !== 0)
    throw onnxInvalid(`${where} is in training mode; export the model in eval mode.`);
  const epsilon = floatAttribute(attrs, 'epsilon', 1e-5);
  const n = gamma.data.length;
  if ([beta, mean, variance].some((t) => t.data.length !== n))
    throw onnxInvalid(`${where}'s scale, bias, mean and variance differ in length.`);
  const scale = new Float64Array(n);
  const shift = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = variance.data[i] + epsilon;
    if (!(v > 0)) throw onnxInvalid(`${where}: variance ${i + 1} plus epsilon is not positive.`);
    scale[i] = gamma.data[i] / Math.sqrt(v);
    shift[i] = beta.data[i] - scale[i] * mean.data[i];
  }
  return foldAffine(s, scale, shift, layers, where);
}

/** a * b (or a / b): symbols of one layer multiply; a single constant scales; constants fold. */
export function mulValues(
  a: Value,
  b: Value,
  divide: boolean,
  layers: LayerSpec[],
  where: string,
): Value {
  if (a.kind === 'const' && b.kind === 'const')
    return foldConstants(a.tensor, b.tensor, (x, y) => (divide ? x / y : x * y), where);
  if (a.kind === 'sym' && b.kind === 'sym') {
    if (divide)
      throw onnxInvalid(
        `${where} divides by a computed tensor; CKKS cannot divide (only polynomials).`,
      );
    return mulSyms(a, b, where);
  }
  if (divide && a.kind === 'const')
    throw onnxInvalid(
      `${where} divides a constant by a computed tensor; CKKS cannot divide (only polynomials).`,
    );
  const s = (a.kind === 'sym' ? a : b) as Sym;
  const k = scalarOf((a.kind === 'const' ? a : b) as { kind: 'const'; tensor: ConstTensor });
  if (k === undefined) {
    // One factor per unit of a dense layer's raw output: folded into its weights and bias.
    const v = ((a.kind === 'const' ? a : b) as { kind: 'const'; tensor: ConstTensor }).tensor;
    const scale = Float64Array.from(v.data, (x) => (divide ? 1 / x : x));
    if (s.shape.length !== 1 || scale.some((x) => !Number.isFinite(x)))
      throw onnxInvalid(
        `${where} multiplies by a constant tensor; the studio reads element-wise polynomials with single-number coefficients, or one factor per unit of a dense layer's raw output.`,
      );
    return foldAffine(s, scale, new Float64Array(scale.length), layers, where);
  }
  if (divide && k === 0) throw onnxInvalid(`${where} divides by zero.`);
  return scaleSym(s, divide ? 1 / k : k, where);
}

/**
 * Flatten (axis 1) or Reshape to a constant shape: the sample's values keep their order, only
 * the shape changes. The batch dimension stays first (0, -1 or the input's fixed batch); a
 * convolution's output may only be flattened (it then reads in ONNX's (filter, y, x) order).
 */
export function reshape(
  s: Sym,
  target: ConstTensor | undefined,
  attrs: Map<string, Onnx.IAttributeProto>,
  batch: number | undefined,
  where: string,
): Sym {
  const count = s.shape.reduce((n, d) => n * d, 1);
  let shape: number[];
  if (!target) {
    const axis = intAttribute(attrs, 'axis', 1, where);
    if (axis !== 1 && axis !== -s.shape.length)
      throw onnxInvalid(
        `${where} flattens from axis ${axis}; the studio keeps the batch axis (axis 1).`,
      );
    shape = [count];
  } else {
    if (!target.ints || target.dims.length !== 1)
      throw onnxInvalid(`${where}'s target shape is not a list of whole numbers.`);
    const [first, ...rest] = target.ints;
    if (first !== 0 && first !== -1 && first !== batch)
      throw onnxInvalid(
        `${where} reshapes across samples (batch dimension ${first}); the studio keeps one sample per row.`,
      );
    if (intAttribute(attrs, 'allowzero', 0, where) !== 0 && rest.includes(0))
      throw onnxInvalid(`${where} uses allowzero with a zero dimension.`);
    const inferred = rest.filter((d) => d === -1).length;
    if (rest.length === 0 || inferred > (first === -1 ? 0 : 1) || rest.some((d) => d < -1))
      throw onnxInvalid(
        `${where}'s target shape [${target.ints.join(', ')}] is not a per-sample shape the studio can follow.`,
      );
    // 0 copies the input's dimension at the same place (after the batch).
    const known = rest.map((d, k) => (d === 0 ? (s.shape[k] ?? 0) : d));
    const product = known.filter((d) => d !== -1).reduce((n, d) => n * d, 1);
    shape = known.map((d) => (d === -1 ? count / product : d));
    if (
      shape.some((d) => !Number.isInteger(d) || d < 1) ||
      shape.reduce((n, d) => n * d, 1) !== count
    )
      throw onnxInvalid(
        `${where} reshapes ${count} values per sample to [${target.ints.join(', ')}].`,
      );
  }
  const sameOrder = shape.length === s.shape.length && shape.every((d, k) => d === s.shape[k]);
  if (sameOrder) return s;
  const convOutput = s.layer >= 0 && s.shape.length === 3;
  if (convOutput || s.convOrder) {
    if (shape.length !== 1)
      throw onnxInvalid(
        `${where} reshapes a convolution's output to [${shape.join(', ')}]; the studio only flattens it.`,
      );
    if (s.nhwc) return { ...s, shape, nhwc: false };
    return { ...s, shape, convOrder: true };
  }
  if (shape.length > 1 && s.layer !== -1)
    throw onnxInvalid(
      `${where} reshapes a layer's output to [${shape.join(', ')}]; only the input may be viewed as an image, for a first Conv.`,
    );
  return { ...s, shape };
}

/**
 * Transpose of a sample's axes (the batch axis stays first). Accepted when it moves no data
 * (only axes of size 1 change places, like NHWC -> NCHW of a one-channel image), and between a
 * convolution's output as NCHW [filters, y, x] and NHWC [y, x, filters], the studio's order.
 */
export function transpose(s: Sym, attrs: Map<string, Onnx.IAttributeProto>, where: string): Sym {
  const rank = s.shape.length + 1;
  const perm = intsAttribute(attrs, 'perm', where) ?? [...Array(rank).keys()].reverse();
  const valid =
    perm.length === rank &&
    perm[0] === 0 &&
    [...perm].sort((x, y) => x - y).every((p, k) => p === k);
  if (!valid)
    throw onnxInvalid(
      `${where} permutes axes [${perm.join(', ')}]; the studio reads transposes that keep the batch axis first.`,
    );
  const axes = perm.slice(1).map((p) => p - 1);
  const shape = axes.map((a) => s.shape[a]);
  // Axes of size > 1 in the same relative order: the values keep their order.
  const moved = axes.filter((a) => s.shape[a] > 1);
  if (moved.every((a, k) => k === 0 || a > moved[k - 1])) return { ...s, shape };
  const conv = s.layer >= 0 && s.shape.length === 3 && !s.convOrder;
  if (conv && !s.nhwc && axes.join() === '1,2,0') return { ...s, shape, nhwc: true };
  if (conv && s.nhwc && axes.join() === '2,0,1') return { ...s, shape, nhwc: false };
  throw onnxInvalid(
    `${where} reorders the values of a tensor of shape [${s.shape.join(', ')}]; the studio reads transposes only between a convolution's NCHW and NHWC outputs.`,
  );
}
