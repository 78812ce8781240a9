import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { LINEAR, SQUARE } from '../../src/core/model/activation';
import { convGeometry, convLayer, kernelOf, outputSize } from '../../src/core/model/conv';
import { expandFilterOrder, expandPatchOrder } from '../../src/core/model/convOrders';
import { OP_KINDS, type HeMode } from '../../src/core/tiling/executionPlan';
import { chooseHeTile, prepareHeModel } from '../../src/core/he/heModel';
import { expectedOps, referenceOutputs } from '../../src/core/he/heModel';
import { simulateInference } from '../../src/core/he/heSimulator';
import { createMatrix } from '../../src/core/model/matrix';
import {
  forward,
  validateNetwork,
  type ConvGeometry,
  type Network,
} from '../../src/core/model/network';
import { applyPermutation } from '../../src/core/prune/applyPermutation';
import { createRng, shuffleInPlace } from '../../src/core/model/random';
import { runHeInference } from '../../src/engines/seal/heInference';
import { SealHeSession } from '../../src/engines/seal/heSession';
import { loadSeal, type Seal } from '../../src/engines/seal/loadSeal';
import { randomInputs } from '../fixtures/networks';

// Real node-seal CKKS on a small CNN: 12 x 12 x 1 images, 3 x 3 kernel, stride 2, 8 filters
// (5 x 5 positions, patches padded 9 -> 16), square, then dense 200 -> 10. The conv is a
// 200 x 400 block-diagonal matrix; only its 25 diagonal blocks hold weights.
let seal: Seal;
beforeAll(async () => {
  const wasm = await readFile(new URL('seal_throws.wasm', import.meta.resolve('node-seal')));
  ({ seal } = await loadSeal({ instantiate: (imports) => WebAssembly.instantiate(wasm, imports) }));
});

const G: ConvGeometry = convGeometry({
  height: 12,
  width: 12,
  channels: 1,
  kernel: 3,
  stride: 2,
  filters: 8,
});
const POSITIONS = outputSize(G).positions;

/**
 * The CNN; with `zeroKernelTiles`, those (filter block, column block) tiles of the 8 x 9 kernel
 * (blockOut x blockIn of layer 0's tiling) are zero, as kernel tile pruning leaves them.
 */
function cnn(
  zeroKernelTiles: readonly [number, number][] = [],
  blocks = { out: 1, in: 1 },
): Network {
  const rng = createRng(7);
  const kernel = Float32Array.from({ length: 8 * 9 }, () => rng.normal() / 3);
  for (const [fo, ji] of zeroKernelTiles)
    for (let f = fo * blocks.out; f < (fo + 1) * blocks.out; f++)
      for (let j = ji * blocks.in; j < Math.min(9, (ji + 1) * blocks.in); j++)
        kernel[f * 9 + j] = 0;
  const conv = convLayer(
    G,
    kernel,
    Float32Array.from({ length: 8 }, () => rng.normal() * 0.1),
    SQUARE,
  );
  const rows = 10;
  const cols = POSITIONS * 8;
  const dense = {
    kind: 'dense' as const,
    weights: createMatrix(
      rows,
      cols,
      Float32Array.from({ length: rows * cols }, () => rng.normal() / Math.sqrt(cols)),
    ),
    bias: Float32Array.from({ length: rows }, () => rng.normal() * 0.1),
    activation: LINEAR,
  };
  return validateNetwork({ task: 'classification', layers: [conv, dense] });
}

/** Client permutations of a conv-first net: patch order, filter order (folded), output order. */
function permuted(network: Network, seed: number) {
  const rng = createRng(seed);
  const shuffled = (n: number) =>
    shuffleInPlace(
      Uint32Array.from({ length: n }, (_, k) => k),
      rng,
    );
  return applyPermutation(network, [
    expandPatchOrder(G, shuffled(9)),
    expandFilterOrder(G, shuffled(8)),
    shuffled(10),
  ]);
}

