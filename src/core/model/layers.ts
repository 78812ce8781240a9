import type { Activation, SourceActivation } from './activation';
import type { Matrix } from './matrix';

/**
 * A fully-connected layer y = act(W x + b), W of shape outputs x inputs (row-major), b of
 * length outputs. Convolutions arrive as their own `kind` (im2col kernel matrices), so code
 * switches on `kind` rather than assuming dense.
 */
export interface DenseLayer {
  readonly kind: 'dense';
  readonly weights: Matrix;
  readonly bias: Float32Array;
  readonly activation: Activation;
}

/**
 * Where a convolution runs: on a height x width x channels input (NHWC, tfjs's layout), a
 * k x k kernel moved by `stride` with 'valid' padding, `filters` output channels. Output
 * positions: outHeight = floor((height - kernel) / stride) + 1 (same for width);
 * positions = outHeight * outWidth, position p = y * outWidth + x.
 */
export interface ConvGeometry {
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly kernel: number;
  readonly stride: number;
  readonly filters: number;
  /**
   * Length of one client-packed patch: kernel * kernel * channels, padded with zero columns
   * up to a multiple of 8 so that every tile (blockIn <= 8) holds columns of one position only.
   */
  readonly patchWidth: number;
}

/**
 * A convolution in the dense form the tile plan and the HE runtime use (docs/method.md
 * section 2, docs/convolution.md): the client packs image patches (im2col, before encryption), so the
 * layer is y = act(W x + b) with W block-diagonal over positions:
 *   rows    (p, f) -> p * filters + f           (tfjs's NHWC flatten order of the conv output)
 *   columns (p, j) -> p * patchWidth + j, j = (dy * kernel + dx) * channels + c (tfjs kernel order)
 *   W[(p, f), (p, j)] = kernel weight (f, j); zero between different positions.
 * The weights are tied: every position's block is the same filters x patchWidth kernel matrix,
 * bias[(p, f)] = bias of filter f. Code that changes weights keeps the tie (prunes and permutes
 * the kernel, then expands); validateNetwork refuses an untied conv layer.
 */
export interface ConvLayer {
  readonly kind: 'conv';
  readonly geometry: ConvGeometry;
  /** positions * filters x positions * patchWidth, block-diagonal and tied (see above). */
  readonly weights: Matrix;
  /** positions * filters values, tied over positions. */
  readonly bias: Float32Array;
  readonly activation: Activation;
}

export type Layer = DenseLayer | ConvLayer;

/** What the network's output means: class scores, or a reconstructed input. */
export type Task = 'classification' | 'reconstruction';

export interface Network {
  readonly task: Task;
  readonly layers: readonly Layer[];
}

/**
 * A layer as a trained model brings it, before conversion: the same shapes, but its activation
 * may be ReLU, sigmoid or tanh, which CKKS cannot evaluate.
 */
export type SourceLayer =
  | (Omit<DenseLayer, 'activation'> & { readonly activation: SourceActivation })
  | (Omit<ConvLayer, 'activation'> & { readonly activation: SourceActivation });

/**
 * A network as imported (ONNX, a TF.js model with ReLU): runs in plaintext (forward) and can be
 * converted (hepex convert); validateNetwork turns it into a Network only when every activation
 * is a polynomial. Every Network is a SourceNetwork.
 */
export interface SourceNetwork {
  readonly task: Task;
  readonly layers: readonly SourceLayer[];
}

/** Largest layer width accepted anywhere: a guard against absurd or hostile sizes. */
export const MAX_LAYER_SIZE = 1 << 16;
