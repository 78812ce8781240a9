import { describe, expect, it } from 'vitest';
import { SQUARE } from '../../src/core/model/activation';
import {
  checkTied,
  convAsDense,
  convGeometry,
  convLayer,
  im2col,
  kernelOf,
  outputSize,
} from '../../src/core/model/conv';
import { HepexError } from '../../src/core/model/errors';
import { createMatrix } from '../../src/core/model/matrix';
import {
  forward,
  inputWidth,
  layerSizes,
  validateNetwork,
  type Network,
} from '../../src/core/model/network';
import { createRng } from '../../src/core/model/random';

const randomArray = (n: number, seed: number): Float32Array => {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
};

/** Direct NHWC convolution, 'valid' padding, output NHWC flattened (p * filters + f): the reference. */
function directConv(
  h: number,
  w: number,
  c: number,
  k: number,
  s: number,
  f: number,
  img: Float32Array,
  kernel: Float32Array,
  bias: Float32Array,
): Float64Array {
  const oh = Math.floor((h - k) / s) + 1;
  const ow = Math.floor((w - k) / s) + 1;
  const out = new Float64Array(oh * ow * f);
  for (let y = 0; y < oh; y++)
    for (let x = 0; x < ow; x++)
      for (let o = 0; o < f; o++) {
        let acc = bias[o];
        for (let dy = 0; dy < k; dy++)
          for (let dx = 0; dx < k; dx++)
            for (let ch = 0; ch < c; ch++)
              acc +=
                kernel[o * k * k * c + (dy * k + dx) * c + ch] *
                img[((y * s + dy) * w + x * s + dx) * c + ch];
        out[(y * ow + x) * f + o] = acc;
      }
  return out;
}

