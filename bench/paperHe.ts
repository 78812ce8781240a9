import type { OpTimingTable } from '../src/core/he/costModel';
import { prepareHeModel, type HeModel } from '../src/core/he/heModel';
import type { Network } from '../src/core/model/network';
import type { NetworkPermutation } from '../src/core/model/permutation';
import { placeTile, type RingDegree, type TileSides } from '../src/core/tiling/tileShape';
import { runHeInference } from '../src/engines/seal/heInference';
import { SealHeSession } from '../src/engines/seal/heSession';
import { loadSeal } from '../src/engines/seal/loadSeal';
import type { MeasuredHe } from './paperTable';
import { runInThread } from './threadJob';

/**
 * Encrypted runs of bench paper, each in a worker thread of its own: node-seal's WASM heap never
 * shrinks and stops at 4 GiB, where Node spins instead of failing; rows
 * run one after another in one heap fragmented it past that in trials (an MLP's resident
 * session, then an autoencoder streamed at N = 32768). A worker's heap goes when it ends.
 */

/** Everything a worker needs: plain data (structured clone), no SEAL objects. */
export interface HeJob {
  readonly network: Network;
  readonly permutation?: NetworkPermutation;
  /** Tile sides, placed on ring degree `ringDegree`. */
  readonly tile: TileSides;
  readonly ringDegree: RingDegree;
  readonly weights: 'resident' | 'streamed';
  /** samples x inputs, row-major. */
  readonly inputs: Float32Array;
  readonly samples: number;
  readonly timings: readonly OpTimingTable[];
}

/** The HE model of a network at tile sides and a ring degree (what the engine would build). */
export function heModelOf(
  network: Network,
  permutation: NetworkPermutation | undefined,
  tile: TileSides,
  ringDegree: RingDegree,
): HeModel {
  return prepareHeModel(network, placeTile(tile, { ringDegree }), { permutation });
}

/** One encrypted round trip on real SEAL in this thread (the engine's report); all deleted after. */
export async function runHeJob(job: HeJob): Promise<MeasuredHe> {
  const { seal } = await loadSeal();
  const he = heModelOf(job.network, job.permutation, job.tile, job.ringDegree);
  const session = await SealHeSession.create(seal, he, { weights: job.weights });
  try {
    const report = await runHeInference(session, job.network, job.inputs, job.samples, {
      timings: job.timings,
    });
    return {
      samples: job.samples,
      ringDegree: job.ringDegree,
      latencyMs: Number(report.latencyMs.toPrecision(4)),
      predictedMs: Number(report.predictedMs.toPrecision(4)),
      peakBytes: report.peakBytes,
      weights: session.info.weights,
      agreement: report.agreement,
      maxAbsError: Number(report.maxAbsError.toPrecision(3)),
      opsMatchPlan: report.opsMatchPlan,
    };
  } finally {
    session.delete();
  }
}

/**
 * Runs `job` in a fresh worker (bench/paperHeWorker.ts) and ends the worker. A run that takes
 * longer than `timeoutMs` (a heap past 4 GiB spins rather than fails) is stopped and rejected.
 */
export function measureInWorker(job: HeJob, timeoutMs: number): Promise<MeasuredHe> {
  return runInThread(new URL('./paperHeWorker.ts', import.meta.url), job, {
    timeoutMs,
    what: 'SEAL worker',
  });
}
