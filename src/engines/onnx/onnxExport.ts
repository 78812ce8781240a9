import type { HepexModel } from '../../core/io/model';
import { tiedOrderOf } from '../../core/model/convOrders';
import { HepexError } from '../../core/model/errors';
import type { ConvGeometry } from '../../core/model/layers';
import { inputWidth, validateNetwork } from '../../core/model/network';
import {
  checkPermutation,
  identityPermutation,
  type NetworkPermutation,
} from '../../core/model/permutation';
import { tileShapeLabel } from '../../core/tiling/tileShape';
import { OnnxGraph } from './onnxExportGraph';
import { convFunctionNodes, convServerNodes, denseNodes, reorder } from './onnxExportLayers';

/**
 * ONNX export of a HepexModel in the two forms HE-PEx's own tool (IBM HElayers) writes:
 * - 'function': one model computing the function on raw data, [N, inputWidth] -> [N, outputs]:
 *   y_raw = unpermute_output(forward(network, permute_input(x_raw))). The client permutations
 *   are MatMul nodes by constant permutation matrices (input side, output side). For a
 *   conv-first network the input permutation acts on im2col patch columns, tied over positions,
 *   which no permutation of the raw image expresses; it is folded into the Conv kernel instead.
 * - 'server': the "no permutation" model the HE server runs, weights exactly in packing order:
 *   [N, firstLayerInputs] -> [N, outputs], inputs already permuted (for a conv-first network:
 *   im2col patches, then permuted), outputs still permuted; the client permutations travel
 *   separately (clientPermutationJson) so a client can permute and unpermute around it.
 * Only ops of HElayers' documented ONNX subset (ALLOWED_OPS), opset 13.
 */

export type OnnxForm = 'function' | 'server';

export const ONNX_FORMS: readonly OnnxForm[] = ['function', 'server'];

/** What a client needs around the server form, as JSON (canonical key order, versioned). */
export interface ClientPermutationFile {
  readonly format: 'hepex-client-permutation';
  readonly version: 1;
  readonly model: string;
  /** How to read `order`: y[k] = x[order[k]] before encryption; x[order[k]] = y[k] after. */
  readonly convention: string;
  readonly input: {
    /** 'features': the raw sample; 'im2col-patches': the client's patches (see convolution). */
    readonly of: 'features' | 'im2col-patches';
    readonly order: readonly number[];
  };
  readonly output: { readonly order: readonly number[] };
  /** Only for a conv-first network: how the client packs patches before permuting them. */
  readonly convolution?: ConvGeometry;
}

function permutationOf(model: HepexModel): NetworkPermutation {
  const { layers } = model.network;
  const inputs = layers[0].weights.cols;
  const outputs = layers[layers.length - 1].weights.rows;
  if (!model.permutation) {
    return { input: identityPermutation(inputs), output: identityPermutation(outputs) };
  }
  return {
    input: checkPermutation(model.permutation.input, inputs, 'The input permutation'),
    output: checkPermutation(model.permutation.output, outputs, 'The output permutation'),
  };
}

/** The client permutations of a model (identity when it has none), for the server form. */
export function clientPermutationFile(model: HepexModel): ClientPermutationFile {
  const { input, output } = permutationOf(model);
  const first = model.network.layers[0];
  return {
    format: 'hepex-client-permutation',
    version: 1,
    model: model.name,
    convention:
      'Before encryption the client sends y[k] = x[input.order[k]] (x: the sample, or its im2col patches); after decryption it recovers z[output.order[k]] = y[k].',
    input: { of: first.kind === 'conv' ? 'im2col-patches' : 'features', order: [...input] },
    output: { order: [...output] },
    ...(first.kind === 'conv' ? { convolution: first.geometry } : {}),
  };
}

function nonZeros(data: ArrayLike<number>): number {
  let n = 0;
  for (let k = 0; k < data.length; k++) if (data[k] !== 0) n++;
  return n;
}

