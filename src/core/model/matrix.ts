import { HepexError } from './errors';

/** A dense row-major matrix: element (r, c) is data[r * cols + c]. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;
}

/** A keep-mask with a matrix's shape: 1 keeps the weight, 0 prunes it (it must stay exactly 0). */
export interface Mask {
  readonly rows: number;
  readonly cols: number;
  readonly data: Uint8Array;
}

function checkShape(rows: number, cols: number): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows <= 0 || cols <= 0) {
    throw new HepexError(
      'invalid-argument',
      `A matrix needs positive whole dimensions, got ${rows} x ${cols}.`,
    );
  }
}

export function createMatrix(rows: number, cols: number, data?: Float32Array): Matrix {
  checkShape(rows, cols);
  if (data && data.length !== rows * cols) {
    throw new HepexError(
      'invalid-argument',
      `A ${rows} x ${cols} matrix needs ${rows * cols} values, got ${data.length}.`,
    );
  }
  return { rows, cols, data: data ?? new Float32Array(rows * cols) };
}

export function createMask(rows: number, cols: number, fill: 0 | 1 = 1): Mask {
  checkShape(rows, cols);
  return { rows, cols, data: new Uint8Array(rows * cols).fill(fill) };
}

/** The mask of a matrix's non-zero entries. */
export function nonZeroMask(matrix: Matrix): Mask {
  const data = new Uint8Array(matrix.data.length);
  for (let i = 0; i < data.length; i++) data[i] = matrix.data[i] !== 0 ? 1 : 0;
  return { rows: matrix.rows, cols: matrix.cols, data };
}

export function assertSameShape(
  a: { rows: number; cols: number },
  b: { rows: number; cols: number },
  what: string,
): void {
  if (a.rows !== b.rows || a.cols !== b.cols) {
    throw new HepexError(
      'invalid-mask',
      `${what}: expected ${a.rows} x ${a.cols}, got ${b.rows} x ${b.cols}.`,
    );
  }
}

/** A new matrix with pruned entries set to exactly zero. */
export function applyMask(matrix: Matrix, mask: Mask): Matrix {
  assertSameShape(matrix, mask, 'Mask shape does not match the weights');
  const data = new Float32Array(matrix.data.length);
  for (let i = 0; i < data.length; i++) data[i] = mask.data[i] ? matrix.data[i] : 0;
  return { rows: matrix.rows, cols: matrix.cols, data };
}

export function transpose(matrix: Matrix): Matrix {
  const { rows, cols, data } = matrix;
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return { rows: cols, cols: rows, data: out };
}

export function countOnes(mask: Mask): number {
  let n = 0;
  for (let i = 0; i < mask.data.length; i++) n += mask.data[i];
  return n;
}

/** tfjs stores a Dense kernel as inputs x outputs; the core's W is outputs x inputs. */
/** Kernel (inputs x outputs, row-major) -> W (outputs x inputs, row-major). */
export function kernelToWeights(
  kernel: Float32Array,
  inputs: number,
  outputs: number,
): Float32Array {
  const w = new Float32Array(inputs * outputs);
  for (let i = 0; i < inputs; i++) {
    const ko = i * outputs;
    for (let o = 0; o < outputs; o++) w[o * inputs + i] = kernel[ko + o];
  }
  return w;
}

/** W (outputs x inputs) -> kernel (inputs x outputs), both row-major. */
export function weightsToKernel(w: Float32Array, inputs: number, outputs: number): Float32Array {
  const kernel = new Float32Array(inputs * outputs);
  for (let o = 0; o < outputs; o++) {
    const wo = o * inputs;
    for (let i = 0; i < inputs; i++) kernel[i * outputs + o] = w[wo + i];
  }
  return kernel;
}
