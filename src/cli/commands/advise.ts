import type { HeMode } from '../../core/tiling/executionPlan';
import { adviseTileShapes } from '../../core/analysis/tileAdvisor';
import { optionalChoice, optionalInteger, optionalNumber, parseFlags } from '../args';
import type { Command } from '../command';
import { formatBytes, formatMs, table } from '../format';
import { activationsFromFlags, sizesFromFlags } from '../networkOptions';

export const command: Command = {
  summary: 'Every valid tile shape for a dense network, ranked by predicted time and memory.',
  usage:
    'npm run hepex -- advise --layers 784,128,10 [--samples 512] [--mode plain-model|encrypted-model] [--activation square|linear] [--top 10] [--json]',
  async run(argv) {
    const flags = parseFlags(argv, {
      layers: 'string',
      samples: 'string',
      mode: 'string',
      activation: 'string',
      top: 'string',
    });
    const sizes = sizesFromFlags(flags);
    const mode = optionalChoice<HeMode>(
      flags,
      'mode',
      ['plain-model', 'encrypted-model'],
      'plain-model',
    );
    const samples = optionalNumber(flags, 'samples', 512);
    const top = optionalInteger(flags, 'top', { min: 1, max: 10_000 }, 10);
    const advice = adviseTileShapes(
      sizes,
      activationsFromFlags(flags, sizes.length - 1),
      undefined,
      { mode, samples },
    );
    const ranked = advice.map((a, rank) => ({
      rank: rank + 1,
      tile: `${a.tile.t1}x${a.tile.t2}`,
      batch: a.tile.batch,
      ringDegree: a.tile.ringDegree,
      fits: a.fits,
      depth: a.report.total.depth,
      weightCiphertexts: a.weightCiphertexts,
      predictedMs: a.predictedMs,
      peakBytes: a.peakBytes,
    }));
    const text = [
      `tile shapes for ${sizes.join('-')}, ${samples} samples, ${mode} (best first)`,
      table(
        ['rank', 'tile', 'batch', 'N', 'fits', 'weight ct', 'time', 'peak memory'],
        ranked
          .slice(0, top)
          .map((r) => [
            r.rank,
            r.tile,
            r.batch,
            r.ringDegree,
            r.fits ? 'yes' : 'no',
            r.weightCiphertexts,
            formatMs(r.predictedMs),
            formatBytes(r.peakBytes),
          ]),
      ),
    ].join('\n');
    return { json: { samples, mode, shapes: ranked }, text };
  },
};
