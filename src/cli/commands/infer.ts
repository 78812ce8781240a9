import { checkDatasetFits, imagesToFloat, takeSamples } from '../../core/io/dataset';
import { checkTrainedData, identifyDataset } from '../../core/io/dataIdentity';
import { HepexError } from '../../core/model/errors';
import type { HeMode } from '../../core/tiling/executionPlan';
import type { HepexModel } from '../../core/io/model';
import { forward, inputWidth } from '../../core/model/network';
import { createRng } from '../../core/model/random';
import { DEFAULT_TILE_SIDES, parseTileSides, placeTile } from '../../core/tiling/tileShape';
import { inferEncrypted, type EncryptedInferenceSummary } from '../../engines/seal/heInference';
import {
  inferEncryptedOnPool,
  type PoolInferenceSummary,
} from '../../engines/seal/hePoolInference';
import { defaultNodeWorkerCount, spawnNodePoolWorkers } from '../../engines/seal/hePoolNode';
import { checkWorkerCount } from '../../core/he/poolPlan';
import { DEFAULT_MEMORY_BUDGET } from '../../engines/seal/sessionTypes';
import { loadSeal } from '../../engines/seal/loadSeal';
import { readHeModel } from '../readModel';
import {
  loadIdxPair,
  loadMnistSplit,
  mnistIdentity,
  parseIdxPairArg,
} from '../../engines/tfjs/mnistNode';
import { optionalChoice, optionalNumber, parseFlags, requireString } from '../args';
import type { Command, CommandIo } from '../command';
import { formatBytes, formatMs, table } from '../format';

const MNIST_PIXELS = 784;

/**
 * Inputs for a model: the first samples of --data's IMAGES,LABELS when given, else of the seeded
 * MNIST test split when the model reads 784 pixels (unless it records other training data:
 * dataIdentity.ts), else seeded uniform values in [0, 1] (normalized inputs either way).
 */
async function inputsFor(
  model: HepexModel,
  samples: number,
  seed: number,
  data: string | undefined,
  io: CommandIo,
): Promise<{ x: Float32Array; source: string }> {
  const width = inputWidth(model.network);
  if (data !== undefined) {
    const set = await loadIdxPair(...parseIdxPairArg(data, 'data'));
    checkDatasetFits(set, width);
    const warning = checkTrainedData(model.provenance, identifyDataset(set), true);
    if (warning) io.progress(warning);
    if (samples > set.count)
      throw new HepexError(
        'invalid-argument',
        `${set.name} has ${set.count} images; asked for ${samples}.`,
      );
    return {
      x: imagesToFloat(takeSamples(set, samples)),
      source: `${set.name}, first ${samples}`,
    };
  }
  if (width === MNIST_PIXELS) {
    checkTrainedData(model.provenance, await mnistIdentity(), false);
    const split = await loadMnistSplit();
    if (samples > split.test.count) {
      throw new HepexError(
        'invalid-argument',
        `The MNIST test split has ${split.test.count} images; asked for ${samples}.`,
      );
    }
    return {
      x: imagesToFloat(takeSamples(split.test, samples)),
      source: `${split.label}, test split, first ${samples}`,
    };
  }
  const rng = createRng(seed);
  return {
    x: Float32Array.from({ length: samples * width }, () => rng.next()),
    source: `uniform [0, 1], seed ${seed}`,
  };
}

