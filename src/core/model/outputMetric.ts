import type { Task } from './network';

/**
 * Accuracy (argmax against the labels) of a classifier's outputs, or the reconstruction MSE
 * against the inputs for an autoencoder: how the studio judges decrypted outputs.
 * outputs: samples x out, inputs: samples x in, labels: samples.
 */
export function outputMetric(
  outputs: Float32Array,
  inputs: Float32Array,
  labels: Uint8Array,
  samples: number,
  task: Task,
): { name: 'accuracy' | 'mse'; value: number } {
  if (task === 'reconstruction') {
    let sq = 0;
    for (let k = 0; k < outputs.length; k++) sq += (outputs[k] - inputs[k]) ** 2;
    return { name: 'mse', value: sq / outputs.length };
  }
  const width = outputs.length / samples;
  let right = 0;
  for (let s = 0; s < samples; s++) {
    let best = 0;
    for (let k = 1; k < width; k++)
      if (outputs[s * width + k] > outputs[s * width + best]) best = k;
    if (best === labels[s]) right++;
  }
  return { name: 'accuracy', value: right / samples };
}
