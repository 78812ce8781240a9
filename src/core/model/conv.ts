import { checkActivation, type Activation } from './activation';
import { HepexError } from './errors';
import { createMatrix, type Matrix } from './matrix';
import { MAX_LAYER_SIZE, type ConvGeometry, type ConvLayer, type DenseLayer } from './layers';

/**
 * The first convolution of a CNN in the dense, block-diagonal form the tile plan and the HE
 * runtime use (network.ts ConvLayer, docs/convolution.md). The client packs image patches
 * (im2col) before encryption, so the server only ever sees a matrix product; this module
 * builds that matrix from a kernel, reads the kernel back, packs patches and checks the tie.
 */

/** Where each output position of a convolution sits: outHeight x outWidth, positions = their product. */
export interface ConvOutputSize {
  readonly outHeight: number;
  readonly outWidth: number;
  readonly positions: number;
}

/** Patches are padded to a multiple of this many columns, so a tile (blockIn <= 8) never spans two positions. */
const PATCH_ALIGN = 8;

const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;

function invalid(message: string): HepexError {
  return new HepexError('invalid-network', message);
}

/** outHeight = floor((height - kernel) / stride) + 1, the same for width ('valid' padding). */
export function outputSize(g: ConvGeometry): ConvOutputSize {
  const outHeight = Math.floor((g.height - g.kernel) / g.stride) + 1;
  const outWidth = Math.floor((g.width - g.kernel) / g.stride) + 1;
  return { outHeight, outWidth, positions: outHeight * outWidth };
}

/**
 * Validates a convolution's sizes and derives patchWidth = roundUp(kernel^2 * channels, 8).
 * Refuses, in words, anything that is not a positive whole number, a kernel larger than the
 * image, and expanded layer sizes (positions * filters rows, positions * patchWidth columns,
 * height * width * channels raw inputs) beyond MAX_LAYER_SIZE.
 */
export function convGeometry(opts: {
  height: number;
  width: number;
  channels: number;
  kernel: number;
  stride: number;
  filters: number;
}): ConvGeometry {
  const names = ['height', 'width', 'channels', 'kernel', 'stride', 'filters'] as const;
  for (const name of names) {
    const v = opts[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_LAYER_SIZE) {
      throw invalid(
        `The convolution's ${name} is ${String(v)}; it must be a whole number from 1 to ${MAX_LAYER_SIZE}.`,
      );
    }
  }
  const { height, width, channels, kernel, stride, filters } = opts;
  if (kernel > height || kernel > width) {
    throw invalid(`A ${kernel} x ${kernel} kernel does not fit a ${height} x ${width} image.`);
  }
  const patchWidth = roundUp(kernel * kernel * channels, PATCH_ALIGN);
  const g: ConvGeometry = { height, width, channels, kernel, stride, filters, patchWidth };
  const { outHeight, outWidth, positions } = outputSize(g);
  const limits: [string, number][] = [
    [`${height} x ${width} x ${channels} inputs`, height * width * channels],
    [`${outHeight} x ${outWidth} positions x ${filters} filters outputs`, positions * filters],
    [`${positions} positions x ${patchWidth} patch values`, positions * patchWidth],
  ];
  for (const [what, n] of limits) {
    if (n > MAX_LAYER_SIZE) {
      throw invalid(
        `The convolution has ${what} = ${n}; the studio accepts at most ${MAX_LAYER_SIZE} per layer.`,
      );
    }
  }
  return g;
}

/** Re-derives a stored geometry (from a file or a worker) and refuses it if any field disagrees. */
export function checkGeometry(g: ConvGeometry): ConvGeometry {
  const fresh = convGeometry(g);
  if (fresh.patchWidth !== g.patchWidth) {
    throw invalid(
      `The convolution's patch width is ${g.patchWidth}; a ${g.kernel} x ${g.kernel} x ${g.channels} kernel needs ${fresh.patchWidth}.`,
    );
  }
  return fresh;
}

function checkFinite(values: Float32Array, what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]))
      throw invalid(`${what} ${i} is ${values[i]} (must be a finite number).`);
  }
}

/**
 * Writes a filters x blockWidth block (row-major) onto the diagonal of a positions*filters x
 * positions*patchWidth array at every output position, starting each copy at column
 * p*patchWidth; everything else stays 0. The one place that knows the tied layout.
 */
export function tileOverPositions<T extends Float32Array | Uint8Array>(
  g: ConvGeometry,
  block: T,
  blockWidth: number,
  out: T,
): T {
  const { positions } = outputSize(g);
  const cols = positions * g.patchWidth;
  for (let p = 0; p < positions; p++) {
    for (let f = 0; f < g.filters; f++) {
      out.set(
        block.subarray(f * blockWidth, (f + 1) * blockWidth),
        (p * g.filters + f) * cols + p * g.patchWidth,
      );
    }
  }
  return out;
}

/**
 * The tied dense layer of a kernel block: block is filters x patchWidth (padding columns
 * included), filterBias has filters values. Returns positions*filters x positions*patchWidth
 * weights with the block on the diagonal at every position, zeros elsewhere.
 */