export const command: Command = {
  summary:
    'Encrypted inference of a model with SEAL CKKS: latency, peak memory, operation counts, error vs plaintext.',
  usage:
    'npm run hepex -- infer --model DIR|FILE.onnx --he [--mode plain-model|encrypted-model] [--samples N] [--tile T1xT2[:A|:B]] [--ring-degree N | --batch B] [--timings calibrated|reference] [--workers K|auto] [--seed S] [--data IMAGES,LABELS] [--json]\n  --workers: HE worker threads (default auto: one per core, as memory allows; 1 runs in this thread)',
  async run(argv, io) {
    const flags = parseFlags(argv, {
      model: 'string',
      he: 'boolean',
      mode: 'string',
      samples: 'string',
      tile: 'string',
      'ring-degree': 'string',
      batch: 'string',
      timings: 'string',
      seed: 'string',
      data: 'string',
      workers: 'string',
    });
    const dir = requireString(flags, 'model');
    const mode = optionalChoice<HeMode>(
      flags,
      'mode',
      ['plain-model', 'encrypted-model'],
      'plain-model',
    );
    const timings = optionalChoice(
      flags,
      'timings',
      ['calibrated', 'reference'] as const,
      'calibrated',
    );
    const samples = optionalNumber(flags, 'samples', 16);
    const seed = optionalNumber(flags, 'seed', 1);
    if (!Number.isInteger(samples) || samples < 1) {
      throw new HepexError(
        'invalid-argument',
        `Option --samples must be a whole number of at least 1, got ${samples}.`,
      );
    }
    // Tile and ring degree parsed once, before any work: --batch B places the tile in the ring
    // degree 2 t1 t2 B; without either, the smallest ring degree that carries the depth.
    const sides = typeof flags.tile === 'string' ? parseTileSides(flags.tile) : undefined;
    const ringFlag = optionalNumber(flags, 'ring-degree');
    const batchFlag = optionalNumber(flags, 'batch');
    if (ringFlag !== undefined && batchFlag !== undefined)
      throw new HepexError(
        'invalid-argument',
        'Give --ring-degree or --batch, not both: each fixes the other.',
      );
    const model = await readHeModel(dir);
    const placedSides = sides ?? model.tile ?? DEFAULT_TILE_SIDES;
    const ringDegree =
      ringFlag !== undefined || batchFlag !== undefined
        ? placeTile(placedSides, { ringDegree: ringFlag, batch: batchFlag }).ringDegree
        : undefined;
    const data = typeof flags.data === 'string' ? flags.data : undefined;
    const { x, source } = await inputsFor(model, samples, seed, data, io);
    if (!flags.he) {
      const t0 = performance.now();
      forward(model.network, x, samples);
      const latencyMs = performance.now() - t0;
      return {
        json: { model: model.name, he: false, samples, inputs: source, latencyMs },
        text: `${model.name}: plaintext forward pass of ${samples} samples in ${formatMs(latencyMs)} (add --he for encrypted inference)`,
      };
    }
    const workerFlag = typeof flags.workers === 'string' ? flags.workers : 'auto';
    const workers =
      workerFlag === 'auto'
        ? defaultNodeWorkerCount(DEFAULT_MEMORY_BUDGET)
        : checkWorkerCount(optionalNumber(flags, 'workers', 1));
    const { seal } = await loadSeal();
    let lastProgress = performance.now();
    const runOptions = {
      mode,
      tile: sides,
      ringDegree,
      timings,
      signal: io.signal,
      log: io.progress,
      // Big models take minutes (N = 32768, streamed weights): a line every few seconds.
      onProgress: (fraction: number, message: string) => {
        const now = performance.now();
        if (now - lastProgress < 3000) return;
        lastProgress = now;
        io.progress(`  ${Math.round(fraction * 100)}% ${message}`);
      },
    };
    const summary: EncryptedInferenceSummary | PoolInferenceSummary =
      workers > 1
        ? (
            await inferEncryptedOnPool(
              seal,
              model,
              x,
              samples,
              spawnNodePoolWorkers(workers),
              runOptions,
            )
          ).summary
        : { ...(await inferEncrypted(seal, model, x, samples, runOptions)).summary, workers: 1 };
    const json = { ...summary, he: true, inputs: source };
    const poolLine =
      'pool' in summary
        ? `${summary.workers} HE workers (${summary.sharedInputs ? 'inputs in shared memory' : 'inputs copied to each'}, ${summary.transferMsPerMiB.toFixed(2)} ms/MiB): predicted ${formatMs(summary.predictedMs)} against ${formatMs(summary.predictedSingleWorkerMs)} on one (x${summary.pool.speedup.toFixed(2)})`
        : '1 HE worker (this thread)';
    const p = summary.parameters;
    const text = [
      `${summary.model} (${summary.task}), ${summary.mode}, ${samples} samples (${source})`,
      `CKKS N=${p.ringDegree}, primes [${p.coeffModulusBits.join(', ')}], scale 2^${p.scaleBits}, depth ${p.depth}, tile ${p.tile.t1}x${p.tile.t2} batch ${p.tile.batch}, ${p.rotationSteps.length} rotation keys`,
      `weight ciphertexts ${summary.ciphertexts.weight} of ${summary.ciphertexts.weightTiles} tiles; inputs ${summary.ciphertexts.input}, outputs ${summary.ciphertexts.output}`,
      `latency ${formatMs(summary.latencyMs)} (encrypt ${formatMs(summary.encryptMs)}, infer ${formatMs(summary.inferMs)}, decrypt ${formatMs(summary.decryptMs)}); predicted ${formatMs(summary.predictedMs)} (x${summary.measuredOverPredicted.toFixed(2)}); setup ${formatMs(summary.setupMs)}`,
      poolLine,
      `peak memory ${formatBytes(summary.peakBytes)}${'pool' in summary ? ' (the largest worker)' : ''} (keys ${formatBytes(summary.keyBytes)}, model ${formatBytes(summary.modelBytes)})`,
      `max |decrypted - plaintext| ${summary.maxAbsError.toExponential(2)}${summary.agreement === null ? '' : `, class agreement ${(summary.agreement * 100).toFixed(1)}%`}`,
      '',
      table(
        ['op', 'count', 'cost model'],
        Object.keys(summary.ops).map((k) => [
          k,
          summary.ops[k as keyof typeof summary.ops],
          summary.expectedOps[k as keyof typeof summary.ops],
        ]),
      ),
      summary.opsMatchPlan
        ? 'operation counts equal the cost model'
        : 'WARNING: operation counts differ from the cost model',
      '',
      // Server time per layer (encrypt/decrypt are the client's, above).
      table(
        ['layer', 'weight cts', 'mults', 'rotations', 'measured', 'predicted'],
        summary.layers.map((l) => [
          l.layer + 1,
          l.weightCiphertexts,
          l.multiplications,
          l.rotations,
          formatMs(l.measuredMs),
          formatMs(l.predictedMs),
        ]),
      ),
    ].join('\n');
    return { json, text };
  },
};
