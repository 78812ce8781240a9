import { describe, expect, it } from 'vitest';
import { forward } from '../../src/core/model/network';
import { onnx } from '../../src/engines/onnx/onnxDecode';
import { sourceModelFromOnnx } from '../../src/engines/onnx/onnxImport';
import { maxAbsDiff } from '../fixtures/networks';
import {
  bytesOf,
  edited,
  expectedOf,
  floatsOf,
  importError,
  initializer,
  inputsOf,
} from '../fixtures/onnxFixtures';

/**
 * Malformed, hostile or unsupported ONNX files: each gets an invalid-model-file error that says
 * in words what is wrong (and where), never a crash or a half-read model.
 */

describe('ONNX import refuses bad files in words', () => {
  it.each([
    ['empty', new Uint8Array(0), /empty/],
    [
      'random bytes',
      Uint8Array.from({ length: 512 }, (_, i) => (i * 97 + 13) % 256),
      /not a readable ONNX model|holds no ONNX model/,
    ],
    [
      'text',
      new TextEncoder().encode('{"format": "layers-model"}'),
      /not a readable ONNX model|holds no ONNX model/,
    ],
    ['a truncated file', bytesOf('mlp_relu').subarray(0, 30_000), /not a readable ONNX model/],
  ])('%s', (_, bytes, message) => {
    expect(importError(bytes).message).toMatch(message);
  });

  it('a huge declared input dimension', () => {
    const bytes = edited('mlp_relu', (m) => {
      m.graph!.input![0].type!.tensorType!.shape!.dim![1].dimValue = 1_000_000_000;
    });
    expect(importError(bytes).message).toMatch(/dimension 2 as 1000000000/);
  });

  it('a huge declared initializer dimension', () => {
    const bytes = edited('mlp_relu', (m) => {
      initializer(m, '0.weight').dims = [2 ** 40, 784];
    });
    expect(importError(bytes).message).toMatch(/initializer "0.weight" declares dimension 1/);
  });

  it('a huge initializer (each dimension allowed, their product not)', () => {
    const bytes = edited('mlp_relu', (m) => {
      initializer(m, '0.weight').dims = [65_536, 65_536];
    });
    expect(importError(bytes).message).toMatch(
      /"0.weight" has 4294967296 values; the studio accepts up to/,
    );
  });

  it('an initializer whose values disagree with its shape', () => {
    const bytes = edited('mlp_relu', (m) => {
      initializer(m, '0.weight').dims = [16, 700];
    });
    expect(importError(bytes).message).toMatch(/shape \[16, 700\] = 11200 values but holds 12544/);
  });

  it('a NaN weight', () => {
    const bytes = edited('mlp_relu', (m) => {
      const t = initializer(m, '2.weight');
      const raw = t.rawData!.slice();
      new DataView(raw.buffer).setFloat32(4 * 7, Number.NaN, true);
      t.rawData = raw;
    });
    expect(importError(bytes).message).toMatch(/initializer "2.weight"'s value 8 is NaN/);
  });

  it('non-float32 weights and external data', () => {
    const half = edited('mlp_relu', (m) => {
      initializer(m, '0.bias').dataType = onnx.TensorProto.DataType.FLOAT16;
    });
    expect(importError(half).message).toMatch(/holds float16 values/);
    const external = edited('mlp_relu', (m) => {
      const t = initializer(m, '0.weight');
      t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      t.externalData = [{ key: 'location', value: 'weights.bin' }];
    });
    expect(importError(external).message).toMatch(/external data/);
  });

  it('reads float64 weights, rounded to float32, and says so', () => {
    const bytes = edited('mlp_relu', (m) => {
      const t = initializer(m, '2.bias');
      const f = floatsOf(t);
      const d = new Float64Array(f);
      t.dataType = onnx.TensorProto.DataType.DOUBLE;
      t.rawData = new Uint8Array(d.buffer);
    });
    const model = sourceModelFromOnnx(bytes, 'f64');
    expect(model.notes).toContain('Weights stored as float64 were rounded to float32.');
    const e = expectedOf('mlp_relu');
    expect(maxAbsDiff(forward(model.network, inputsOf(e), 4), e.outputs)).toBeLessThanOrEqual(1e-4);
  });

  it('a polynomial of degree above 2', () => {
    const bytes = edited('mlp_square', (m) => {
      const node = m.graph!.node!.find((n) => n.name === '/3/Constant')!;
      node.attribute![0].t!.rawData = new Uint8Array(new Float32Array([3]).buffer);
    });
    expect(importError(bytes).message).toMatch(/node "\/3\/Pow" \(Pow\) raises to the power 3/);
  });

  it('a polynomial the HE engine cannot fold (negative x^2 coefficient)', () => {
    const bytes = edited('mlp_square', (m) => {
      const node = m.graph!.node!.find((n) => n.name === '/5/Constant_1')!;
      node.attribute![0].t!.rawData = new Uint8Array(new Float32Array([-0.1]).buffer);
    });
    expect(importError(bytes).message).toMatch(/non-negative x\^2 coefficient/);
  });

  it('a branch: a layer reading an earlier layer than the last', () => {
    const bytes = edited('mlp_sigmoid_tanh', (m) => {
      const last = m.graph!.node!.find((n) => n.name === '/4/Gemm')!;
      last.input![0] = '/1/Sigmoid_output_0';
    });
    expect(importError(bytes).message).toMatch(
      /node "\/4\/Gemm" \(Gemm\) does not continue the chain/,
    );
  });

  it("a skip connection adding two layers' outputs", () => {
    const bytes = edited('autoencoder_square', (m) => {
      const mul = m.graph!.node!.find((n) => n.name === '/1/Mul')!;
      mul.opType = 'Add';
      mul.input = ['/0/Gemm_output_0', 'input'];
    });
    expect(importError(bytes).message).toMatch(/adds outputs of different layers/);
  });

  it('a node of a custom operator domain', () => {
    const bytes = edited('mlp_relu', (m) => {
      m.graph!.node![1].domain = 'com.microsoft';
    });
    expect(importError(bytes).message).toMatch(
      /node "\/1\/Relu" \(Relu\) is from the operator domain "com.microsoft"/,
    );
  });
});
