import { activationCoefficients, type Activation } from '../../core/model/activation';
import { outputSize } from '../../core/model/conv';
import { HepexError } from '../../core/model/errors';
import type { ConvGeometry, ConvLayer, DenseLayer } from '../../core/model/layers';
import type { OnnxGraph } from './onnxExportGraph';

/**
 * The pieces onnxExport chains: dense layers as Gemm, activations as Mul / Add, reorderings as
 * MatMul with a constant 0/1 matrix (Transpose and Gather are outside HElayers' subset), and the
 * first convolution in two shapes: a Conv on the raw image (function form) or a patch-wise
 * MatMul on the client's im2col patches (server form). Every tensor is [N, width] between
 * layers, batch first.
 */

/**
 * Widest reordering a MatMul may carry: its matrix holds width^2 float32 values (4096: 64 MiB).
 * A 32 x 32 x 3 image (3,072 values) fits.
 */
export const MAX_REORDER_WIDTH = 4096;

/**
 * x -> x @ M with M the width x width 0/1 matrix moving value srcOf(d) to position d:
 * y[d] = x[srcOf(d)]. Skipped (returns x) when srcOf is the identity.
 */
export function reorder(
  g: OnnxGraph,
  x: string,
  width: number,
  srcOf: (dst: number) => number,
  stem: string,
): string {
  let identity = true;
  for (let d = 0; d < width && identity; d++) identity = srcOf(d) === d;
  if (identity) return x;
  if (width > MAX_REORDER_WIDTH) {
    throw new HepexError(
      'invalid-argument',
      `Reordering ${width} values in ONNX needs a ${width} x ${width} constant matrix; the export allows at most ${MAX_REORDER_WIDTH} values. Export the server form (weights in packing order, the permutations as JSON) instead.`,
    );
  }
  const m = new Float32Array(width * width);
  for (let d = 0; d < width; d++) m[srcOf(d) * width + d] = 1;
  return g.node('MatMul', [x, g.float(`${stem}_matrix`, [width, width], m)], stem);
}

/** act(x) from Mul / Add with scalar constants: square as Mul(x, x), c0 + c1 x + c2 x^2 by Horner. */
export function activationNodes(g: OnnxGraph, x: string, act: Activation, stem: string): string {
  if (act.type === 'linear') return x;
  if (act.type === 'square') return g.node('Mul', [x, x], `${stem}_square`);
  const c = [...activationCoefficients(act)];
  while (c.length > 1 && c[c.length - 1] === 0) c.pop();
  const d = c.length - 1;
  if (d === 0) {
    // A constant activation: 0 * x + c0 keeps the [N, width] shape.
    const zero = g.node('Mul', [x, g.scalar(`${stem}_zero`, 0)], `${stem}_zero_x`);
    return g.node('Add', [zero, g.scalar(`${stem}_c0`, c[0])], `${stem}_poly`);
  }
  let y = c[d] === 1 ? x : g.node('Mul', [x, g.scalar(`${stem}_c${d}`, c[d])], `${stem}_scale`);
  for (let k = d - 1; k >= 0; k--) {
    if (c[k] !== 0) y = g.node('Add', [y, g.scalar(`${stem}_c${k}`, c[k])], `${stem}_add${k}`);
    if (k > 0) y = g.node('Mul', [y, x], `${stem}_mul${k}`);
  }
  return y;
}

/**
 * A dense layer as Gemm(x, W, b) with transA = 0 and transB = 1 (W stays outputs x inputs, as
 * stored), then its activation. `columnOf(j)`, when given, is the input column of W feeding
 * graph input value j: how a Flatten's (filter, y, x) order is matched without a reorder node.
 */
export function denseNodes(
  g: OnnxGraph,
  x: string,
  layer: Pick<DenseLayer, 'weights' | 'bias' | 'activation'>,
  stem: string,
  columnOf?: (j: number) => number,
): string {
  const { rows, cols, data } = layer.weights;
  let w = data;
  if (columnOf) {
    w = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++)
      for (let j = 0; j < cols; j++) w[r * cols + j] = data[r * cols + columnOf(j)];
  }
  const y = g.node(
    'Gemm',
    [x, g.float(`${stem}_weight`, [rows, cols], w), g.float(`${stem}_bias`, [rows], layer.bias)],
    `${stem}_gemm`,
    { transA: 0, transB: 1 },
  );
  return activationNodes(g, y, layer.activation, stem);
}

/** Position 0's kernel block, filters x patchWidth (packing order, padding columns included). */
function kernelBlock(layer: ConvLayer): Float32Array {
  const { filters, patchWidth } = layer.geometry;
  const { cols, data } = layer.weights;
  const block = new Float32Array(filters * patchWidth);
  for (let f = 0; f < filters; f++)
    block.set(data.subarray(f * cols, f * cols + patchWidth), f * patchWidth);
  return block;
}

