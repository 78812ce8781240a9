import { costOfExecution } from '../../core/he/costModel';
import { expectedOps, referenceOutputs } from '../../core/he/heModel';
import type { PoolCost } from '../../core/he/poolPlan';
import type { HepexModel } from '../../core/io/model';
import { OP_KINDS, addOps, zeroOps } from '../../core/tiling/executionPlan';
import {
  argmaxAgreement,
  prepareEncryptedRun,
  runParameters,
  type EncryptedInferenceOptions,
  type EncryptedInferenceSummary,
} from './heInference';
import { HePool, type PoolWorker } from './hePool';
import type { Seal } from './loadSeal';

/** An encrypted run on a pool: the single-worker summary's fields, plus the pool's own. */
export interface PoolInferenceSummary extends EncryptedInferenceSummary {
  readonly workers: number;
  /** Measured peak bytes of live SEAL objects in each worker. */
  readonly workerPeakBytes: readonly number[];
  /** Whether a layer's inputs reached the workers in one shared buffer. */
  readonly sharedInputs: boolean;
  /** Measured at set-up: ms to move 1 MiB to a worker. */
  readonly transferMsPerMiB: number;
  /** The cost model's pool prediction (wall time, per-layer shares, transfer). */
  readonly pool: PoolCost;
  /** The same plan predicted on one worker, ms. */
  readonly predictedSingleWorkerMs: number;
}

/**
 * `inferEncrypted` on a pool of workers: the client (keys, encrypt, decrypt) here, every layer
 * split across `workers` (spawned by the caller: Node threads or Web Workers). Deletes the pool.
 */
export async function inferEncryptedOnPool(
  seal: Seal,
  hepexModel: HepexModel,
  inputs: Float32Array,
  samples: number,
  workers: readonly PoolWorker[],
  options: EncryptedInferenceOptions = {},
): Promise<{ summary: PoolInferenceSummary; outputs: Float32Array }> {
  const { network } = hepexModel;
  let prepared: Awaited<ReturnType<typeof prepareEncryptedRun>>;
  try {
    prepared = await prepareEncryptedRun(seal, hepexModel, options);
  } catch (error) {
    workers.forEach((w) => w.terminate());
    throw error;
  }
  const { model, tile, timings } = prepared;
  const log = options.log ?? (() => {});
  log(
    `keys, then the model split over ${workers.length} HE workers (N=${tile.ringDegree}, ${model.exec.weightCiphertexts} weight tiles)...`,
  );
  let pool: HePool;
  try {
    pool = await HePool.create(seal, network, tile, workers, {
      mode: model.mode,
      permutation: hepexModel.permutation,
      memoryBudgetBytes: options.memoryBudgetBytes,
      timings,
      signal: options.signal,
      onProgress: options.onProgress,
    });
  } catch (error) {
    workers.forEach((w) => w.terminate());
    throw error;
  }
  try {
    log(`encrypted inference of ${samples} samples on ${workers.length} workers...`);
    const { outputs, stats } = await pool.infer(inputs, samples, {
      signal: options.signal,
      onProgress: options.onProgress,
    });
    const reference = referenceOutputs(pool.model, network, inputs, samples);
    let maxAbsError = 0;
    for (let k = 0; k < outputs.length; k++)
      maxAbsError = Math.max(maxAbsError, Math.abs(outputs[k] - reference[k]));
    const ops = addOps(addOps(zeroOps(), stats.ops), stats.clientOps);
    const expected = expectedOps(pool.model, samples);
    const cost = costOfExecution(pool.model.exec, { samples, timings });
    const predicted = stats.predicted;
    const members = await pool.memberStats();
    const workerPeakBytes = members.map((m) => m.peakBytes);
    const summary: PoolInferenceSummary = {
      model: hepexModel.name,
      task: model.task,
      mode: model.mode,
      samples,
      latencyMs: stats.latencyMs,
      encryptMs: stats.encryptMs,
      inferMs: stats.inferMs,
      decryptMs: stats.decryptMs,
      setupMs: pool.setupMs,
      predictedMs: predicted.predictedMs,
      measuredOverPredicted: stats.latencyMs / predicted.predictedMs,
      timingSource: timings.find((t) => t.ringDegree === tile.ringDegree)?.source ?? 'none',
      // The largest worker's: each worker has its own heap, and that is the ceiling that binds.
      peakBytes: Math.max(...workerPeakBytes),
      keyBytes: cost.total.keyBytes,
      modelBytes: cost.total.modelBytes,
      weights: pool.weights,
      ops,
      expectedOps: expected,
      opsMatchPlan: OP_KINDS.every((k) => ops[k] === expected[k]),
      maxAbsError,
      agreement:
        model.task === 'classification' ? argmaxAgreement(outputs, reference, samples) : null,
      ...runParameters(pool.model, samples),
      layers: stats.layers.map((l, index) => ({
        layer: index,
        weightCiphertexts: cost.layers[index].activeWeightTiles,
        ops: cost.layers[index].ops,
        multiplications: cost.layers[index].multiplications,
        rotations: cost.layers[index].rotations,
        measuredMs: l.wallMs,
        predictedMs: predicted.layerMs[index],
      })),
      workers: workers.length,
      workerPeakBytes,
      sharedInputs: pool.sharedInputs,
      transferMsPerMiB: pool.transferMsPerMiB,
      pool: predicted,
      predictedSingleWorkerMs: predicted.singleWorkerMs,
    };
    return { summary, outputs };
  } finally {
    pool.delete();
  }
}
