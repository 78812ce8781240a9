import { HepexError } from './errors';

/**
 * A permutation as an order: order[k] is the original index placed at position k.
 * Permuting a vector: y[k] = x[order[k]].
 */
export type Permutation = Uint32Array;

/**
 * Hidden-layer permutations are folded into the weights (the network computes the same
 * function). The input and output permutations are not: the client applies `input` to each
 * sample before encryption and undoes `output` after decryption (docs/method.md section 3).
 */
export interface NetworkPermutation {
  readonly input: Permutation;
  readonly output: Permutation;
}

export function identityPermutation(n: number): Permutation {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  return p;
}

export function isPermutation(order: ArrayLike<number>, n: number): boolean {
  if (order.length !== n) return false;
  const seen = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const v = order[k];
    if (!Number.isInteger(v) || v < 0 || v >= n || seen[v]) return false;
    seen[v] = 1;
  }
  return true;
}

export function checkPermutation(order: ArrayLike<number>, n: number, what: string): Permutation {
  if (!isPermutation(order, n)) {
    throw new HepexError('invalid-argument', `${what} is not a permutation of 0..${n - 1}.`);
  }
  return Uint32Array.from(order);
}

export function invertPermutation(order: Permutation): Permutation {
  const inv = new Uint32Array(order.length);
  for (let k = 0; k < order.length; k++) inv[order[k]] = k;
  return inv;
}

function checkRows(x: Float32Array, order: Permutation, batch: number): void {
  if (x.length !== batch * order.length) {
    throw new HepexError(
      'invalid-argument',
      `A permutation of ${order.length} values needs ${batch} x ${order.length} values, got ${x.length}.`,
    );
  }
}

/** y[k] = x[order[k]] for each of `batch` rows of width order.length (row-major). */
export function permuteRows(x: Float32Array, order: Permutation, batch: number): Float32Array {
  checkRows(x, order, batch);
  const n = order.length;
  const y = new Float32Array(x.length);
  for (let s = 0; s < batch; s++) for (let k = 0; k < n; k++) y[s * n + k] = x[s * n + order[k]];
  return y;
}

/** Undoes permuteRows: x[order[k]] = y[k]. */
export function unpermuteRows(y: Float32Array, order: Permutation, batch: number): Float32Array {
  checkRows(y, order, batch);
  const n = order.length;
  const x = new Float32Array(y.length);
  for (let s = 0; s < batch; s++) for (let k = 0; k < n; k++) x[s * n + order[k]] = y[s * n + k];
  return x;
}
