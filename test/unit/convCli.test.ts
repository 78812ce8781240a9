import { describe, expect, it } from 'vitest';
import type { CommandIo } from '../../src/cli/command';
import { command as costCommand } from '../../src/cli/commands/cost';
import { layerKindLabel, networkLabel } from '../../src/cli/format';
import { convGeometry, convLayer } from '../../src/core/model/conv';
import { costOf, type CostReport } from '../../src/core/he/costModel';
import { layerSizes, type Network } from '../../src/core/model/network';
import { masksOfNonZeros } from '../../src/core/prune/common';
import { countTileNonZeros, nonZeroTileFlags, planTiles } from '../../src/core/tiling/tilePlan';
import { createTileShape } from '../../src/core/tiling/tileShape';
import { LINEAR, SQUARE } from '../../src/core/model/activation';
import { createRng } from '../../src/core/model/random';

const io: CommandIo = { progress: () => undefined, signal: new AbortController().signal };

/** The MNIST CNN's shape (conv 5x5/2 x8 -> 64 -> 10) with non-zero seeded weights. */
function mnistCnn(): Network {
  const g = convGeometry({ height: 28, width: 28, channels: 1, kernel: 5, stride: 2, filters: 8 });
  const rng = createRng(3);
  const kernel = Float32Array.from({ length: 8 * 25 }, () => rng.normal() || 0.1);
  const conv = convLayer(g, kernel, new Float32Array(8), SQUARE);
  const dense = (rows: number, cols: number, activation: typeof SQUARE) => ({
    kind: 'dense' as const,
    weights: {
      rows,
      cols,
      data: Float32Array.from({ length: rows * cols }, () => rng.normal() || 0.1),
    },
    bias: new Float32Array(rows),
    activation,
  });
  return { task: 'classification', layers: [conv, dense(64, 1152, SQUARE), dense(10, 64, LINEAR)] };
}

describe('hepex cost --conv', () => {
  it('counts a CNN like the cost model does on the real expanded network', async () => {
    const run = await costCommand.run(
      ['--conv', '28x28x1:5/2x8', '--layers', '64,10', '--tile', '4x8'],
      io,
    );
    const report = run.json as CostReport & { conv: { positions: number } };
    const net = mnistCnn();
    const plan = planTiles(layerSizes(net), createTileShape(4, 8));
    const flags = masksOfNonZeros(net).map((m, l) =>
      nonZeroTileFlags(countTileNonZeros(m, plan.layers[l])),
    );
    const expected = costOf(
      plan,
      net.layers.map((l) => l.activation),
      flags,
    );
    expect(report.conv.positions).toBe(144);
    // 25 kernel values in 4-wide column blocks: 7 kernel tiles at each of 144 positions.
    expect(report.layers[0].nonZeroWeightTiles).toBe(144 * 7);
    expect(report.total.nonZeroWeightTiles).toBe(expected.total.nonZeroWeightTiles);
    expect(report.total.weightCiphertexts).toBe(expected.total.weightCiphertexts);
    expect(report.total.rotations).toBe(expected.total.rotations);
    expect(report.total.predictedMs).toBeCloseTo(expected.total.predictedMs, 6);
    expect(run.text).toMatch(/conv 5x5\/2 x8 \(144 positions, as 1152x4608 dense\) -> 64 -> 10/);
    expect(run.text).toMatch(/^1 conv x144 pos\s+B\s+165888\s+1008\b/m);
  });

  it('refuses a malformed or impossible --conv in words', async () => {
    await expect(
      costCommand.run(['--conv', '28x28:5/2x8', '--layers', '64,10'], io),
    ).rejects.toThrow(/HxWxC:K\/SxF/);
    await expect(
      costCommand.run(['--conv', '4x4x1:5/1x8', '--layers', '64,10'], io),
    ).rejects.toThrow(/does not fit a 4 x 4 image/);
    await expect(
      costCommand.run(['--conv', '28x28x1:5/2x8', '--layers', '0,10'], io),
    ).rejects.toThrow(/Layer size 2 is 0/);
  });

  it('names conv layers in the CLI tables', () => {
    const net = mnistCnn();
    expect(layerKindLabel(net.layers[0])).toBe('conv 5x5/2 x8, 144 pos');
    expect(layerKindLabel(net.layers[1])).toBe('dense');
    expect(networkLabel(net)).toBe(
      '28x28x1 image -> conv 5x5/2 x8 (12x12 = 144 positions, 1152 outputs; kernel 8x25 as 1152x4608 dense) -> 64 -> 10',
    );
  });
});
