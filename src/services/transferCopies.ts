import type { Mask } from '../core/model/matrix';
import type { Network, SourceNetwork } from '../core/model/network';
import type { NetworkPermutation } from '../core/model/permutation';

/**
 * Copies of arrays the UI still shows, with their buffers, so transferring them to a worker
 * (free, no structured clone) does not empty the store's own arrays.
 */
export function copyNetwork(network: Network): { network: Network; buffers: ArrayBuffer[] };
export function copyNetwork(network: SourceNetwork): {
  network: SourceNetwork;
  buffers: ArrayBuffer[];
};
export function copyNetwork(network: SourceNetwork): {
  network: SourceNetwork;
  buffers: ArrayBuffer[];
} {
  const buffers: ArrayBuffer[] = [];
  const layers = network.layers.map((layer) => {
    const data = Float32Array.from(layer.weights.data);
    const bias = Float32Array.from(layer.bias);
    buffers.push(data.buffer, bias.buffer);
    return {
      ...layer,
      weights: { rows: layer.weights.rows, cols: layer.weights.cols, data },
      bias,
    };
  });
  return { network: { task: network.task, layers }, buffers };
}

export function copyMasks(masks: readonly Mask[]): { masks: Mask[]; buffers: ArrayBuffer[] } {
  const copies = masks.map((m) => ({ rows: m.rows, cols: m.cols, data: Uint8Array.from(m.data) }));
  return { masks: copies, buffers: copies.map((m) => m.data.buffer) };
}

export function copyPermutation(permutation: NetworkPermutation): {
  permutation: NetworkPermutation;
  buffers: ArrayBuffer[];
} {
  const input = Uint32Array.from(permutation.input);
  const output = Uint32Array.from(permutation.output);
  return { permutation: { input, output }, buffers: [input.buffer, output.buffer] };
}
