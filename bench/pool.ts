import { fileURLToPath } from 'node:url';
import { optionalNumber, parseFlags } from '../src/cli/args';
import { chooseHeTile, prepareHeModel } from '../src/core/he/heModel';
import { imagesToFloat, takeSamples } from '../src/core/io/dataset';
import { DEFAULT_TILE_SIDES } from '../src/core/tiling/tileShape';
import { calibrate } from '../src/engines/seal/calibrate';
import { loadSeal } from '../src/engines/seal/loadSeal';
import { loadMnistSplit } from '../src/engines/tfjs/mnistNode';
import { readModelDir } from '../src/engines/tfjs/modelDir';
import { poolComparison } from './hePool';
import type { BenchOptions } from './main';

/**
 * `npm run bench -- pool [--quick] [--samples=N] [--repeats=R]`: the HE worker pool alone (the
 * part of `bench he` that compares it), on the unpruned MNIST MLP 784-128-10 and (not quick)
 * the shipped denoising AE 784-128-32-128-784: in-thread session, K = 1 and K = 2 workers, side
 * by side in one run with SEAL timings calibrated right before; the projection to K = 8.
 */
export async function run({ quick, args, progress }: BenchOptions) {
  const flags = parseFlags(args, { samples: 'string', repeats: 'string' });
  const repeats = optionalNumber(flags, 'repeats', quick ? 1 : 3);
  const models = new URL('../public/models/', import.meta.url);
  const dense = await readModelDir(fileURLToPath(new URL('mlp', models)));
  const ae = quick ? null : await readModelDir(fileURLToPath(new URL('dae', models)));
  const sides = DEFAULT_TILE_SIDES;
  const tile = chooseHeTile(dense.network, sides);
  const samples = optionalNumber(flags, 'samples', quick ? 32 : tile.batch);
  const split = await loadMnistSplit();
  const inputs = imagesToFloat(takeSamples(split.test, samples));
  const { seal } = await loadSeal();
  const depth = Math.max(
    ...[dense, ...(ae ? [ae] : [])].map(
      (m) => prepareHeModel(m.network, chooseHeTile(m.network, m.tile ?? sides)).params.depth,
    ),
  );
  progress(`calibrating at N=${tile.ringDegree}, ${depth + 1} primes`);
  const table = await calibrate(seal, tile.ringDegree, {
    depth,
    repetitions: quick ? 5 : 15,
    statistic: 'min',
    runtime: `Node ${process.versions.node}`,
  });
  const rows = await poolComparison(
    seal,
    [
      { label: 'unpruned MLP', model: dense, sides },
      ...(ae
        ? [{ label: 'unpruned AE 784-128-32-128-784', model: ae, sides: ae.tile ?? sides }]
        : []),
    ],
    () => ({ x: inputs, samples }),
    table,
    repeats,
    progress,
  );
  return { samples, ringDegree: tile.ringDegree, statistic: 'min', timings: table, pool: rows };
}