describe('a CNN under SEAL CKKS (client im2col)', () => {
  for (const mode of ['plain-model', 'encrypted-model'] as HeMode[]) {
    it(`${mode}: decrypted outputs match the forward pass on raw images, counts = cost model`, async () => {
      const original = cnn();
      const { network, permutation } = permuted(original, 3);
      const tile = chooseHeTile(network, { t1: 4, t2: 8 });
      const model = prepareHeModel(network, tile, { mode, permutation });
      expect(model.inputWidth).toBe(144);
      expect(model.sizes).toEqual([400, 200, 10]);
      const t = model.exec.layers[0].tiling;
      // Only the diagonal blocks cost ciphertexts, and of those only the column blocks that hold
      // kernel values (9 of the 16 patch columns; padding-only blocks are zero tiles):
      // 25 positions x (8 / blockOut) x ceil(9 / blockIn) of the plan's 200 x 400 tiling.
      const diagonalTiles = POSITIONS * (8 / t.blockOut) * Math.ceil(9 / t.blockIn);
      expect(model.exec.layers[0].nonZeroTileCount).toBe(diagonalTiles);
      expect(t.tileCount).toBe((200 / t.blockOut) * (400 / t.blockIn));
      const session = await SealHeSession.create(seal, model);
      try {
        const samples = 6;
        const images = randomInputs(samples, 144, 11);
        const report = await runHeInference(session, network, images, samples);
        // The reference the report uses (patched + permuted inputs on the permuted network) is
        // the original network's forward pass on the raw images.
        const plain = forward(original, images, samples);
        for (let k = 0; k < plain.length; k++) expect(report.reference[k]).toBeCloseTo(plain[k], 4);
        expect(report.maxAbsError).toBeLessThan(1e-3);
        expect(report.maxAbsError).toBeGreaterThan(0);
        expect(report.agreement).toBe(1);
        for (const k of OP_KINDS) expect(report.ops[k], k).toBe(report.expectedOps[k]);
        expect(report.opsMatchPlan).toBe(true);
        expect(report.layers[0].weightCiphertexts).toBe(diagonalTiles);
      } finally {
        session.delete();
      }
      expect(session.liveObjects.count).toBe(0);
    });
  }

  it('skips the expanded tiles of pruned kernel tiles at every position', async () => {
    const probe = prepareHeModel(cnn(), chooseHeTile(cnn(), { t1: 4, t2: 8 }));
    const t = probe.exec.layers[0].tiling;
    const kernelTiles = (8 / t.blockOut) * Math.ceil(9 / t.blockIn);
    const zeroed: [number, number][] = [
      [0, 0],
      [8 / t.blockOut - 1, Math.ceil(9 / t.blockIn) - 1],
    ];
    const network = cnn(zeroed, { out: t.blockOut, in: t.blockIn });
    const first = network.layers[0];
    if (first.kind !== 'conv') throw new Error('layer 1 is the conv');
    expect(kernelOf(first).kernel.filter((v) => v === 0).length).toBe(
      2 * t.blockOut * t.blockIn -
        (9 % t.blockIn === 0 ? 0 : t.blockOut * (t.blockIn - (9 % t.blockIn))),
    );
    const model = prepareHeModel(network, probe.tile, { mode: 'plain-model' });
    expect(model.exec.layers[0].tiling.blockIn).toBe(t.blockIn);
    const session = await SealHeSession.create(seal, model);
    try {
      const report = await runHeInference(session, network, randomInputs(3, 144, 12), 3);
      expect(report.layers[0].weightCiphertexts).toBe(POSITIONS * (kernelTiles - zeroed.length));
      expect(report.maxAbsError).toBeLessThan(1e-3);
      expect(report.opsMatchPlan).toBe(true);
    } finally {
      session.delete();
    }
    // The simulator (no encryption) runs the same plan: same counts, float64-exact outputs.
    const images = randomInputs(3, 144, 12);
    const sim = await simulateInference(model, images, 3);
    const reference = referenceOutputs(model, network, images, 3);
    for (let k = 0; k < reference.length; k++) expect(sim.outputs[k]).toBeCloseTo(reference[k], 5);
    const want = expectedOps(model, 3);
    for (const k of OP_KINDS) expect(sim.ops[k], k).toBe(want[k]);
  });
});
