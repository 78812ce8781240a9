import { costOfExecution } from '../../core/he/costModel';
import type { HeModel } from '../../core/he/heModel';
import { HepexError } from '../../core/model/errors';
import type { OpCounts } from '../../core/tiling/executionPlan';
import type { Seal } from './loadSeal';

type Ciphertext = InstanceType<Seal['Ciphertext']>;

/** Encrypted inputs or outputs: per batch chunk, per tile block (null: not encrypted / constant). */
export interface CipherBatch {
  readonly samples: number;
  readonly chunks: readonly (readonly (Ciphertext | null)[])[];
}

/** Serialized form of a CipherBatch (SEAL's own format, zstd-compressed). */
export interface SerializedBatch {
  readonly samples: number;
  readonly chunks: readonly (readonly (Uint8Array | null)[])[];
}

/** WASM32 caps a worker at 4 GiB; stay well below (Node hangs past it rather than failing). */
export const DEFAULT_MEMORY_BUDGET = 2.5 * 2 ** 30;

export interface SessionOptions {
  /**
   * 'resident': every weight tile encoded once at set-up (fastest inference); 'streamed': each
   * weight tile encoded right before its product and freed after (for models whose encoded
   * weights do not fit the budget). Default: resident when it fits.
   */
  readonly weights?: 'resident' | 'streamed';
  /** Refuse a session whose predicted peak exceeds this many bytes. */
  readonly memoryBudgetBytes?: number;
  readonly signal?: AbortSignal;
  /** fraction in [0, 1] and a short description. */
  readonly onProgress?: (fraction: number, message: string) => void;
}

export interface InferStats {
  readonly ms: number;
  /** Server operations of this inference (the interpreter's counts). */
  readonly ops: OpCounts;
  /** Weight encodes (and encryptions) done during inference when weights are streamed. */
  readonly modelOps: OpCounts;
  /** Largest bytes of live SEAL objects during the inference (keys and model included). */
  readonly peakBytes: number;
  /**
   * Per layer of the plan, summed over chunks: wall time (ms, from the layer's first operation
   * to its inputs freed, on-the-fly weight encodes and cancel-check yields included) and the
   * operations the interpreter counted in it.
   */
  readonly layers: readonly LayerStats[];
}

export interface LayerStats {
  readonly ms: number;
  readonly ops: OpCounts;
}

export interface SessionInfo {
  readonly ringDegree: number;
  readonly coeffModulusBits: readonly number[];
  readonly scaleBits: number;
  readonly depth: number;
  readonly mode: HeModel['mode'];
  readonly tile: { t1: number; t2: number; batch: number };
  readonly rotationSteps: readonly number[];
  /** Galois keys SEAL holds: one per plan step (not the full power-of-two set). */
  readonly galoisKeys: number;
  readonly weightCiphertexts: number;
  readonly weights: 'resident' | 'streamed';
  readonly keyBytes: number;
  readonly modelBytes: number;
  /** Model encoding/encryption and key generation, ms. */
  readonly setupMs: number;
  /** Encodes (and encryptions, encrypted-model mode) of the model operands. */
  readonly setupOps: OpCounts;
}

/** Resident or streamed weights for a model, or an out-of-memory error with the numbers. */
export function chooseWeightStorage(
  model: HeModel,
  options: SessionOptions = {},
): 'resident' | 'streamed' {
  const budget = options.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET;
  const total = costOfExecution(model.exec).total;
  const resident = total.peakBytes;
  const streamed =
    total.keyBytes + total.inputBytes + total.workingSetBytes + total.streamedModelBytes;
  const choice = options.weights ?? (resident <= budget ? 'resident' : 'streamed');
  const need = choice === 'resident' ? resident : streamed;
  if (need > budget) {
    const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
    throw new HepexError(
      'out-of-memory',
      `This model needs about ${gib(need)} of encryption memory with ${choice} weights (ring degree ${model.params.ringDegree}, ${model.exec.weightCiphertexts} weight tiles), above the ${gib(budget)} budget. Prune more tiles, use a smaller tile or a shallower network.`,
    );
  }
  return choice;
}
