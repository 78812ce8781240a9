import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hepex } from '../fixtures/cli';
import { forward, validateNetwork } from '../../src/core/model/network';
import { onnx } from '../../src/engines/onnx/onnxDecode';
import { sourceModelFromOnnx } from '../../src/engines/onnx/onnxImport';
import { readHeModel, readSourceModel } from '../../src/cli/readModel';
import { maxAbsDiff } from '../fixtures/networks';
import {
  DIR,
  bytesOf,
  edited,
  expectedOf,
  floatsOf,
  importError,
  initializer,
  inputsOf,
  int64Tensor,
  node,
} from '../fixtures/onnxFixtures';

/**
 * ONNX import against fixtures made by PyTorch's own exporter (scripts/onnx-fixtures): every
 * fixture imports, and the plaintext forward pass reproduces what torch computed on the same
 * four inputs (onnxImportErrors.test.ts has the files it refuses); the CLI reads .onnx paths.
 */

const argmaxRows = (v: ArrayLike<number>, width: number): number[] =>
  Array.from({ length: v.length / width }, (_, r) => {
    let best = 0;
    for (let c = 1; c < width; c++) if (v[r * width + c] > v[r * width + best]) best = c;
    return best;
  });

describe('ONNX import of PyTorch-exported models', () => {
  it.each([
    ['mlp_relu', 'classification', ['relu', 'linear']],
    ['mlp_sigmoid_tanh', 'classification', ['sigmoid', 'tanh', 'linear']],
    ['mlp_square', 'classification', ['square', 'square', 'poly', 'linear']],
    ['mlp_softmax', 'classification', ['tanh', 'linear']],
    ['cnn_relu', 'classification', ['relu', 'linear']],
    ['mlp_matmul', 'classification', ['square', 'linear']],
    ['autoencoder_square', 'reconstruction', ['square', 'linear']],
    ['mlp_batchnorm', 'classification', ['relu', 'linear']],
  ])('%s computes what torch computed', (name, task, activations) => {
    const model = sourceModelFromOnnx(bytesOf(name), name);
    expect(model.name).toBe(name);
    expect(model.network.task).toBe(task);
    expect(model.network.layers.map((l) => l.activation.type)).toEqual(activations);
    expect(model.provenance).toMatchObject({ source: 'onnx', opset: 13 });
    const e = expectedOf(name);
    const y = forward(model.network, inputsOf(e), e.inputShape[0]);
    expect(maxAbsDiff(y, e.logits ?? e.outputs)).toBeLessThanOrEqual(1e-4);
  });

  it.each(['mlp_square', 'cnn_relu'])(
    '%s from the torch.export-based exporter (opset 20) computes the same',
    (name) => {
      const model = sourceModelFromOnnx(bytesOf(`${name}.dynamo`), name);
      expect(model.provenance).toMatchObject({ source: 'onnx', opset: 20 });
      const e = expectedOf(name);
      const y = forward(model.network, inputsOf(e), e.inputShape[0]);
      expect(maxAbsDiff(y, e.outputs)).toBeLessThanOrEqual(1e-4);
    },
  );

  it("reads x*x, x**2 and 0.1x^2 + 0.5x + 0.2 as the HE engine's polynomials", () => {
    const { network } = sourceModelFromOnnx(bytesOf('mlp_square'), 'mlp_square');
    const poly = network.layers[2].activation;
    expect(poly.type).toBe('poly');
    if (poly.type !== 'poly') return;
    // torch exports the float32 constants, so the coefficients are float32 roundings.
    expect(poly.coefficients).toEqual([Math.fround(0.2), 0.5, Math.fround(0.1)]);
    expect(validateNetwork(network).layers).toHaveLength(4);
  });

  it('drops the output Softmax, says so, and keeps every argmax', () => {
    const model = sourceModelFromOnnx(bytesOf('mlp_softmax'), 'mlp_softmax');
    expect(model.notes?.join(' ')).toMatch(/Softmax was dropped.*argmax/);
    const e = expectedOf('mlp_softmax');
    const logits = forward(model.network, inputsOf(e), 4);
    expect(argmaxRows(logits, 10)).toEqual(argmaxRows(e.outputs, 10));
  });

  it("maps the first Conv to the studio's tied conv layer (NCHW flatten order reconciled)", () => {
    const { network } = sourceModelFromOnnx(bytesOf('cnn_relu'), 'cnn');
    const conv = network.layers[0];
    expect(conv.kind).toBe('conv');
    if (conv.kind !== 'conv') return;
    expect(conv.geometry).toMatchObject({
      height: 28,
      width: 28,
      channels: 1,
      kernel: 5,
      stride: 2,
      filters: 4,
    });
    expect(conv.weights.rows).toBe(12 * 12 * 4);
    expect(network.layers[1].weights.cols).toBe(576);
  });

  it('reads the same polynomial written with Sub, Div and Neg', () => {
    const setConstant = (m: ReturnType<typeof onnx.ModelProto.decode>, name: string, v: number) => {
      const node = m.graph!.node!.find((n) => n.name === name)!;
      node.attribute![0].t!.rawData = new Uint8Array(new Float32Array([v]).buffer);
    };
    const bytes = edited('mlp_square', (m) => {
      const nodes = m.graph!.node!;
      // 0.1 p -> p / 10;  s + 0.2 -> s - (-0.2);  0.5 y -> -(y * -0.5)
      nodes.find((n) => n.name === '/5/Mul')!.opType = 'Div';
      setConstant(m, '/5/Constant_1', 10);
      nodes.find((n) => n.name === '/5/Add_1')!.opType = 'Sub';
      setConstant(m, '/5/Constant_3', -Math.fround(0.2));
      setConstant(m, '/5/Constant_2', -0.5);
      const at = nodes.findIndex((n) => n.name === '/5/Mul_1');
      nodes[at].output = ['negated'];
      nodes.splice(at + 1, 0, node('Neg', ['negated'], '/5/Mul_1_output_0'));
    });
    const e = expectedOf('mlp_square');
    const model = sourceModelFromOnnx(bytes, 'sub-div-neg');
    const poly = model.network.layers[2].activation;
    const c = poly.type === 'poly' ? poly.coefficients : [];
    expect(c.map((v) => v.toFixed(6))).toEqual(['0.200000', '0.500000', '0.100000']);
    expect(maxAbsDiff(forward(model.network, inputsOf(e), 4), e.outputs)).toBeLessThanOrEqual(1e-4);
  });

  it('folds a BatchNormalization after the Conv into its kernel and bias', () => {
    const gamma = [2, 0.5, 1, 3];
    const beta = [0.1, -0.2, 0, 0.3];
    const bytes = edited('cnn_relu', (m) => {
      const g = m.graph!;
      const floats = (name: string, values: number[]) => ({
        name,
        dims: [values.length],
        dataType: onnx.TensorProto.DataType.FLOAT,
        floatData: values,
      });
      // mean 0 and variance 1 - epsilon: the normalisation is gamma * y + beta exactly.
      const eps = Math.fround(1e-5);
      g.initializer!.push(
        floats('bn.gamma', gamma),
        floats('bn.beta', beta),
        floats('bn.mean', [0, 0, 0, 0]),
        floats(
          'bn.var',
          [1, 1, 1, 1].map((v) => v - eps),
        ),
      );
      const bn = node(
        'BatchNormalization',
        ['/0/Conv_output_0', 'bn.gamma', 'bn.beta', 'bn.mean', 'bn.var'],
        'normalised',
      );
      bn.attribute = [{ name: 'epsilon', type: onnx.AttributeProto.AttributeType.FLOAT, f: eps }];
      g.node!.splice(1, 0, bn);
      g.node![2].input![0] = 'normalised';
    });
    const plain = sourceModelFromOnnx(bytesOf('cnn_relu'), 'cnn').network.layers[0];
    const folded = sourceModelFromOnnx(bytes, 'cnn-bn').network.layers[0];
    const f = (r: number) => r % 4;
    expect(Array.from(folded.bias.slice(0, 8))).toEqual(
      Array.from(plain.bias.slice(0, 8), (b, r) => expect.closeTo(gamma[f(r)] * b + beta[f(r)], 6)),
    );
    const cols = plain.weights.cols;
    for (const r of [0, 1, 2, 3, 574, 575])
      for (const c of [0, 5, 24, 100])
        expect(folded.weights.data[r * cols + c]).toBeCloseTo(
          gamma[f(r)] * plain.weights.data[r * cols + c],
          6,
        );
  });

  it('reads Gemm with transB = 0, alpha and beta', () => {
    const bytes = edited('mlp_relu', (m) => {
      const w = initializer(m, '0.weight'); // 16 x 784 -> 784 x 16, doubled; alpha 0.5 undoes it
      const f = floatsOf(w);
      const t = new Float32Array(f.length);
      for (let o = 0; o < 16; o++) for (let i = 0; i < 784; i++) t[i * 16 + o] = 2 * f[o * 784 + i];
      w.dims = [784, 16];
      w.rawData = new Uint8Array(t.buffer);
      const b = initializer(m, '0.bias'); // halved; beta 2 undoes it
      b.rawData = new Uint8Array(floatsOf(b).map((v) => v / 2).buffer);
      const gemm = m.graph!.node![0];
      gemm.attribute = [
        { name: 'alpha', type: onnx.AttributeProto.AttributeType.FLOAT, f: 0.5 },
        { name: 'beta', type: onnx.AttributeProto.AttributeType.FLOAT, f: 2 },
      ];
    });
    const e = expectedOf('mlp_relu');
    const model = sourceModelFromOnnx(bytes, 'gemm');
    expect(maxAbsDiff(forward(model.network, inputsOf(e), 4), e.outputs)).toBeLessThanOrEqual(1e-4);
  });

  it('reads a flat input reshaped to an image before the Conv', () => {
    const bytes = edited('cnn_relu', (m) => {
      const g = m.graph!;
      g.input![0].type!.tensorType!.shape!.dim = [{ dimParam: 'batch' }, { dimValue: 784 }];
      g.initializer!.push(int64Tensor('image_shape', [-1, 1, 28, 28]));
      g.node!.unshift(node('Reshape', ['input', 'image_shape'], 'image'));
      g.node![1].input![0] = 'image';
    });
    const e = expectedOf('cnn_relu');
    const model = sourceModelFromOnnx(bytes, 'cnn');
    expect(maxAbsDiff(forward(model.network, inputsOf(e), 4), e.outputs)).toBeLessThanOrEqual(1e-4);
  });

  it('reads the NHWC transposes and Reshape that tf2onnx writes around a Keras Conv2D', () => {
    const F = 4;
    const P = 144;
    const bytes = edited('cnn_relu', (m) => {
      const g = m.graph!;
      const dims = g.input![0].type!.tensorType!.shape!.dim!;
      g.input![0].type!.tensorType!.shape!.dim = [dims[0], dims[2], dims[3], dims[1]];
      const [conv, relu, flatten, gemm] = g.node!;
      conv.input![0] = 'nchw';
      flatten.opType = 'Reshape';
      flatten.attribute = [];
      flatten.input = ['nhwc', 'flat_shape'];
      g.initializer!.push(int64Tensor('flat_shape', [-1, F * P]));
      g.node = [
        node('Transpose', ['input'], 'nchw', [0, 3, 1, 2]),
        conv,
        relu,
        node('Transpose', [relu.output![0]], 'nhwc', [0, 2, 3, 1]),
        flatten,
        gemm,
      ];
      // Keras's Dense reads (y, x, filter): its columns are torch's (filter, y, x) reordered.
      const w = initializer(m, '3.weight');
      const f = floatsOf(w);
      const t = new Float32Array(f.length);
      for (let o = 0; o < 10; o++)
        for (let p = 0; p < P; p++)
          for (let k = 0; k < F; k++) t[o * F * P + p * F + k] = f[o * F * P + k * P + p];
      w.rawData = new Uint8Array(t.buffer);
    });
    const e = expectedOf('cnn_relu');
    const model = sourceModelFromOnnx(bytes, 'keras-cnn');
    expect(maxAbsDiff(forward(model.network, inputsOf(e), 4), e.outputs)).toBeLessThanOrEqual(1e-4);
  });

  it('refuses an unsupported op naming the node and the op', () => {
    const error = importError(bytesOf('unsupported_maxpool'));
    expect(error.message).toMatch(/node "\/1\/MaxPool" \(MaxPool\)/);
    expect(error.message).toMatch(/cannot import MaxPool/);
  });
});