describe('conv geometry and packing', () => {
  it('derives the output size and pads patches to a multiple of 8', () => {
    const g = convGeometry({
      height: 28,
      width: 28,
      channels: 1,
      kernel: 5,
      stride: 2,
      filters: 5,
    });
    expect(g.patchWidth).toBe(32);
    expect(outputSize(g)).toEqual({ outHeight: 12, outWidth: 12, positions: 144 });
    expect(
      convGeometry({ height: 12, width: 10, channels: 2, kernel: 3, stride: 2, filters: 4 })
        .patchWidth,
    ).toBe(24);
  });

  it('expands a kernel so that the matrix product over im2col is the convolution', () => {
    const [h, w, c, k, s, f] = [7, 6, 2, 3, 2, 3];
    const g = convGeometry({ height: h, width: w, channels: c, kernel: k, stride: s, filters: f });
    const kernel = randomArray(f * k * k * c, 1);
    const bias = randomArray(f, 2);
    const layer = convLayer(g, kernel, bias, SQUARE);
    expect(() => checkTied(layer)).not.toThrow();
    const back = kernelOf(layer);
    expect(back.kernel).toEqual(kernel);
    expect(back.bias).toEqual(bias);
    const batch = 2;
    const images = randomArray(batch * h * w * c, 3);
    const patches = im2col(g, images, batch);
    const { rows, cols, data } = layer.weights;
    expect(patches.length).toBe(batch * cols);
    for (let b = 0; b < batch; b++) {
      const want = directConv(
        h,
        w,
        c,
        k,
        s,
        f,
        images.subarray(b * h * w * c, (b + 1) * h * w * c),
        kernel,
        bias,
      );
      for (let r = 0; r < rows; r++) {
        let acc = layer.bias[r];
        for (let j = 0; j < cols; j++) acc += data[r * cols + j] * patches[b * cols + j];
        expect(acc).toBeCloseTo(want[r], 5);
      }
    }
  });

  it('refuses geometry that does not fit, and untied weights', () => {
    expect(() =>
      convGeometry({ height: 4, width: 4, channels: 1, kernel: 5, stride: 1, filters: 2 }),
    ).toThrow(/does not fit a 4 x 4 image/);
    expect(() =>
      convGeometry({ height: 4, width: 4, channels: 1, kernel: 2.5, stride: 1, filters: 2 }),
    ).toThrow(HepexError);
    expect(() =>
      convGeometry({ height: 512, width: 512, channels: 3, kernel: 3, stride: 1, filters: 8 }),
    ).toThrow(/at most 65536/);
    const g = convGeometry({ height: 5, width: 5, channels: 1, kernel: 3, stride: 2, filters: 2 });
    const layer = convLayer(g, randomArray(18, 4), randomArray(2, 5), SQUARE);
    const cross = { ...layer, weights: { ...layer.weights, data: layer.weights.data.slice() } };
    cross.weights.data[20] = 1; // row 0 (position 0), column 20 (position 1's patch)
    expect(() => checkTied(cross)).toThrow(/connects position 1 to position 2/);
    const untied = { ...layer, weights: { ...layer.weights, data: layer.weights.data.slice() } };
    untied.weights.data[2 * layer.weights.cols + 16] += 1; // row (p1, f0), column (p1, j0)
    expect(() => checkTied(untied)).toThrow(/differs between position 1 and position 2/);
    expect(() =>
      convLayer(
        g,
        Float32Array.from({ length: 18 }, (_, i) => (i === 3 ? NaN : 0)),
        new Float32Array(2),
        SQUARE,
      ),
    ).toThrow(/Kernel weight 3 is NaN/);
  });

  it('runs a conv-first network on raw images and refuses a conv anywhere else', () => {
    const g = convGeometry({ height: 6, width: 6, channels: 1, kernel: 3, stride: 1, filters: 2 });
    const conv = convLayer(g, randomArray(18, 6), randomArray(2, 7), SQUARE);
    const dense = {
      kind: 'dense' as const,
      weights: createMatrix(3, 32, randomArray(96, 8)),
      bias: randomArray(3, 9),
      activation: { type: 'linear' as const },
    };
    const net: Network = { task: 'classification', layers: [conv, dense] };
    expect(validateNetwork(net)).toBe(net);
    expect(inputWidth(net)).toBe(36);
    expect(layerSizes(net)).toEqual([16 * 16, 32, 3]);
    const images = randomArray(2 * 36, 10);
    const out = forward(net, images, 2);
    // Reference: the dense product over the whole expanded matrix on im2col patches.
    const patches = im2col(g, images, 2);
    for (let b = 0; b < 2; b++) {
      const h = new Float64Array(32);
      for (let r = 0; r < 32; r++) {
        let acc = conv.bias[r];
        for (let c = 0; c < 256; c++) acc += conv.weights.data[r * 256 + c] * patches[b * 256 + c];
        h[r] = acc * acc;
      }
      for (let o = 0; o < 3; o++) {
        let acc = dense.bias[o];
        for (let c = 0; c < 32; c++) acc += dense.weights.data[o * 32 + c] * h[c];
        expect(out[b * 3 + o]).toBeCloseTo(acc, 4);
      }
    }
    expect(() => forward(net, new Float32Array(256), 1)).toThrow(/Expected 1 x 36 inputs/);
    const second = convLayer(
      convGeometry({ height: 4, width: 8, channels: 1, kernel: 1, stride: 1, filters: 1 }),
      Float32Array.of(1),
      Float32Array.of(0),
      SQUARE,
    );
    const late: Network = {
      task: 'classification',
      layers: [{ ...dense, weights: createMatrix(32, 128), bias: new Float32Array(32) }, second],
    };
    expect(() => validateNetwork(late)).toThrow(
      /Layer 2 is a convolution, but only the first layer may be one/,
    );
    const noGeometry = { ...net, layers: [{ ...conv, geometry: undefined as never }, dense] };
    expect(() => validateNetwork(noGeometry)).toThrow(/Layer 1 has no geometry/);
    const squeezed = { ...net, layers: [{ ...conv, geometry: { ...g, patchWidth: 9 } }, dense] };
    expect(() => validateNetwork(squeezed)).toThrow(
      /patch width is 9; a 3 x 3 x 1 kernel needs 16/,
    );
  });

  it('packs a deeper convolution as a structured dense layer over the previous NHWC output', () => {
    // conv 8x8x1 -> 6x6x4 (first, client-packed), conv 6x6x4 -> 4x4x2 (dense form), linear.
    const g1 = convGeometry({ height: 8, width: 8, channels: 1, kernel: 3, stride: 1, filters: 4 });
    const g2 = convGeometry({ height: 6, width: 6, channels: 4, kernel: 3, stride: 1, filters: 2 });
    const [k1, b1, k2, b2] = [
      randomArray(36, 11),
      randomArray(4, 12),
      randomArray(72, 13),
      randomArray(2, 14),
    ];
    const linear = { type: 'linear' as const };
    const net: Network = {
      task: 'classification',
      layers: [convLayer(g1, k1, b1, linear), convAsDense(g2, k2, b2, linear)],
    };
    expect(validateNetwork(net)).toBe(net);
    expect(layerSizes(net)).toEqual([36 * 16, 144, 32]);
    const image = randomArray(64, 15);
    const hidden = directConv(8, 8, 1, 3, 1, 4, image, k1, b1);
    const want = directConv(6, 6, 4, 3, 1, 2, Float32Array.from(hidden), k2, b2);
    const got = forward(net, image, 1);
    for (let k = 0; k < want.length; k++) expect(got[k]).toBeCloseTo(want[k], 4);
  });
});