export function expandTied(
  g: ConvGeometry,
  block: Matrix,
  filterBias: Float32Array,
  activation: Activation,
): ConvLayer {
  checkGeometry(g);
  if (block.rows !== g.filters || block.cols !== g.patchWidth) {
    throw invalid(
      `The kernel block is ${block.rows} x ${block.cols}; this convolution needs ${g.filters} x ${g.patchWidth}.`,
    );
  }
  if (filterBias.length !== g.filters) {
    throw invalid(
      `The convolution's bias has ${filterBias.length} values for ${g.filters} filters.`,
    );
  }
  checkFinite(block.data, 'Kernel weight');
  checkFinite(filterBias, 'Filter bias');
  checkActivation(activation);
  const { positions } = outputSize(g);
  const rows = positions * g.filters;
  const cols = positions * g.patchWidth;
  const data = tileOverPositions(g, block.data, g.patchWidth, new Float32Array(rows * cols));
  const bias = new Float32Array(rows);
  for (let r = 0; r < rows; r++) bias[r] = filterBias[r % g.filters];
  return { kind: 'conv', geometry: g, weights: createMatrix(rows, cols, data), bias, activation };
}

/**
 * A convolution layer from a kernel in tfjs's order: kernel is filters x kernel*kernel*channels
 * row-major with column j = (dy * kernel + dx) * channels + c, filterBias has filters values.
 * The kernel is zero-padded to patchWidth columns and tied over every output position.
 */
export function convLayer(
  g: ConvGeometry,
  kernel: Float32Array,
  filterBias: Float32Array,
  activation: Activation,
): ConvLayer {
  checkGeometry(g);
  const kkc = g.kernel * g.kernel * g.channels;
  if (kernel.length !== g.filters * kkc) {
    throw invalid(
      `A ${g.filters}-filter ${g.kernel} x ${g.kernel} x ${g.channels} kernel needs ${g.filters * kkc} values, got ${kernel.length}.`,
    );
  }
  const block = new Float32Array(g.filters * g.patchWidth);
  for (let f = 0; f < g.filters; f++)
    block.set(kernel.subarray(f * kkc, (f + 1) * kkc), f * g.patchWidth);
  return expandTied(g, createMatrix(g.filters, g.patchWidth, block), filterBias, activation);
}

/**
 * Position 0's kernel entries of a layer-shaped row-major array (positions*filters x
 * positions*patchWidth): filters x width, by default kernel*kernel*channels (padding dropped;
 * width patchWidth keeps it). Works on weights and on masks alike.
 */
export function kernelEntries<T extends Float32Array | Uint8Array>(
  g: ConvGeometry,
  data: T,
  cols: number,
  width = g.kernel * g.kernel * g.channels,
): T {
  const out = new (data.constructor as { new (n: number): T })(g.filters * width);
  for (let f = 0; f < g.filters; f++) out.set(data.subarray(f * cols, f * cols + width), f * width);
  return out;
}

/**
 * The inverse of convLayer: kernel filters x kernel*kernel*channels (tfjs order, padding
 * dropped) and bias (filters), read from position 0's block.
 */
export function kernelOf(layer: ConvLayer): { kernel: Float32Array; bias: Float32Array } {
  const g = layer.geometry;
  return {
    kernel: kernelEntries(g, layer.weights.data, layer.weights.cols),
    bias: layer.bias.slice(0, g.filters),
  };
}

/** The kernel as a matrix: filters x kernel*kernel*channels (what pruning scores and drops). */
export function kernelMatrix(layer: ConvLayer): Matrix {
  const g = layer.geometry;
  return createMatrix(g.filters, g.kernel * g.kernel * g.channels, kernelOf(layer).kernel);
}

/**
 * Client-side patch packing. images: batch x height*width*channels (NHWC, row-major per image);
 * returns batch x positions*patchWidth with patch p at columns p*patchWidth.., value j =
 * (dy * kernel + dx) * channels + c taken from pixel (y*stride + dy, x*stride + dx), channel c;
 * the padding columns are 0.
 */
export function im2col(g: ConvGeometry, images: Float32Array, batch: number): Float32Array {
  const { height, width, channels: C, kernel: k, stride, patchWidth } = g;
  const inWidth = height * width * C;
  if (!Number.isInteger(batch) || batch < 0 || images.length !== batch * inWidth) {
    throw new HepexError(
      'invalid-argument',
      `Expected ${batch} images of ${height} x ${width} x ${C} = ${inWidth} values, got ${images.length} values.`,
    );
  }
  const { outHeight, outWidth, positions } = outputSize(g);
  const outWidthCols = positions * patchWidth;
  const out = new Float32Array(batch * outWidthCols);
  for (let s = 0; s < batch; s++) {
    const src = s * inWidth;
    for (let y = 0; y < outHeight; y++) {
      for (let x = 0; x < outWidth; x++) {
        let dst = s * outWidthCols + (y * outWidth + x) * patchWidth;
        for (let dy = 0; dy < k; dy++) {
          // One kernel row is k * C contiguous NHWC values of image row y*stride + dy.
          const from = src + ((y * stride + dy) * width + x * stride) * C;
          out.set(images.subarray(from, from + k * C), dst);
          dst += k * C;
        }
      }
    }
  }
  return out;
}

