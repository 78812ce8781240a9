import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command as convertCommand } from '../../src/cli/commands/convert';
import type { CommandIo } from '../../src/cli/command';
import { validateNetwork } from '../../src/core/model/network';
import { readModelDir } from '../../src/engines/tfjs/modelDir';

const io: CommandIo = { progress: () => undefined, signal: new AbortController().signal };

interface ConvertJson {
  original: number;
  fitted: number;
  fineTuned: number;
  layers: { layer: number; from: string; coefficients: number[]; clamped: boolean }[];
}

// PyTorch-exported fixtures (test/fixtures/onnx, untrained weights): the conversion path, not accuracy.
describe('hepex convert on ONNX models', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hepex-convert-onnx-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const convert = async (name: string): Promise<ConvertJson> => {
    const out = join(dir, name);
    const result = await convertCommand.run(
      [
        '--model',
        `test/fixtures/onnx/${name}.onnx`,
        '--out',
        out,
        '--epochs',
        '1',
        '--fit-samples',
        '300',
      ],
      io,
    );
    const converted = await readModelDir(out);
    validateNetwork(converted.network);
    expect(converted.provenance?.method).toBe('convert');
    return result.json as ConvertJson;
  };

  it('fits sigmoid and tanh (odd around their centre: the x^2 term clamps to 0), layer by layer', async () => {
    const json = await convert('mlp_sigmoid_tanh');
    expect(json.layers.map((l) => [l.layer, l.from])).toEqual([
      [1, 'sigmoid'],
      [2, 'tanh'],
    ]);
    for (const l of json.layers) expect(l.coefficients[2]).toBeGreaterThanOrEqual(0);
    // One epoch from untrained weights already learns digits: far above chance.
    expect(json.fineTuned).toBeGreaterThan(0.5);
  });

  it('converts a ReLU convolution (the conv stays tied and HE-ready)', async () => {
    const json = await convert('cnn_relu');
    expect(json.layers).toHaveLength(1);
    expect(json.layers[0]).toMatchObject({ layer: 1, from: 'ReLU', clamped: false });
    expect(json.fineTuned).toBeGreaterThan(0.5);
  });
});
