import type { Mask } from '../model/matrix';
import { validateNetwork, type Network, type SourceNetwork } from '../model/network';
import type { NetworkPermutation } from '../model/permutation';
import type { TileShape } from '../tiling/tileShape';

/**
 * A network with what HE-PEx knows about it: the weights exactly as the server runs them
 * (hidden permutations folded in, pruned weights exactly 0), the keep-masks fine-tuning must
 * hold, the client-side permutations, the tile shape it was pruned for, and its metrics.
 * This is what model files (TF.js + userDefinedMetadata.hepex) carry.
 */
export interface HepexModel {
  readonly name: string;
  readonly network: Network;
  /** masks[l] has layer l's weight shape. Absent: dense. */
  readonly masks?: readonly Mask[];
  readonly permutation?: NetworkPermutation;
  readonly tile?: TileShape;
  /** e.g. { accuracy: 0.962 } or { mse: 0.011, meanImageMse: 0.067 }. */
  readonly metrics?: Readonly<Record<string, number>>;
  /** How it was made (method, sparsity, theta, seed...), free-form but JSON. */
  readonly provenance?: Readonly<Record<string, string | number | boolean>>;
}

/**
 * A model as imported before conversion (ONNX, or a TF.js file with ReLU, sigmoid or tanh): its
 * network may hold activations CKKS cannot evaluate. `convert` (src/engines/tfjs) turns it into
 * a HepexModel; validateNetwork(model.network) says whether it already is one.
 */
export interface SourceModel {
  readonly name: string;
  readonly network: SourceNetwork;
  readonly metrics?: Readonly<Record<string, number>>;
  readonly provenance?: Readonly<Record<string, string | number | boolean>>;
  /** What the importer changed or dropped, in words (e.g. "the output Softmax was dropped"). */
  readonly notes?: readonly string[];
}

/**
 * A SourceModel whose activations are all polynomials, as a HepexModel (no masks, no
 * permutation yet). Throws needs-conversion, naming the layers, when one is ReLU, sigmoid or tanh.
 */
export function heReadyModel(source: SourceModel): HepexModel {
  const network = validateNetwork(source.network);
  return {
    name: source.name,
    network,
    ...(source.metrics ? { metrics: source.metrics } : {}),
    ...(source.provenance ? { provenance: source.provenance } : {}),
  };
}