/**
 * Function form: the convolution on raw NHWC images [N, height*width*channels]. The input
 * reaches NCHW by a reorder (only when channels > 1: NHWC and NCHW agree for one channel), then
 * Reshape [N, C, H, W] -> Conv (weights [F, C, k, k], 'valid', stride) -> activation ->
 * Flatten, whose value f * positions + p is the studio's row p * filters + f.
 * `patchOrder` (kernel*kernel*channels entries) is the client's tied patch permutation: packed
 * patch column k holds raw column patchOrder[k], so it is undone in the kernel itself (an im2col
 * permutation duplicates pixels shared by patches, so no permutation of the raw image expresses
 * it). Returns the Flatten output and the map from its index to the studio's (p, f) row.
 */
export function convFunctionNodes(
  g: OnnxGraph,
  x: string,
  layer: ConvLayer,
  patchOrder: ArrayLike<number>,
  stem: string,
): { output: string; rowOf: (flat: number) => number } {
  const geo = layer.geometry;
  const { height: H, width: W, channels: C, kernel: k, stride, filters: F, patchWidth } = geo;
  const kkc = k * k * C;
  const block = kernelBlock(layer);
  // weight[f, c, dy, dx] = raw kernel (f, (dy*k + dx)*C + c) = packed (f, patchOrder^-1(...)).
  const raw = new Float32Array(F * kkc);
  for (let f = 0; f < F; f++)
    for (let j = 0; j < kkc; j++) raw[f * kkc + patchOrder[j]] = block[f * patchWidth + j];
  const weight = new Float32Array(F * kkc);
  for (let f = 0; f < F; f++)
    for (let c = 0; c < C; c++)
      for (let dy = 0; dy < k; dy++)
        for (let dx = 0; dx < k; dx++)
          weight[((f * C + c) * k + dy) * k + dx] = raw[f * kkc + (dy * k + dx) * C + c];
  const pixels = H * W;
  const nchw = reorder(
    g,
    x,
    pixels * C,
    (d) => (d % pixels) * C + Math.floor(d / pixels),
    `${stem}_nhwc_to_nchw`,
  );
  const image = g.node(
    'Reshape',
    [nchw, g.int64(`${stem}_image_shape`, [-1, C, H, W])],
    `${stem}_image`,
  );
  const conv = g.node(
    'Conv',
    [
      image,
      g.float(`${stem}_kernel`, [F, C, k, k], weight),
      g.float(`${stem}_bias`, [F], layer.bias.slice(0, F)),
    ],
    `${stem}_conv`,
    {
      kernel_shape: [k, k],
      strides: [stride, stride],
      pads: [0, 0, 0, 0],
      dilations: [1, 1],
      group: 1,
    },
  );
  const act = activationNodes(g, conv, layer.activation, stem);
  const output = g.node('Flatten', [act], `${stem}_flatten`, { axis: 1 });
  const { positions } = outputSize(geo);
  return { output, rowOf: (flat) => (flat % positions) * F + Math.floor(flat / positions) };
}

/**
 * Server form: the convolution on the client's im2col patches [N, positions*patchWidth] in
 * packing order, exactly the block-diagonal, tied matrix the HE server multiplies by, written as
 * Reshape [N, positions, patchWidth] -> MatMul by the kernel block transposed (patchWidth x
 * filters) -> Add bias -> Reshape [N, positions*filters] (the studio's (p, f) rows) ->
 * activation. One kernel instead of a positions-times larger Gemm matrix.
 */
export function convServerNodes(g: OnnxGraph, x: string, layer: ConvLayer, stem: string): string {
  const geo: ConvGeometry = layer.geometry;
  const { filters: F, patchWidth } = geo;
  const { positions } = outputSize(geo);
  const block = kernelBlock(layer);
  const kt = new Float32Array(patchWidth * F);
  for (let f = 0; f < F; f++)
    for (let j = 0; j < patchWidth; j++) kt[j * F + f] = block[f * patchWidth + j];
  const patches = g.node(
    'Reshape',
    [x, g.int64(`${stem}_patch_shape`, [-1, positions, patchWidth])],
    `${stem}_patches`,
  );
  const mul = g.node(
    'MatMul',
    [patches, g.float(`${stem}_kernel`, [patchWidth, F], kt)],
    `${stem}_matmul`,
  );
  const biased = g.node(
    'Add',
    [mul, g.float(`${stem}_bias`, [F], layer.bias.slice(0, F))],
    `${stem}_add`,
  );
  const rows = g.node(
    'Reshape',
    [biased, g.int64(`${stem}_row_shape`, [-1, positions * F])],
    `${stem}_rows`,
  );
  return activationNodes(g, rows, layer.activation, stem);
}
