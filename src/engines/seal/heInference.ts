import { REFERENCE_TIMINGS, costOfExecution, type OpTimingTable } from '../../core/he/costModel';
import {
  OP_KINDS,
  addOps,
  zeroOps,
  type HeMode,
  type OpCounts,
} from '../../core/tiling/executionPlan';
import {
  chooseHeTile,
  expectedOps,
  heDepth,
  prepareHeModel,
  referenceOutputs,
  type HeModel,
} from '../../core/he/heModel';
import { HepexError } from '../../core/model/errors';
import {
  DEFAULT_TILE_SIDES,
  type RingDegree,
  type TileShape,
  type TileSides,
} from '../../core/tiling/tileShape';
import type { HepexModel } from '../../core/io/model';
import type { Network } from '../../core/model/network';
import { calibrate } from './calibrate';
import { SealHeSession, type InferStats, type SessionOptions } from './heSession';
import type { Seal } from './loadSeal';

export interface HeInferenceReport {
  readonly samples: number;
  /** Encrypt + server inference + decrypt, ms. */
  readonly latencyMs: number;
  readonly encryptMs: number;
  readonly inferMs: number;
  readonly decryptMs: number;
  /**
   * Cost-model prediction for the same plan and sample count (given timings, else reference),
   * with a streamed session's weight encodes (and public-key encryptions) priced per layer.
   */
  readonly predictedMs: number;
  /** Largest bytes of live SEAL objects (keys, model, inputs, intermediates, outputs). */
  readonly peakBytes: number;
  /** Every operation performed, client and server. */
  readonly ops: OpCounts;
  /** What the cost model counts for the same plan. */
  readonly expectedOps: OpCounts;
  readonly opsMatchPlan: boolean;
  /** Weight encodes/encryptions during inference (streamed weights only; not in the plan). */
  readonly modelOps: OpCounts;
  /** max |decrypted - plaintext forward pass| over all outputs. */
  readonly maxAbsError: number;
  /** Classifiers: fraction of samples whose decrypted argmax equals the plaintext one. */
  readonly agreement: number | null;
  readonly outputs: Float32Array;
  readonly reference: Float32Array;
  /** Server inference per layer: measured next to predicted (client encrypt/decrypt not in it). */
  readonly layers: readonly HeLayerReport[];
}

