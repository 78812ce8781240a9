import { costOf, unprunedTileFlags } from '../../core/he/costModel';
import type { HeMode } from '../../core/tiling/executionPlan';
import { convGeometry, outputSize } from '../../core/model/conv';
import { HepexError } from '../../core/model/errors';
import { parseLayerSizes, type ConvGeometry } from '../../core/model/network';
import { planTiles } from '../../core/tiling/tilePlan';
import { tileShapeLabel } from '../../core/tiling/tileShape';
import {
  optionalChoice,
  optionalNumber,
  parseFlags,
  requireString,
  type ParsedFlags,
} from '../args';
import type { Command } from '../command';
import { formatBytes, formatMs, table } from '../format';
import {
  activationsFromFlags,
  networkFlags,
  sizesFromFlags,
  tileFromFlags,
} from '../networkOptions';

export const command: Command = {
  summary:
    'Ciphertexts, operations, memory and predicted time of a dense network (or a CNN) under a tile shape.',
  usage: [
    'npm run hepex -- cost --layers 784,256,64,256,784 --tile 4x8[:A|:B] [--batch B] [--ring-degree N] [--samples N] [--mode plain-model|encrypted-model] [--activation square|linear] [--json]',
    'A CNN: --conv HxWxC:K/SxF (image, kernel K x K, stride S, F filters; e.g. 28x28x1:5/2x8) and --layers the dense sizes after it (e.g. 64,10).',
    'The conv layer is its tied kernel at every output position: only its diagonal blocks are tiles (client im2col, docs in src/core/conv.ts).',
  ].join('\n'),
  async run(argv) {
    const flags = parseFlags(argv, {
      ...networkFlags,
      samples: 'string',
      mode: 'string',
      conv: 'string',
    });
    const conv = typeof flags.conv === 'string' ? parseConvFlag(flags.conv) : undefined;
    const after = sizesAfterConv(flags, conv);
    const sizes = conv ? [outputSize(conv).positions * conv.patchWidth, ...after] : after;
    const tile = tileFromFlags(flags);
    const mode = optionalChoice<HeMode>(
      flags,
      'mode',
      ['plain-model', 'encrypted-model'],
      'plain-model',
    );
    const plan = planTiles(sizes, tile);
    const report = costOf(
      plan,
      activationsFromFlags(flags, sizes.length - 1),
      unprunedTileFlags(plan, conv),
      {
        mode,
        samples: optionalNumber(flags, 'samples'),
      },
    );
    const t = report.total;
    const text = [
      conv
        ? `network ${conv.height}x${conv.width}x${conv.channels} image -> conv ${conv.kernel}x${conv.kernel}/${conv.stride} x${conv.filters} (${outputSize(conv).positions} positions, as ${sizes[1]}x${sizes[0]} dense) -> ${sizes.slice(2).join(' -> ')}, tile ${tileShapeLabel(tile)} (layer 1 in ${tile.first}), batch ${tile.batch}, ring degree ${tile.ringDegree}, ${mode}`
        : `network ${sizes.join('-')}, tile ${tileShapeLabel(tile)} (layer 1 in ${tile.first}), batch ${tile.batch}, ring degree ${tile.ringDegree}, ${mode}`,
      `CKKS: depth ${t.depth}, modulus [${report.heParameters.coeffModulusBits.join(', ')}] = ${report.heParameters.totalBits} bits${report.heParameters.fits ? '' : ' (exceeds 128-bit security at this ring degree!)'}`,
      '',
      table(
        [
          'layer',
          'orient',
          'tiles',
          'non-zero',
          'in ct',
          'out ct',
          'mults',
          'rots',
          'adds',
          'masks',
          'model',
          'time',
        ],
        [
          ...report.layers.map((l) => [
            conv && l.layer === 0 ? `1 conv x${outputSize(conv).positions} pos` : `${l.layer + 1}`,
            l.orientation,
            l.weightTiles,
            l.nonZeroWeightTiles,
            l.inputCiphertexts,
            l.outputCiphertexts,
            l.multiplications,
            l.rotations,
            l.additions,
            l.maskMultiplications,
            formatBytes(l.modelBytes),
            formatMs(l.predictedMs),
          ]),
          [
            'total',
            '',
            t.weightTiles,
            t.nonZeroWeightTiles,
            t.inputCiphertexts,
            t.outputCiphertexts,
            t.multiplications,
            t.rotations,
            t.additions,
            t.maskMultiplications,
            formatBytes(t.modelBytes),
            formatMs(t.predictedMs),
          ],
        ],
      ),
      '',
      `memory: model ${formatBytes(t.modelBytes)}, keys ${formatBytes(t.keyBytes)} (${t.rotationKeys} rotation keys), inputs ${formatBytes(t.inputBytes)}, working set ${formatBytes(t.workingSetBytes)}; peak ${formatBytes(t.peakBytes)}`,
      `timings: ${t.timingSource}`,
    ].join('\n');
    return {
      json: conv ? { ...report, conv: { ...conv, positions: outputSize(conv).positions } } : report,
      text,
    };
  },
};

/** "28x28x1:5/2x8": height x width x channels : kernel / stride x filters. */
export function parseConvFlag(text: string): ConvGeometry {
  const m = /^(\d+)x(\d+)x(\d+):(\d+)\/(\d+)x(\d+)$/.exec(text.trim());
  if (!m) {
    throw new HepexError(
      'invalid-argument',
      `Option --conv is HxWxC:K/SxF, like 28x28x1:5/2x8 (a 28 x 28 x 1 image, 5 x 5 kernel, stride 2, 8 filters); got "${text}".`,
    );
  }
  const [height, width, channels, kernel, stride, filters] = m.slice(1).map(Number);
  return convGeometry({ height, width, channels, kernel, stride, filters });
}

/** --layers: the whole network, or with --conv the dense sizes after the convolution (checked with its outputs first). */
function sizesAfterConv(flags: ParsedFlags, conv: ConvGeometry | undefined): number[] {
  if (!conv) return sizesFromFlags(flags);
  const text = requireString(flags, 'layers');
  return parseLayerSizes(`${outputSize(conv).positions * conv.filters},${text}`);
}
