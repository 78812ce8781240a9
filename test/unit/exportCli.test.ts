import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hepex } from '../fixtures/cli';
import { firstLayerInputs, forward, inputWidth } from '../../src/core/model/network';
import { permuteRows, unpermuteRows } from '../../src/core/model/permutation';
import { unfoldClientPermutation } from '../../src/core/prune/clientPermutation';
import { masksOfNonZeros } from '../../src/core/prune/common';
import { readModelDir } from '../../src/engines/tfjs/modelDir';
import { maxAbsDiff, randomInputs } from '../fixtures/networks';
import { runOnnx } from '../fixtures/onnxExportModels';

const MODEL = 'public/models/mlp/hepex';
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hepex-export-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('hepex export', () => {
  it('writes the function form; onnxruntime computes the model on raw inputs', async () => {
    const out = join(dir, 'fn', 'mlp.onnx');
    const r = await hepex('export', '--model', MODEL, '--out', out, '--json');
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ form: 'function', out, inputs: 784, outputs: 10 });
    expect(await readdir(join(dir, 'fn'))).toEqual(['mlp.onnx']);
    const model = await readModelDir(MODEL);
    const raw = unfoldClientPermutation(
      model.network,
      masksOfNonZeros(model.network),
      model.permutation!,
    );
    const x = randomInputs(16, 784, 5);
    const got = await runOnnx(new Uint8Array(await readFile(out)), x, 16);
    const want = forward(raw.network, x, 16);
    expect(
      maxAbsDiff(got, want) / Math.max(1, maxAbsDiff(want, new Float32Array(want.length))),
    ).toBeLessThanOrEqual(1e-5);
  });

  it('writes the server form and FILE.permutation.json; a client permutes around it', async () => {
    const out = join(dir, 'server', 'cnn.onnx');
    const model = 'public/models/cnn/hepex';
    const r = await hepex('export', '--model', model, '--out', out, '--form', 'server');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/saved .*cnn\.onnx \(server form/);
    expect((await readdir(join(dir, 'server'))).sort()).toEqual([
      'cnn.onnx',
      'cnn.permutation.json',
    ]);
    const file = JSON.parse(await readFile(join(dir, 'server', 'cnn.permutation.json'), 'utf8'));
    expect(file).toMatchObject({ format: 'hepex-client-permutation', version: 1 });
    expect(file.input.of).toBe('im2col-patches');
    const m = await readModelDir(model);
    const x = randomInputs(8, inputWidth(m.network), 6);
    const sent = permuteRows(
      firstLayerInputs(m.network, x, 8),
      Uint32Array.from(file.input.order),
      8,
    );
    const got = unpermuteRows(
      await runOnnx(new Uint8Array(await readFile(out)), sent, 8),
      Uint32Array.from(file.output.order),
      8,
    );
    const raw = unfoldClientPermutation(m.network, masksOfNonZeros(m.network), m.permutation!);
    const want = forward(raw.network, x, 8);
    expect(
      maxAbsDiff(got, want) / Math.max(1, maxAbsDiff(want, new Float32Array(want.length))),
    ).toBeLessThanOrEqual(1e-5);
  });

  it('refuses a bad form, a missing model and an unwritable path in words, writing nothing', async () => {
    const bad = join(dir, 'bad');
    await mkdir(bad);
    const form = await hepex(
      'export',
      '--model',
      MODEL,
      '--out',
      join(bad, 'x.onnx'),
      '--form',
      'both',
      '--json',
    );
    expect(form.code).toBe(1);
    expect(JSON.parse(form.stdout).error.message).toMatch(/--form must be one of function, server/);
    const missing = await hepex(
      'export',
      '--model',
      join(dir, 'nope'),
      '--out',
      join(bad, 'x.onnx'),
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/Cannot read/);
    // The output path is a directory: the rename fails and no temporary file is left behind.
    await mkdir(join(bad, 'taken.onnx'));
    const taken = await hepex(
      'export',
      '--model',
      MODEL,
      '--out',
      join(bad, 'taken.onnx'),
      '--json',
    );
    expect(taken.code).toBe(1);
    expect(JSON.parse(taken.stdout).error.message).toMatch(/Cannot write/);
    expect(await readdir(bad)).toEqual(['taken.onnx']);
  });
});
