import { describe, expect, it } from 'vitest';
import { evaluateActivation, LINEAR, SQUARE } from '../../src/core/model/activation';
import { HepexError } from '../../src/core/model/errors';
import {
  applyMask,
  createMask,
  createMatrix,
  nonZeroMask,
  transpose,
} from '../../src/core/model/matrix';
import {
  forward,
  parseLayerSizes,
  validateNetwork,
  type Network,
} from '../../src/core/model/network';
import {
  identityPermutation,
  invertPermutation,
  permuteRows,
  unpermuteRows,
} from '../../src/core/model/permutation';
import { createRng } from '../../src/core/model/random';

const tiny = (): Network => ({
  task: 'classification',
  layers: [
    {
      kind: 'dense',
      weights: createMatrix(2, 3, Float32Array.from([1, 0, -1, 2, 1, 0])),
      bias: Float32Array.from([0.5, -1]),
      activation: SQUARE,
    },
    {
      kind: 'dense',
      weights: createMatrix(1, 2, Float32Array.from([1, -2])),
      bias: Float32Array.from([0.25]),
      activation: LINEAR,
    },
  ],
});

describe('network', () => {
  it('computes act(W x + b) layer by layer', () => {
    // h = ((1 - 3 + 0.5)^2, (2 + 2 - 1)^2) = (2.25, 9); y = 2.25 - 18 + 0.25
    expect(Array.from(forward(tiny(), Float32Array.from([1, 2, 3]), 1))).toEqual([-15.5]);
  });

  it('evaluates polynomial activations in ascending coefficients', () => {
    expect(evaluateActivation({ type: 'poly', coefficients: [1, 2, 3] }, 2)).toBe(1 + 4 + 12);
  });

  it('names the first problem of a broken network', () => {
    const n = tiny();
    const nan = {
      ...n,
      layers: [
        { ...n.layers[0], weights: createMatrix(2, 3, Float32Array.from([1, NaN, 0, 0, 0, 0])) },
        n.layers[1],
      ],
    };
    expect(() => validateNetwork(nan)).toThrow(/Layer 1: weight 1 is NaN/);
    const chain = { ...n, layers: [n.layers[0], { ...n.layers[1], weights: createMatrix(1, 3) }] };
    expect(() => validateNetwork(chain)).toThrow(/Layer 2 takes 3 inputs but layer 1 gives 2/);
    const bias = { ...n, layers: [{ ...n.layers[0], bias: new Float32Array(5) }, n.layers[1]] };
    expect(() => validateNetwork(bias)).toThrow(/bias has 5 values for 2 outputs/);
    const poly = {
      ...n,
      layers: [
        { ...n.layers[0], activation: { type: 'poly' as const, coefficients: [0, 0, 0, 1] } },
        n.layers[1],
      ],
    };
    expect(() => validateNetwork(poly)).toThrow(HepexError);
    expect(validateNetwork(n)).toBe(n);
  });

  it('parses layer sizes and refuses nonsense', () => {
    expect(parseLayerSizes('784, 128,10')).toEqual([784, 128, 10]);
    expect(() => parseLayerSizes('784')).toThrow(/at least two/);
    expect(() => parseLayerSizes('784,,10')).toThrow(HepexError);
    expect(() => parseLayerSizes('784,abc')).toThrow(/Layer size 2 is NaN/);
    expect(() => parseLayerSizes('784,100000')).toThrow(/at most 65536/);
  });
});

describe('matrices, masks and permutations', () => {
  it('masks, transposes and finds non-zeros without touching the input', () => {
    const m = createMatrix(2, 3, Float32Array.from([1, 2, 3, 4, 5, 6]));
    const mask = createMask(2, 3);
    mask.data[1] = 0;
    const masked = applyMask(m, mask);
    expect(Array.from(masked.data)).toEqual([1, 0, 3, 4, 5, 6]);
    expect(Array.from(m.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(nonZeroMask(masked).data)).toEqual([1, 0, 1, 1, 1, 1]);
    expect(transpose(m)).toEqual({ rows: 3, cols: 2, data: Float32Array.from([1, 4, 2, 5, 3, 6]) });
    expect(() => applyMask(m, createMask(3, 2))).toThrow(/expected 2 x 3, got 3 x 2/);
    expect(() => createMatrix(2, 2, new Float32Array(3))).toThrow(/needs 4 values, got 3/);
  });

  it('round-trips permuted rows', () => {
    const rng = createRng(3);
    const order = identityPermutation(5);
    for (let i = 4; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    const x = Float32Array.from({ length: 10 }, (_, i) => i);
    const y = permuteRows(x, order, 2);
    expect(Array.from(unpermuteRows(y, order, 2))).toEqual(Array.from(x));
    expect(Array.from(invertPermutation(invertPermutation(order)))).toEqual(Array.from(order));
  });
});
