import type { onnx as Onnx } from 'onnx-proto';
import type { SourceActivation } from '../../core/model/activation';
import { convGeometry, outputSize } from '../../core/model/conv';
import { isHepexError } from '../../core/model/errors';
import type { ConvGeometry } from '../../core/model/layers';
import { createMatrix, type Matrix } from '../../core/model/matrix';
import {
  floatAttribute,
  intAttribute,
  intsAttribute,
  onnxInvalid,
  stringAttribute,
  type ConstTensor,
} from './onnxDecode';
import type { Sym, Value } from './onnxSymbols';

/**
 * The weighted layers an ONNX graph is read into, in the studio's layout: dense weights
 * outputs x inputs (row-major), a convolution as its kernel filters x kernel*kernel*channels in
 * tfjs's column order (dy * kernel + dx) * channels + c. ONNX's Gemm, MatMul and Conv store their
 * weights otherwise (Gemm's B maybe transposed, MatMul's B inputs x outputs, Conv's kernel
 * [filters, channels, kernel, kernel]); this module converts.
 */
export interface LayerSpec {
  /** The ONNX node that made the layer, for messages. */
  readonly node: string;
  /** Dense: outputs x inputs. Conv: the kernel, filters x kernel*kernel*channels. */
  readonly weights: Matrix;
  /** Dense: outputs values; conv: one per filter. Folded Add nodes add to it. */
  readonly bias: Float32Array;
  readonly conv?: ConvGeometry;
  /** A conv's output as ONNX shapes it: [filters, outHeight, outWidth]. */
  readonly outputShape?: readonly number[];
  /** Bumped when an Add folds into the bias: symbols of the older output are then stale. */
  version: number;
  readonly activation?: SourceActivation;
}

/** The flat width a dense layer reads from `a`, refusing image-shaped tensors. */
function flatWidth(a: Sym, where: string): number {
  if (a.shape.length !== 1) {
    throw onnxInvalid(
      `${where} reads a tensor of shape [${a.shape.join(', ')}] per sample; flatten it first (Flatten).`,
    );
  }
  return a.shape[0];
}

/**
 * Reorders a dense layer's columns from ONNX's flattened conv output (filter, position) to the
 * studio conv layer's rows (position, filter): column p * filters + f takes ONNX's column
 * f * positions + p, so the layer computes what it did on what the studio's conv gives.
 */
function fromConvOrder(w: Matrix, g: ConvGeometry): Matrix {
  const { positions } = outputSize(g);
  const F = g.filters;
  const data = new Float32Array(w.data.length);
  for (let r = 0; r < w.rows; r++) {
    const o = r * w.cols;
    for (let p = 0; p < positions; p++)
      for (let f = 0; f < F; f++) data[o + p * F + f] = w.data[o + f * positions + p];
  }
  return createMatrix(w.rows, w.cols, data);
}

function readsConv(a: Sym, w: Matrix, layers: readonly LayerSpec[]): Matrix {
  if (!a.convOrder) return w;
  const g = layers[a.layer].conv!;
  return fromConvOrder(w, g);
}

/** The bias a layer of `n` outputs gets from a constant: n values (any shape), or one for all. */
export function biasFrom(c: ConstTensor, n: number, scale: number, what: string): Float32Array {
  if (c.data.length !== n && c.data.length !== 1) {
    throw onnxInvalid(
      `${what} has shape [${c.dims.join(', ')}] for ${n} outputs; expected ${n} values.`,
    );
  }
  const bias = new Float32Array(n);
  for (let i = 0; i < n; i++) bias[i] = scale * c.data[c.data.length === 1 ? 0 : i];
  return bias;
}

/** Gemm: Y = alpha * A * B' + beta * C, with A the data (transA = 0) and B' = B or B^T. */
export function denseSpec(
  a: Sym,
  b: ConstTensor,
  c: Value | undefined,
  attrs: Map<string, Onnx.IAttributeProto>,
  layers: readonly LayerSpec[],
  where: string,
): LayerSpec {
  if (intAttribute(attrs, 'transA', 0, where) !== 0)
    throw onnxInvalid(
      `${where} transposes its data input (transA = 1); the studio reads transA = 0.`,
    );
  const transB = intAttribute(attrs, 'transB', 0, where);
  const alpha = floatAttribute(attrs, 'alpha', 1);
  const beta = floatAttribute(attrs, 'beta', 1);
  if (b.dims.length !== 2) throw onnxInvalid(`${where}'s weight is not a matrix.`);
  const [outs, ins] = transB ? b.dims : [b.dims[1], b.dims[0]];
  const width = flatWidth(a, where);
  if (ins !== width)
    throw onnxInvalid(`${where}'s weight takes ${ins} inputs but its input has ${width} values.`);
  if (outs < 1) throw onnxInvalid(`${where} has no outputs.`);
  const data = new Float32Array(outs * ins);
  for (let o = 0; o < outs; o++)
    for (let i = 0; i < ins; i++)
      data[o * ins + i] = alpha * b.data[transB ? o * ins + i : i * outs + o];
  if (c && c.kind !== 'const')
    throw onnxInvalid(`${where}'s bias must be a constant (an initializer), not computed.`);
  const bias = c ? biasFrom(c.tensor, outs, beta, `${where}'s bias`) : new Float32Array(outs);
  const weights = readsConv(a, createMatrix(outs, ins, data), layers);
  return { node: where, weights, bias, version: 0 };
}