describe('reading --model paths', () => {
  it('reads an .onnx file as a source model, ReLU and all', async () => {
    const model = await readSourceModel(`${DIR}/mlp_relu.onnx`);
    expect(model.name).toBe('mlp_relu');
    expect(model.network.layers[0].activation.type).toBe('relu');
    await expect(readHeModel(`${DIR}/mlp_relu.onnx`)).rejects.toMatchObject({
      code: 'needs-conversion',
    });
    const he = await readHeModel(`${DIR}/mlp_square.onnx`);
    expect(he.network.layers).toHaveLength(4);
  });

  it('refuses an .onnx file over the size limit before reading it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onnx-'));
    const path = join(dir, 'huge.onnx');
    try {
      writeFileSync(path, '');
      truncateSync(path, 2 ** 31); // sparse: no disk space, no memory
      await expect(readHeModel(path)).rejects.toMatchObject({
        code: 'invalid-model-file',
        message: expect.stringMatching(/is 2147483648 bytes; the studio reads models up to/),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('hepex reads .onnx models', () => {
  it('evaluates a polynomial ONNX model', async () => {
    const r = await hepex('eval', '--model', `${DIR}/mlp_square.onnx`, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { name: string; network: string; accuracy: number };
    expect(report.name).toBe('mlp_square');
    expect(report.network).toBe('784 -> 16 -> 16 -> 16 -> 10');
    expect(report.accuracy).toBeGreaterThanOrEqual(0);
  });

  it('refuses a ReLU ONNX model with the plain "convert first" message', async () => {
    const r = await hepex('eval', '--model', `${DIR}/mlp_relu.onnx`);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/layer 1 \(ReLU\) is not\. Convert the model first.*hepex convert/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
