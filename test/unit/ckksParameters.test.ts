import { describe, expect, it } from 'vitest';
import {
  chooseCkksParameters,
  fitsSecurity,
  maxDepth,
  outputBound,
  totalBits,
} from '../../src/core/he/ckksParameters';
import { HepexError } from '../../src/core/model/errors';

describe('CKKS parameters', () => {
  it('uses [60, 40 x depth, 60] at the smallest ring degree that fits 128-bit security', () => {
    expect(chooseCkksParameters(2).coeffModulusBits).toEqual([60, 40, 40, 60]);
    expect(chooseCkksParameters(2).ringDegree).toBe(8192);
    const seven = chooseCkksParameters(7);
    expect([seven.ringDegree, totalBits(seven)]).toEqual([16384, 400]);
    expect(outputBound(seven)).toBe(2 ** 19);
  });

  it('shrinks the first prime to 50 bits when that is what keeps a depth at a smaller ring', () => {
    // 60 + 8 x 40 + 60 = 440 > 438 at N = 16384; 50 + 320 + 60 = 430 fits.
    const eight = chooseCkksParameters(8);
    expect(eight.ringDegree).toBe(16384);
    expect(eight.coeffModulusBits).toEqual([50, ...Array(8).fill(40), 60]);
    expect(fitsSecurity(eight)).toBe(true);
    expect(outputBound(eight)).toBe(512);
    expect(maxDepth(16384)).toBe(8);
    // Beyond what the tight chain carries, the next ring degree with the roomy chain.
    const nine = chooseCkksParameters(9);
    expect([nine.ringDegree, nine.coeffModulusBits[0]]).toEqual([32768, 60]);
  });

  it('refuses depths no ring degree carries, in words', () => {
    expect(() => chooseCkksParameters(maxDepth(32768) + 1)).toThrow(HepexError);
    expect(() => chooseCkksParameters(0)).toThrow(/at least 1/);
  });
});