/**
 * Checks a conv layer is what the rest of the studio assumes: a valid geometry, the expanded
 * shapes, every position's block equal to position 0's, zeros between positions and in the
 * padding columns, the bias repeated per position. Throws invalid-network naming the first
 * problem, in words.
 */
export function checkTied(
  layer: Pick<ConvLayer, 'geometry' | 'weights' | 'bias'>,
  name = 'The convolution',
): void {
  if (!layer.geometry || typeof layer.geometry !== 'object') {
    throw invalid(`${name} has no geometry (height, width, channels, kernel, stride, filters).`);
  }
  const g = checkGeometry(layer.geometry);
  const { positions } = outputSize(g);
  const rows = positions * g.filters;
  const cols = positions * g.patchWidth;
  const { data } = layer.weights;
  if (layer.weights.rows !== rows || layer.weights.cols !== cols || data.length !== rows * cols) {
    throw invalid(
      `${name} has ${layer.weights.rows} x ${layer.weights.cols} weights; ${positions} positions of ${g.filters} filters over ${g.patchWidth}-wide patches need ${rows} x ${cols}.`,
    );
  }
  if (layer.bias.length !== rows)
    throw invalid(`${name}'s bias has ${layer.bias.length} values for ${rows} outputs.`);
  const kkc = g.kernel * g.kernel * g.channels;
  for (let r = 0; r < rows; r++) {
    const p = Math.floor(r / g.filters);
    const f = r % g.filters;
    if (layer.bias[r] !== layer.bias[f]) {
      throw invalid(
        `${name}'s bias of filter ${f + 1} differs between position 1 and position ${p + 1}; a convolution shares its bias over positions.`,
      );
    }
    const ro = r * cols;
    for (let c = 0; c < cols; c++) {
      const v = data[ro + c];
      const q = Math.floor(c / g.patchWidth);
      const j = c - q * g.patchWidth;
      if (q !== p || j >= kkc) {
        if (v !== 0) {
          const where =
            q !== p
              ? `connects position ${p + 1} to position ${q + 1}'s patch`
              : `sits in patch padding column ${j + 1}`;
          throw invalid(
            `${name}: weight (${r}, ${c}) is ${v} but ${where}; only a position's own patch may be weighted.`,
          );
        }
      } else if (v !== data[f * cols + j]) {
        throw invalid(
          `${name}: kernel weight (filter ${f + 1}, ${j + 1}) differs between position 1 and position ${p + 1}; a convolution shares its kernel over positions.`,
        );
      }
    }
  }
}

/**
 * A convolution deeper in the network, as a plain dense layer over the previous layer's output
 * (which must be height x width x channels in NHWC order, as a conv's (p, f) rows are): the
 * im2col is folded into the weights, a structured (Toeplitz-like) positions*filters x
 * height*width*channels matrix with W[(p, f), pixel(p, dy, dx) * channels + c] = kernel weight
 * (f, (dy * kernel + dx) * channels + c). It is not tied in the studio's sense (the HE runtime
 * needs no client packing here), so pruning treats it as dense; it costs more tiles than the
 * first layer's block-diagonal form because neighbouring positions share input columns
 * (docs/convolution.md). kernel: filters x kernel*kernel*channels; filterBias: filters.
 */
export function convAsDense(
  g: ConvGeometry,
  kernel: Float32Array,
  filterBias: Float32Array,
  activation: Activation,
): DenseLayer {
  checkGeometry(g);
  const kkc = g.kernel * g.kernel * g.channels;
  if (kernel.length !== g.filters * kkc || filterBias.length !== g.filters) {
    throw invalid(
      `A ${g.filters}-filter ${g.kernel} x ${g.kernel} x ${g.channels} kernel needs ${g.filters * kkc} weights and ${g.filters} biases, got ${kernel.length} and ${filterBias.length}.`,
    );
  }
  checkFinite(kernel, 'Kernel weight');
  checkFinite(filterBias, 'Filter bias');
  checkActivation(activation);
  const { outHeight, outWidth, positions } = outputSize(g);
  const rows = positions * g.filters;
  const cols = g.height * g.width * g.channels;
  const data = new Float32Array(rows * cols);
  const bias = new Float32Array(rows);
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < outWidth; x++) {
      const p = y * outWidth + x;
      for (let f = 0; f < g.filters; f++) {
        const r = p * g.filters + f;
        bias[r] = filterBias[f];
        for (let dy = 0; dy < g.kernel; dy++) {
          // Kernel row dy reads k * C contiguous NHWC values of input row y*stride + dy.
          const from = f * kkc + dy * g.kernel * g.channels;
          const to = r * cols + ((y * g.stride + dy) * g.width + x * g.stride) * g.channels;
          data.set(kernel.subarray(from, from + g.kernel * g.channels), to);
        }
      }
    }
  }
  return { kind: 'dense', weights: createMatrix(rows, cols, data), bias, activation };
}