/** metadata_props: what HE-PEx knows beyond the graph (tile, masks, permutations, provenance). */
function metadataOf(model: HepexModel, form: OnnxForm): Record<string, string> {
  const perm = clientPermutationFile(model);
  const masks = model.network.layers.map((l, i) => {
    const m = model.masks?.[i];
    return {
      layer: i + 1,
      kind: l.kind,
      rows: l.weights.rows,
      cols: l.weights.cols,
      kept: m ? nonZeros(m.data) : nonZeros(l.weights.data),
    };
  });
  const meta: Record<string, string> = {
    'hepex.format': 'hepex-onnx/1',
    'hepex.form': form,
    'hepex.name': model.name,
    'hepex.task': model.network.task,
    'hepex.masks': JSON.stringify({
      source: model.masks ? 'masks' : 'non-zero weights',
      layers: masks,
    }),
    'hepex.permutation': JSON.stringify({
      applied: form === 'function' ? 'in the graph' : 'by the client (not in the graph)',
      input: perm.input,
      output: perm.output,
    }),
  };
  if (model.tile) {
    meta['hepex.tile'] = JSON.stringify({
      label: tileShapeLabel(model.tile),
      t1: model.tile.t1,
      t2: model.tile.t2,
      first: model.tile.first,
      batch: model.tile.batch,
      ringDegree: model.tile.ringDegree,
    });
  }
  if (perm.convolution) meta['hepex.convolution'] = JSON.stringify(perm.convolution);
  if (model.metrics) meta['hepex.metrics'] = JSON.stringify(model.metrics);
  if (model.provenance) meta['hepex.provenance'] = JSON.stringify(model.provenance);
  return meta;
}

/**
 * The model as ONNX bytes (ModelProto) in the given form. Refuses, in words, a network that is
 * not valid or permutations that do not fit it; nothing else is produced on error.
 */
export function exportOnnx(model: HepexModel, form: OnnxForm): Uint8Array {
  if (!ONNX_FORMS.includes(form)) {
    throw new HepexError(
      'invalid-argument',
      `The ONNX form is "${String(form)}"; it must be one of ${ONNX_FORMS.join(', ')}.`,
    );
  }
  const network = validateNetwork(model.network);
  const perm = permutationOf(model);
  const { layers } = network;
  const last = layers[layers.length - 1];
  const outputs = last.weights.rows;
  const g = new OnnxGraph('input');
  let x = g.inputName;
  // Maps value j of the current tensor to the studio's row index it holds (after a Flatten).
  let rowOf: ((j: number) => number) | undefined;
  let start = 0;
  const first = layers[0];
  if (form === 'function') {
    if (first.kind === 'conv') {
      const patchOrder = tiedOrderOf(first.geometry, perm.input, 'inputs');
      ({ output: x, rowOf } = convFunctionNodes(g, x, first, patchOrder, 'layer1'));
      start = 1;
    } else {
      // x_packed[k] = x_raw[input[k]]
      x = reorder(g, x, first.weights.cols, (k) => perm.input[k], 'input_permutation');
    }
  } else if (first.kind === 'conv') {
    x = convServerNodes(g, x, first, 'layer1');
    start = 1;
  }
  for (let l = start; l < layers.length; l++) {
    const layer = layers[l];
    if (layer.kind === 'conv') {
      throw new HepexError(
        'invalid-network',
        `Layer ${l + 1} is a convolution; only the first layer may be one.`,
      );
    }
    x = denseNodes(g, x, layer, `layer${l + 1}`, rowOf);
    rowOf = undefined;
  }
  if (form === 'function') {
    // y_raw[output[k]] = y_packed[k]; a conv-only network also leaves its Flatten order.
    const inv = new Uint32Array(outputs);
    for (let k = 0; k < outputs; k++) inv[perm.output[k]] = k;
    const flatOf = new Uint32Array(outputs);
    for (let j = 0; j < outputs; j++) flatOf[rowOf ? rowOf(j) : j] = j;
    x = reorder(g, x, outputs, (d) => flatOf[inv[d]], 'output_permutation');
  }
  return g.encode({
    graphName: `${model.name || 'model'} (${form})`,
    inputWidth: form === 'function' ? inputWidth(network) : first.weights.cols,
    output: x,
    outputWidth: outputs,
    docString:
      form === 'function'
        ? 'HE-PEx model on raw inputs: the client permutations are in the graph.'
        : 'HE-PEx model as the HE server runs it: inputs and outputs in packing order; the client permutations are in metadata_props (hepex.permutation) and the .permutation.json file.',
    metadata: metadataOf(model, form),
  });
}
