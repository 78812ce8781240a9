import { describe, expect, it } from 'vitest';
import { HepexError } from '../../src/core/model/errors';
import { inputWidth } from '../../src/core/model/network';
import { readModelDir } from '../../src/engines/tfjs/modelDir';
import {
  clientPermutationFile,
  exportOnnx,
  type OnnxForm,
} from '../../src/engines/onnx/onnxExport';
import { ALLOWED_OPS, onnx, type OnnxNode } from '../../src/engines/onnx/onnxExportGraph';
import { permuteRows, unpermuteRows } from '../../src/core/model/permutation';
import { firstLayerInputs, forwardDenseView } from '../../src/core/model/network';
import type { HepexModel } from '../../src/core/io/model';
import { maxAbsDiff, randomInputs } from '../fixtures/networks';
import {
  autoencoder,
  mlp,
  prunedPermuted,
  runOnnx,
  smallCnn,
  type PermutedCase,
} from '../fixtures/onnxExportModels';

const SAMPLES = 64;

function nodesOf(bytes: Uint8Array): OnnxNode[] {
  return onnx.ModelProto.decode(bytes).graph?.node ?? [];
}

/** Only HElayers' subset, Gemm never transposes A, and the graph carries the HE-PEx metadata. */
function expectHelayersSubset(bytes: Uint8Array, form: OnnxForm): void {
  const model = onnx.ModelProto.decode(bytes);
  expect(model.opsetImport.map((o) => Number(o.version))).toEqual([13]);
  const nodes = nodesOf(bytes);
  const ops = nodes.map((n) => n.opType);
  for (const op of ops) expect(ALLOWED_OPS).toContain(op);
  for (const node of nodes.filter((n) => n.opType === 'Gemm')) {
    const transA = node.attribute?.find((a) => a.name === 'transA');
    expect(Number(transA?.i ?? 0)).toBe(0);
  }
  const meta = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
  expect(meta['hepex.form']).toBe(form);
  expect(JSON.parse(meta['hepex.permutation']!).input.order.length).toBeGreaterThan(0);
}

const cases: [string, () => PermutedCase][] = [
  ['MLP 48-32-10', () => prunedPermuted('mlp', mlp(3), 11)],
  ['CNN 9x9x2 conv 3x3/2 -> 64 -> 16 -> 10', () => prunedPermuted('cnn', smallCnn(4), 12)],
  ['conv-only 9x9x2 -> 64', () => prunedPermuted('conv', smallCnn(5, false), 13)],
  ['autoencoder 64-40-16-40-64', () => prunedPermuted('ae', autoencoder(6), 14)],
];