/** One layer of an encrypted run: what it did and took, measured, next to the cost model. */
export interface HeLayerReport {
  /** 0-based layer index. */
  readonly layer: number;
  /** Weight ciphertexts (plaintexts in plain-model mode) the layer multiplies: non-zero, live. */
  readonly weightCiphertexts: number;
  /** Operations performed in this layer, all chunks (equal to the plan's when opsMatchPlan). */
  readonly ops: OpCounts;
  /** Plain, ciphertext and mask multiplications, as the cost model counts them. */
  readonly multiplications: number;
  readonly rotations: number;
  /** Wall time of the layer, ms, summed over chunks. */
  readonly measuredMs: number;
  /** Cost model: this layer's ops charged at the levels they run, same timings as predictedMs. */
  readonly predictedMs: number;
  /**
   * Of predictedMs, the streamed weights' encodes (and public-key encryptions) in this layer;
   * 0 when the weights are resident (absent from a pool run's layers).
   */
  readonly predictedStreamingMs?: number;
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
  let modelOps: OpCounts;
  let layerStats: InferStats['layers'];
  let t2: number;
  try {
    const { result, stats } = await session.infer(batch, options);
    serverOps = stats.ops;
    modelOps = stats.modelOps;
    layerStats = stats.layers;
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
  // Streamed weights are encoded (and encrypted) during the run: priced per layer as well.
  const cost = costOfExecution(model.exec, {
    samples,
    timings: options.timings,
    weights: session.info.weights,
  });
  const layers: HeLayerReport[] = layerStats.map((measured, l) => ({
    layer: l,
    weightCiphertexts: cost.layers[l].activeWeightTiles,
    ops: measured.ops,
    multiplications: measured.ops.multiplyPlain + measured.ops.multiply + measured.ops.maskMultiply,
    rotations: measured.ops.rotate,
    measuredMs: measured.ms,
    predictedMs: cost.layers[l].predictedMs,
    predictedStreamingMs: cost.layers[l].streamedMs,
  }));
  let maxAbsError = 0;
  for (let k = 0; k < outputs.length; k++)
    maxAbsError = Math.max(maxAbsError, Math.abs(outputs[k] - reference[k]));
  return {
    samples,
    latencyMs: t3 - t0,
    encryptMs: t1 - t0,
    inferMs: t2 - t1,
    decryptMs: t3 - t2,
    predictedMs: cost.total.predictedMs,
    peakBytes: session.peakBytes,
    ops,
    expectedOps: expected,
    opsMatchPlan: OP_KINDS.every((k) => ops[k] === expected[k]),
    modelOps,
    maxAbsError,
    agreement:
      model.task === 'classification' ? argmaxAgreement(outputs, reference, samples) : null,
    outputs,
    reference,
    layers,
  };
}

export interface EncryptedInferenceOptions extends SessionOptions {
  readonly mode?: HeMode;
  /** Tile sides; default the model's own tile (what it was pruned for), else DEFAULT_TILE_SIDES. */
  readonly tile?: TileSides;
  /**
   * The least ring degree to use (--ring-degree); default the smallest that carries the depth.
   * One too small for the depth is refused in words, not raised silently.
   */
  readonly ringDegree?: RingDegree;
  /** 'calibrated' (default): time the primitives here first; 'reference': the reference tables. */
  readonly timings?: 'calibrated' | 'reference';
  /** Timing tables measured earlier (the studio's, calibrated in this browser): used as given. */
  readonly timingTables?: readonly OpTimingTable[];
  /** Status lines for people. */
  readonly log?: (message: string) => void;
}

/** Everything `hepex infer --he --json` prints (no big arrays). */
export interface EncryptedInferenceSummary {
  readonly model: string;
  readonly task: Network['task'];
  readonly mode: HeMode;
  readonly samples: number;
  readonly latencyMs: number;
  readonly encryptMs: number;
  readonly inferMs: number;
  readonly decryptMs: number;
  readonly setupMs: number;
  readonly predictedMs: number;
  readonly measuredOverPredicted: number;
  readonly timingSource: string;
  readonly peakBytes: number;
  readonly keyBytes: number;
  readonly modelBytes: number;
  /** Weights encoded once at set-up, or per use (models too big to hold encoded). */
  readonly weights: 'resident' | 'streamed';
  readonly ops: OpCounts;
  readonly expectedOps: OpCounts;
  readonly opsMatchPlan: boolean;
  readonly maxAbsError: number;
  readonly agreement: number | null;
  readonly parameters: {
    readonly ringDegree: number;
    readonly coeffModulusBits: readonly number[];
    readonly scaleBits: number;
    readonly depth: number;
    readonly securityBits: 128;
    readonly tile: { readonly t1: number; readonly t2: number; readonly batch: number };
    readonly rotationSteps: readonly number[];
  };
  readonly ciphertexts: {
    /** Weight tiles of the dense network in this tiling. */
    readonly weightTiles: number;
    /** Weight tiles stored and multiplied (non-zero, live). */
    readonly weight: number;
    readonly input: number;
    readonly output: number;
  };
  /** Server inference per layer, measured ms next to the cost model's (no ciphertexts). */
  readonly layers: readonly HeLayerReport[];
}

/**
 * What every encrypted run starts with: the tile (the model's own, placed at the smallest ring
 * degree that carries its depth, or the one asked for: refused in words when too small), the
 * prepared HE model, and the timing tables (calibrated here unless 'reference').
 */
export async function prepareEncryptedRun(
  seal: Seal,
  hepexModel: HepexModel,
  options: EncryptedInferenceOptions = {},
): Promise<{ model: HeModel; tile: TileShape; timings: readonly OpTimingTable[] }> {
  const { network } = hepexModel;
  const sides = options.tile ?? hepexModel.tile ?? DEFAULT_TILE_SIDES;
  const tile = chooseHeTile(network, sides, options.ringDegree);
  if (options.ringDegree !== undefined && tile.ringDegree !== options.ringDegree) {
    throw new HepexError(
      'he-parameters',
      `Ring degree ${options.ringDegree} cannot carry this model's ${heDepth(network, sides)} levels at 128-bit security; use ${tile.ringDegree} or leave --ring-degree out.`,
    );
  }
  const model = prepareHeModel(network, tile, {
    mode: options.mode,
    permutation: hepexModel.permutation,
  });
  const log = options.log ?? (() => {});
  let timings: readonly OpTimingTable[] = options.timingTables ?? REFERENCE_TIMINGS;
  if (!options.timingTables && (options.timings ?? 'calibrated') === 'calibrated') {
    log(`calibrating SEAL primitives at N=${tile.ringDegree}, ${model.params.depth + 1} primes...`);
    timings = [
      await calibrate(seal, tile.ringDegree, { depth: model.params.depth, signal: options.signal }),
    ];
  }
  return { model, tile, timings };
}

/** The parameters and ciphertext counts every summary reports. */
export function runParameters(model: HeModel, samples: number) {
  const { params, tile, exec } = model;
  return {
    parameters: {
      ringDegree: params.ringDegree,
      coeffModulusBits: params.coeffModulusBits,
      scaleBits: params.scaleBits,
      depth: exec.depth,
      securityBits: 128 as const,
      tile: { t1: tile.t1, t2: tile.t2, batch: tile.batch },
      rotationSteps: exec.rotationSteps,
    },
    ciphertexts: {
      weightTiles: exec.plan.weightTiles,
      weight: exec.weightCiphertexts,
      input: exec.inputCiphertexts * Math.ceil(samples / tile.batch),
      output: exec.outputCiphertexts * Math.ceil(samples / tile.batch),
    },
  };
}

/**
 * Prepares a HepexModel for HE (smallest ring degree that carries its depth), optionally
 * calibrates, builds a session, runs one encrypted round trip and deletes everything.
 */
export async function inferEncrypted(
  seal: Seal,
  hepexModel: HepexModel,
  inputs: Float32Array,
  samples: number,
  options: EncryptedInferenceOptions = {},
): Promise<{ summary: EncryptedInferenceSummary; report: HeInferenceReport }> {
  const { network } = hepexModel;
  const { model, tile, timings } = await prepareEncryptedRun(seal, hepexModel, options);
  const log = options.log ?? (() => {});
  log(
    `keys and model encoding (N=${tile.ringDegree}, depth ${model.exec.depth}, ${model.exec.weightCiphertexts} weight tiles)...`,
  );
  const session = await SealHeSession.create(seal, model, options);
  try {
    log(`encrypted inference of ${samples} samples...`);
    const report = await runHeInference(session, network, inputs, samples, { ...options, timings });
    const info = session.info;
    const summary: EncryptedInferenceSummary = {
      model: hepexModel.name,
      task: model.task,
      mode: model.mode,
      samples,
      latencyMs: report.latencyMs,
      encryptMs: report.encryptMs,
      inferMs: report.inferMs,
      decryptMs: report.decryptMs,
      setupMs: info.setupMs,
      predictedMs: report.predictedMs,
      measuredOverPredicted: report.latencyMs / report.predictedMs,
      timingSource: timings.find((t) => t.ringDegree === tile.ringDegree)?.source ?? 'none',
      peakBytes: report.peakBytes,
      keyBytes: info.keyBytes,
      modelBytes: info.modelBytes,
      weights: info.weights,
      ops: report.ops,
      expectedOps: report.expectedOps,
      opsMatchPlan: report.opsMatchPlan,
      maxAbsError: report.maxAbsError,
      agreement: report.agreement,
      ...runParameters(model, samples),
      layers: report.layers,
    };
    return { summary, report };
  } finally {
    session.delete();
  }
}
