// What a user without the studio sees: loads a model directory (model.json + weights.bin) with
// plain tfjs (stock layers only, nothing registered, no hepex code between the file and tfjs)
// and scores it on raw pixels in [0, 1] of the built-in MNIST test split the model was trained
// on (its provenance seed): accuracy for a classifier, reconstruction MSE (clean inputs) for an
// autoencoder. Usage: scripts/node node_modules/tsx/dist/cli.mjs scripts/plain-tfjs-eval.ts DIR...
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { imagesToFloat } from '../src/core/io/dataset';
import { loadMnistSplit } from '../src/engines/tfjs/mnistNode';

interface ModelJson {
  modelTopology: object;
  weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
  userDefinedMetadata?: { hepex?: { provenance?: Record<string, unknown> } };
}

async function evaluate(dir: string): Promise<Record<string, unknown>> {
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as ModelJson;
  const bytes = await readFile(join(dir, 'weights.bin'));
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    }),
  );
  const provenance = json.userDefinedMetadata?.hepex?.provenance ?? {};
  const seed = provenance.splitSeed ?? provenance.seed;
  const { test } = await loadMnistSplit(typeof seed === 'number' ? seed : 1);
  const pixels = test.rows * test.cols;
  const x = tf.tensor2d(imagesToFloat(test), [test.count, pixels]);
  const y = model.predict(x) as tf.Tensor2D;
  const out = (await y.data()) as Float32Array;
  const width = y.shape[1];
  let result: Record<string, number>;
  if (width === pixels) {
    const inputs = imagesToFloat(test);
    let acc = 0;
    for (let i = 0; i < out.length; i++) acc += (out[i] - inputs[i]) ** 2;
    result = { mse: acc / out.length };
  } else {
    let correct = 0;
    for (let s = 0; s < test.count; s++) {
      let best = 0;
      for (let c = 1; c < width; c++) if (out[s * width + c] > out[s * width + best]) best = c;
      if (best === test.labels[s]) correct++;
    }
    result = { accuracy: correct / test.count };
  }
  tf.dispose([x, y]);
  model.dispose();
  return { model: dir, data: test.name, samples: test.count, ...result };
}

const dirs = process.argv.slice(2);
if (!dirs.length) {
  console.error('usage: plain-tfjs-eval.ts DIR...');
  process.exit(2);
}
await tf.setBackend('cpu');
for (const dir of dirs) console.log(JSON.stringify(await evaluate(dir)));
