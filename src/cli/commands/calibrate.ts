import { HepexError } from '../../core/model/errors';
import { RING_DEGREES, type RingDegree } from '../../core/tiling/tileShape';
import { calibrate } from '../../engines/seal/calibrate';
import { loadSeal } from '../../engines/seal/loadSeal';
import { optionalInteger, optionalNumber, parseFlags } from '../args';
import type { Command } from '../command';
import { table } from '../format';

export const command: Command = {
  summary:
    'Times each SEAL CKKS primitive on this machine: the table the cost model predicts with.',
  usage:
    'npm run hepex -- calibrate [--ring-degree 8192|16384|32768] [--depth D] [--repetitions R] [--json]',
  async run(argv, io) {
    const flags = parseFlags(argv, {
      'ring-degree': 'string',
      depth: 'string',
      repetitions: 'string',
    });
    const ringDegree = optionalNumber(flags, 'ring-degree', 8192);
    if (!(RING_DEGREES as readonly number[]).includes(ringDegree)) {
      throw new HepexError(
        'invalid-argument',
        `Option --ring-degree must be one of ${RING_DEGREES.join(', ')}, got ${ringDegree}.`,
      );
    }
    // Whole numbers before SEAL sees them: a depth of 1.5 has no prime chain.
    const depth = optionalInteger(flags, 'depth', { min: 1, max: 64 }, 2);
    const repetitions = optionalInteger(flags, 'repetitions', { min: 1, max: 1000 }, 9);
    const { seal } = await loadSeal();
    const result = await calibrate(seal, ringDegree as RingDegree, {
      depth,
      repetitions,
      runtime: `Node ${process.versions.node}`,
      signal: io.signal,
    });
    return {
      json: result,
      text: [
        result.source,
        '',
        table(
          ['op', 'ms'],
          Object.entries(result.ms).map(([k, v]) => [k, v.toFixed(3)]),
        ),
      ].join('\n'),
    };
  },
};