describe('ONNX export (onnxruntime-node)', () => {
  for (const [label, make] of cases) {
    it(`${label}: the function form computes the function on raw inputs`, async () => {
      const c = make();
      const { network, permutation } = c.model;
      const perm = permutation!;
      expect(perm.input.some((v, k) => v !== k)).toBe(true);
      expect(perm.output.some((v, k) => v !== k)).toBe(true);
      const bytes = exportOnnx(c.model, 'function');
      expectHelayersSubset(bytes, 'function');
      const ops = nodesOf(bytes).map((n) => n.opType);
      if (network.layers[0].kind === 'conv') {
        expect(ops).toContain('Conv');
        expect(ops).toContain('Flatten');
      } else {
        expect(ops[0]).toBe('MatMul'); // the input permutation
      }
      expect(ops[ops.length - 1]).toBe('MatMul'); // the output permutation
      const width = inputWidth(network);
      const x = randomInputs(SAMPLES, width, 21);
      const got = await runOnnx(bytes, x, SAMPLES);
      const want = c.raw(x, SAMPLES);
      expect(got.length).toBe(want.length);
      const diff = maxAbsDiff(got, want);
      console.log(`onnx function form, ${label}: max |diff| ${diff.toExponential(2)}`);
      expect(diff).toBeLessThanOrEqual(1e-5);
    });

    it(`${label}: the server form runs in packing order; client permutations around it give the function`, async () => {
      const c = make();
      const bytes = exportOnnx(c.model, 'server');
      expectHelayersSubset(bytes, 'server');
      const x = randomInputs(SAMPLES, inputWidth(c.model.network), 22);
      const sent = c.clientInputs(x, SAMPLES);
      const got = await runOnnx(bytes, sent, SAMPLES);
      const diff = maxAbsDiff(got, c.server(sent, SAMPLES));
      console.log(`onnx server form, ${label}: max |diff| ${diff.toExponential(2)}`);
      expect(diff).toBeLessThanOrEqual(1e-5);
      // A client that knows only the JSON file: patches (CNN), permute, run, unpermute.
      const file = JSON.parse(JSON.stringify(clientPermutationFile(c.model)));
      expect(file).toMatchObject({ format: 'hepex-client-permutation', version: 1 });
      const first = firstLayerInputs(c.model.network, x, SAMPLES);
      expect(file.input.of).toBe(
        c.model.network.layers[0].kind === 'conv' ? 'im2col-patches' : 'features',
      );
      const ours = await runOnnx(
        bytes,
        permuteRows(first, Uint32Array.from(file.input.order), SAMPLES),
        SAMPLES,
      );
      const raw = unpermuteRows(ours, Uint32Array.from(file.output.order), SAMPLES);
      expect(maxAbsDiff(raw, c.raw(x, SAMPLES))).toBeLessThanOrEqual(1e-5);
    });
  }

  for (const preset of ['mlp', 'cnn', 'ae']) {
    it(`exports the shipped HE-PEx ${preset} twin; both forms match our forward pass`, async () => {
      const model = await readModelDir(`public/models/${preset}/hepex`);
      expect(model.permutation).toBeDefined();
      const c = shippedCase(model);
      const x = randomInputs(SAMPLES, inputWidth(model.network), 23);
      const want = c.raw(x);
      const fn = await runOnnx(exportOnnx(model, 'function'), x, SAMPLES);
      const sent = c.clientInputs(x);
      const server = await runOnnx(exportOnnx(model, 'server'), sent, SAMPLES);
      // Float32 sums over hundreds of products against our float64 pass: relative to the
      // largest output (logits reach tens).
      const scale = Math.max(1, maxAbsDiff(want, new Float32Array(want.length)));
      const fnDiff = maxAbsDiff(fn, want);
      const serverDiff = maxAbsDiff(server, c.server(sent));
      console.log(
        `onnx shipped ${preset}/hepex: max |output| ${scale.toFixed(2)}, function ${fnDiff.toExponential(2)}, server ${serverDiff.toExponential(2)}`,
      );
      expect(fnDiff / scale).toBeLessThanOrEqual(1e-5);
      expect(serverDiff / scale).toBeLessThanOrEqual(1e-5);
    });
  }

  it('a model without client permutations: no permutation MatMul, both forms the same function', async () => {
    const network = mlp(8);
    const model = { name: 'plain', network };
    const fnBytes = exportOnnx(model, 'function');
    expect(nodesOf(fnBytes).map((n) => n.opType)).toEqual([
      'Gemm',
      'Mul',
      'Add',
      'Mul',
      'Add',
      'Gemm',
    ]);
    const x = randomInputs(SAMPLES, 48, 24);
    const want = forwardDenseView(network, x, SAMPLES);
    expect(maxAbsDiff(await runOnnx(fnBytes, x, SAMPLES), want)).toBeLessThanOrEqual(1e-5);
    expect(
      maxAbsDiff(await runOnnx(exportOnnx(model, 'server'), x, SAMPLES), want),
    ).toBeLessThanOrEqual(1e-5);
    const file = clientPermutationFile(model);
    expect(file.input.order).toEqual([...Array(48).keys()]);
  });

  it('refuses an unknown form and a permutation that does not fit, in words', () => {
    const c = prunedPermuted('mlp', mlp(3), 11);
    expect(() => exportOnnx(c.model, 'both' as OnnxForm)).toThrow(HepexError);
    const bad = {
      ...c.model,
      permutation: { input: new Uint32Array(3), output: c.model.permutation!.output },
    };
    expect(() => exportOnnx(bad, 'function')).toThrow(/input permutation is not a permutation/);
  });
});

/** The reference passes of a model as stored (packing order, client permutation beside it). */
function shippedCase(model: HepexModel) {
  const batch = SAMPLES;
  const { input, output } = model.permutation!;
  return {
    raw: (x: Float32Array) =>
      unpermuteRows(
        forwardDenseView(
          model.network,
          permuteRows(firstLayerInputs(model.network, x, batch), input, batch),
          batch,
        ),
        output,
        batch,
      ),
    clientInputs: (x: Float32Array) =>
      permuteRows(firstLayerInputs(model.network, x, batch), input, batch),
    server: (x: Float32Array) => forwardDenseView(model.network, x, batch),
  };
}