/** MatMul: Y = A * B with B inputs x outputs (Keras / tf2onnx Dense); the bias comes as an Add. */
export function matmulSpec(
  a: Sym,
  b: ConstTensor,
  layers: readonly LayerSpec[],
  where: string,
): LayerSpec {
  if (b.dims.length !== 2) {
    throw onnxInvalid(
      `${where} multiplies by a tensor of shape [${b.dims.join(', ')}]; the studio reads a weight matrix (inputs x outputs).`,
    );
  }
  const [ins, outs] = b.dims;
  const width = flatWidth(a, where);
  if (ins !== width)
    throw onnxInvalid(`${where}'s weight takes ${ins} inputs but its input has ${width} values.`);
  if (outs < 1) throw onnxInvalid(`${where} has no outputs.`);
  const data = new Float32Array(outs * ins);
  for (let o = 0; o < outs; o++)
    for (let i = 0; i < ins; i++) data[o * ins + i] = b.data[i * outs + o];
  const weights = readsConv(a, createMatrix(outs, ins, data), layers);
  return { node: where, weights, bias: new Float32Array(outs), version: 0 };
}

/**
 * Conv on the raw input image [channels, height, width]: square kernel, equal strides, no
 * padding, dilation or groups. One channel only: the studio packs images as height x width x
 * channels (tfjs's NHWC) and ONNX feeds channels x height x width, which agree only for one.
 */
export function convSpec(
  a: Sym,
  w: ConstTensor,
  b: Value | undefined,
  attrs: Map<string, Onnx.IAttributeProto>,
  where: string,
): LayerSpec {
  if (a.shape.length !== 3) {
    throw onnxInvalid(
      `${where} reads a tensor of shape [${a.shape.join(', ')}] per sample; a Conv reads an image [channels, height, width].`,
    );
  }
  const [channels, height, width] = a.shape;
  if (w.dims.length !== 4)
    throw onnxInvalid(`${where}'s kernel has ${w.dims.length} dimensions; a 2-D Conv has 4.`);
  const [filters, kc, kh, kw] = w.dims;
  if (kh !== kw)
    throw onnxInvalid(`${where} has a ${kh} x ${kw} kernel; the studio reads square kernels.`);
  if (kc !== channels)
    throw onnxInvalid(`${where}'s kernel reads ${kc} channels but the image has ${channels}.`);
  if (channels !== 1) {
    throw onnxInvalid(
      `${where} convolves a ${channels}-channel image; the studio imports one-channel convolutions only (it packs images as height x width x channels, ONNX as channels x height x width).`,
    );
  }
  const group = intAttribute(attrs, 'group', 1, where);
  const strides = intsAttribute(attrs, 'strides', where) ?? [1, 1];
  const pads = intsAttribute(attrs, 'pads', where) ?? [0, 0, 0, 0];
  const dilations = intsAttribute(attrs, 'dilations', where) ?? [1, 1];
  const kernelShape = intsAttribute(attrs, 'kernel_shape', where) ?? [kh, kw];
  const autoPad = stringAttribute(attrs, 'auto_pad') ?? 'NOTSET';
  if (group !== 1) throw onnxInvalid(`${where} is a grouped convolution (group ${group}).`);
  if (strides.length !== 2 || strides[0] !== strides[1])
    throw onnxInvalid(
      `${where} has strides [${strides.join(', ')}]; the studio reads equal strides.`,
    );
  if (pads.some((p) => p !== 0) || (autoPad !== 'NOTSET' && autoPad !== 'VALID'))
    throw onnxInvalid(`${where} pads its input; the studio reads unpadded ('valid') convolutions.`);
  if (dilations.some((d) => d !== 1))
    throw onnxInvalid(`${where} is dilated; the studio reads dilation 1.`);
  if (kernelShape.length !== 2 || kernelShape[0] !== kh || kernelShape[1] !== kw)
    throw onnxInvalid(`${where}'s kernel_shape disagrees with its kernel.`);
  let g: ConvGeometry;
  try {
    g = convGeometry({ height, width, channels, kernel: kh, stride: strides[0], filters });
  } catch (error) {
    if (isHepexError(error)) throw onnxInvalid(`${where}: ${error.message}`);
    throw error;
  }
  // ONNX kernel [f, c, dy, dx] -> the studio's column (dy * kernel + dx) * channels + c.
  const k = g.kernel;
  const kkc = k * k * channels;
  const kernel = new Float32Array(filters * kkc);
  for (let f = 0; f < filters; f++)
    for (let c = 0; c < channels; c++)
      for (let dy = 0; dy < k; dy++)
        for (let dx = 0; dx < k; dx++)
          kernel[f * kkc + (dy * k + dx) * channels + c] =
            w.data[((f * channels + c) * k + dy) * k + dx];
  if (b && b.kind !== 'const')
    throw onnxInvalid(`${where}'s bias must be a constant (an initializer), not computed.`);
  const bias = b ? biasFrom(b.tensor, filters, 1, `${where}'s bias`) : new Float32Array(filters);
  const { outHeight, outWidth } = outputSize(g);
  return {
    node: where,
    weights: createMatrix(filters, kkc, kernel),
    bias,
    conv: g,
    outputShape: [filters, outHeight, outWidth],
    version: 0,
  };
}
