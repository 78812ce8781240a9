import { costOf } from '../../core/costModel';
import type { HeMode } from '../../core/executionPlan';
import { planTiles } from '../../core/tilePlan';
import { tileShapeLabel } from '../../core/tileShape';
import { optionalChoice, optionalNumber, parseFlags } from '../args';
import type { Command } from '../command';
import { formatBytes, formatMs, table } from '../format';
import { activationsFromFlags, networkFlags, sizesFromFlags, tileFromFlags } from '../networkOptions';

export const command: Command = {
  summary: 'Ciphertexts, operations, memory and predicted time of a dense network under a tile shape.',
  usage:
    'npm run hepex -- cost --layers 784,256,64,256,784 --tile 4x8[:A|:B] [--batch B] [--ring-degree N] [--samples N] [--mode plain-model|encrypted-model] [--activation square|linear] [--json]',
  async run(argv) {
    const flags = parseFlags(argv, { ...networkFlags, samples: 'string', mode: 'string' });
    const sizes = sizesFromFlags(flags);
    const tile = tileFromFlags(flags);
    const mode = optionalChoice<HeMode>(flags, 'mode', ['plain-model', 'encrypted-model'], 'plain-model');
    const plan = planTiles(sizes, tile);
    const report = costOf(plan, activationsFromFlags(flags, sizes.length - 1), undefined, {
      mode,
      samples: optionalNumber(flags, 'samples'),
    });
    const t = report.total;
    const text = [
      `network ${sizes.join('-')}, tile ${tileShapeLabel(tile)} (layer 1 in ${tile.first}), batch ${tile.batch}, ring degree ${tile.ringDegree}, ${mode}`,
      `CKKS: depth ${t.depth}, modulus [${report.heParameters.coeffModulusBits.join(', ')}] = ${report.heParameters.totalBits} bits${report.heParameters.fits ? '' : ' (exceeds 128-bit security at this ring degree!)'}`,
      '',
      table(
        ['layer', 'orient', 'tiles', 'in ct', 'out ct', 'mults', 'rots', 'adds', 'masks', 'model', 'time'],
        [
          ...report.layers.map((l) => [
            `${l.layer + 1}`,
            l.orientation,
            l.weightTiles,
            l.inputCiphertexts,
            l.outputCiphertexts,
            l.multiplications,
            l.rotations,
            l.additions,
            l.maskMultiplications,
            formatBytes(l.modelBytes),
            formatMs(l.predictedMs),
          ]),
          ['total', '', t.weightTiles, t.inputCiphertexts, t.outputCiphertexts, t.multiplications, t.rotations, t.additions, t.maskMultiplications, formatBytes(t.modelBytes), formatMs(t.predictedMs)],
        ],
      ),
      '',
      `memory: model ${formatBytes(t.modelBytes)}, keys ${formatBytes(t.keyBytes)} (${t.rotationKeys} rotation keys), inputs ${formatBytes(t.inputBytes)}, working set ${formatBytes(t.workingSetBytes)}; peak ${formatBytes(t.peakBytes)}`,
      `timings: ${t.timingSource}`,
    ].join('\n');
    return { json: report, text };
  },
};
