import { costOfExecution, type OpTimingTable } from '../../core/costModel';
import { OP_KINDS, addOps, zeroOps, type OpCounts } from '../../core/executionPlan';
import { expectedOps, referenceOutputs } from '../../core/heModel';
import type { Network } from '../../core/network';
import type { SealHeSession, SessionOptions } from './heSession';

export interface HeInferenceReport {
  readonly samples: number;
  /** Encrypt + server inference + decrypt, ms. */
  readonly latencyMs: number;
  readonly encryptMs: number;
  readonly inferMs: number;
  readonly decryptMs: number;
  /** Cost-model prediction for the same plan and sample count (given timings, else reference). */
  readonly predictedMs: number;
  /** Largest bytes of live SEAL objects (keys, model, inputs, intermediates, outputs). */
  readonly peakBytes: number;
  /** Every operation performed, client and server. */
  readonly ops: OpCounts;
  /** What the cost model counts for the same plan. */
  readonly expectedOps: OpCounts;
  readonly opsMatchPlan: boolean;
  /** max |decrypted - plaintext forward pass| over all outputs. */
  readonly maxAbsError: number;
  /** Classifiers: fraction of samples whose decrypted argmax equals the plaintext one. */
  readonly agreement: number | null;
  readonly outputs: Float32Array;
  readonly reference: Float32Array;
}

/** argmax agreement of two samples x width score matrices. */
export function argmaxAgreement(a: Float32Array, b: Float32Array, samples: number): number {
  const width = a.length / samples;
  let same = 0;
  for (let s = 0; s < samples; s++) {
    let ia = 0;
    let ib = 0;
    for (let k = 1; k < width; k++) {
      if (a[s * width + k] > a[s * width + ia]) ia = k;
      if (b[s * width + k] > b[s * width + ib]) ib = k;
    }
    if (ia === ib) same++;
  }
  return same / samples;
}

/**
 * Client + server round trip on one session: encrypt, infer, decrypt; compares with the
 * plaintext forward pass of `network` (the model before HE preparation) and with the cost
 * model's operation counts. All ciphertexts are freed before returning.
 */
export async function runHeInference(
  session: SealHeSession,
  network: Network,
  inputs: Float32Array,
  samples: number,
  options: SessionOptions & { timings?: readonly OpTimingTable[] } = {},
): Promise<HeInferenceReport> {
  const { model } = session;
  const reference = referenceOutputs(model, network, inputs, samples);
  const clientOps = zeroOps();
  session.resetPeak();
  const t0 = performance.now();
  const batch = session.encrypt(inputs, samples, clientOps);
  const t1 = performance.now();
  let outputs: Float32Array;
  let serverOps: OpCounts;
  let t2: number;
  try {
    const { result, stats } = await session.infer(batch, options);
    serverOps = stats.ops;
    t2 = performance.now();
    try {
      outputs = session.decrypt(result, clientOps);
    } finally {
      session.free(result);
    }
  } finally {
    session.free(batch);
  }
  const t3 = performance.now();
  const ops = addOps(addOps(zeroOps(), serverOps), clientOps);
  const expected = expectedOps(model, samples);
  let maxAbsError = 0;
  for (let k = 0; k < outputs.length; k++)
    maxAbsError = Math.max(maxAbsError, Math.abs(outputs[k] - reference[k]));
  return {
    samples,
    latencyMs: t3 - t0,
    encryptMs: t1 - t0,
    inferMs: t2 - t1,
    decryptMs: t3 - t2,
    predictedMs: costOfExecution(model.exec, { samples, timings: options.timings }).total
      .predictedMs,
    peakBytes: session.peakBytes,
    ops,
    expectedOps: expected,
    opsMatchPlan: OP_KINDS.every((k) => ops[k] === expected[k]),
    maxAbsError,
    agreement:
      model.task === 'classification' ? argmaxAgreement(outputs, reference, samples) : null,
    outputs,
    reference,
  };
}
