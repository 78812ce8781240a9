// Rewrites the shipped models (public/models/<preset> and <preset>/hepex, as index.json lists
// them) in the current file format without retraining: each directory is read with readModelDir
// and written back with writeModelDir, so the HepexModel (packing-order weights, masks,
// permutation, tile) stays the same and only the file layout follows the writer (weights in data
// order, schema version). A model whose provenance says it was trained on the built-in MNIST
// (scripts/build-models.sh makes them so) gets that data's identity recorded (dataIdentity.ts)
// if it has none. Checks every model reads back identical before moving on.
// Usage: scripts/node node_modules/tsx/dist/cli.mjs scripts/rewrite-models.ts [ROOT]
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dataProvenance } from '../src/core/io/dataIdentity';
import type { HepexModel } from '../src/core/io/model';
import { MNIST_NAME } from '../src/core/io/mnist';
import { mnistIdentity } from '../src/engines/tfjs/mnistNode';
import { readModelDir, writeModelDir } from '../src/engines/tfjs/modelDir';

const root = process.argv[2] ?? 'public/models';
const index = JSON.parse(await readFile(join(root, 'index.json'), 'utf8')) as {
  presets: Record<string, { dense: string; twin: string }>;
};

/** Same weights, biases, masks and permutation, bit for bit. */
function same(a: HepexModel, b: HepexModel): boolean {
  const eq = (x: ArrayLike<number> | undefined, y: ArrayLike<number> | undefined): boolean =>
    x === y ||
    (x !== undefined &&
      y !== undefined &&
      x.length === y.length &&
      Array.from(x).every((v, k) => Object.is(v, y[k])));
  return (
    a.network.layers.every(
      (l, i) =>
        eq(l.weights.data, b.network.layers[i].weights.data) &&
        eq(l.bias, b.network.layers[i].bias) &&
        eq(a.masks?.[i].data, b.masks?.[i].data),
    ) &&
    eq(a.permutation?.input, b.permutation?.input) &&
    eq(a.permutation?.output, b.permutation?.output) &&
    JSON.stringify(a.tile) === JSON.stringify(b.tile)
  );
}

const mnist = dataProvenance({ data: await mnistIdentity() });
for (const preset of Object.values(index.presets)) {
  for (const sub of [preset.dense, preset.twin]) {
    const dir = join(root, sub);
    const model = await readModelDir(dir);
    const label = model.provenance?.data;
    const onMnist =
      typeof label === 'string' && label.startsWith(MNIST_NAME) && !model.provenance?.dataHash;
    const rewritten: HepexModel = onMnist
      ? { ...model, provenance: { ...model.provenance, ...mnist } }
      : model;
    await writeModelDir(dir, rewritten);
    if (!same(await readModelDir(dir), model))
      throw new Error(`${dir}: the rewritten model does not read back identical.`);
    console.log(
      `${dir}: rewritten${onMnist ? ` (data: ${mnist.dataName}, ${mnist.dataHash})` : ''}`,
    );
  }
}
