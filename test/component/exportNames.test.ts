import { describe, expect, it } from 'vitest';
import { createAppStore } from '../../src/store/appStore';
import {
  exportBaseName,
  exportNamePartsOf,
  fileTimestamp,
  fnv1a32,
  gridImageFileName,
  historyFileName,
  modelFileNames,
  networkHash,
  sanitizeName,
  type ExportNameParts,
} from '../../src/store/exportNames';
import type { PipelineService } from '../../src/services/pipelineClient';
import { memoryLoader, seededCnn, seededModel, seededNetwork } from '../fixtures/studio';

const parts: ExportNameParts = {
  model: 'ae 784-256-64-256-784',
  shown: 'hepex',
  sparsity: 0.9,
  theta: 0.0625,
  tile: { t1: 4, t2: 8 },
  ciphertexts: 4871,
  hash: '1a2b3c4d',
};

describe('export names', () => {
  it('FNV-1a 32 matches the reference vectors', () => {
    const ascii = (s: string) => new TextEncoder().encode(s);
    expect(fnv1a32(ascii(''))).toBe(0x811c9dc5);
    expect(fnv1a32(ascii('a'))).toBe(0xe40c292c);
    expect(fnv1a32(ascii('foobar'))).toBe(0xbf9cf968);
    // Chained calls hash the concatenation.
    expect(fnv1a32(ascii('bar'), fnv1a32(ascii('foo')))).toBe(0xbf9cf968);
  });

  it('says model, method, sparsity, theta, tile, ciphertexts and hash', () => {
    const base = exportBaseName(parts);
    expect(base).toBe('ae-784-256-64-256-784_hepex-s90-theta0.0625_4x8_4871ct_1a2b3c4d');
    expect(modelFileNames(base)).toEqual({
      modelFile: `${base}.model.json`,
      weightsFile: `${base}.weights.bin`,
    });
    expect(exportBaseName({ ...parts, shown: 'trained', sparsity: 0, theta: undefined })).toBe(
      'ae-784-256-64-256-784_trained-s0_4x8_4871ct_1a2b3c4d',
    );
    // No float noise, one decimal of sparsity at most.
    expect(exportBaseName({ ...parts, sparsity: 0.9054, theta: 0.1 + 0.2 })).toMatch(
      /_hepex-s90\.5-theta0\.3_/,
    );
    expect(gridImageFileName(base, 0, 'weights', 2)).toBe(`${base}_layer1-weights-2x.png`);
  });

  it('sanitizes names to [a-z0-9-] and bounds their length', () => {
    expect(sanitizeName('cnn 784-64-10 (conv 8 x 5x5 stride 2)')).toBe(
      'cnn-784-64-10-conv-8-x-5x5-stride-2',
    );
    expect(sanitizeName('../../etc/passwd')).toBe('etc-passwd');
    expect(sanitizeName('Ünïcode — Model!')).toBe('unicode-model');
    expect(sanitizeName('***')).toBe('model');
    expect(sanitizeName('x'.repeat(500))).toHaveLength(48);
    const hostile = exportBaseName({ ...parts, model: 'a/b\\c:d*e?"f<g>|h', shown: '../x' });
    expect(hostile).toMatch(/^[a-z0-9._-]+$/);
    expect(hostile).not.toContain('..');
  });

  it('hashes the weights: equal networks get one name, any change another', () => {
    const a = seededNetwork([64, 48, 16], 3);
    const same = seededNetwork([64, 48, 16], 3);
    expect(networkHash(a)).toMatch(/^[0-9a-f]{8}$/);
    expect(networkHash(same)).toBe(networkHash(a));
    expect(networkHash(seededNetwork([64, 48, 16], 4))).not.toBe(networkHash(a));
    // One weight, one bias, or only the shape changed.
    const w = seededNetwork([64, 48, 16], 3);
    w.layers[1].weights.data[5] += 1e-6;
    expect(networkHash(w)).not.toBe(networkHash(a));
    const b = seededNetwork([64, 48, 16], 3);
    b.layers[0].bias[0] = 0;
    expect(networkHash(b)).not.toBe(networkHash(a));
    const flat = seededNetwork([64, 48, 16], 3);
    const reshaped = {
      ...flat,
      layers: [
        { ...flat.layers[0], weights: { rows: 96, cols: 32, data: flat.layers[0].weights.data } },
        flat.layers[1],
      ],
    };
    expect(networkHash(reshaped)).not.toBe(networkHash(a));
    // Many seeds, no collision (32 bits: a collision among 200 is a 1-in-200,000 event).
    const hashes = new Set(
      Array.from({ length: 200 }, (_, s) => networkHash(seededNetwork([8, 4], s))),
    );
    expect(hashes.size).toBe(200);
  });

  it("hashes a convolution's kernel, not its expanded matrix (tied: same kernel, same hash)", () => {
    expect(networkHash(seededCnn(5))).toBe(networkHash(seededCnn(5)));
    expect(networkHash(seededCnn(5))).not.toBe(networkHash(seededCnn(6)));
  });

  it('history names carry the model, the run count and a sortable UTC time', () => {
    const at = new Date(Date.UTC(2025, 2, 14, 9, 15, 0, 123));
    expect(fileTimestamp(at)).toBe('20250314T091500Z');
    expect(historyFileName('ae 784-256-64-256-784', 12, 0, at, 'csv')).toBe(
      'hepex-history_ae-784-256-64-256-784_12runs_20250314T091500Z.csv',
    );
    expect(historyFileName('mlp 784-128-10', 3, 2, at, 'json')).toBe(
      'hepex-history_mlp-784-128-10-and-2-more_3runs_20250314T091500Z.json',
    );
  });
});

describe('export names from the store', () => {
  const noPipeline = (): PipelineService => {
    throw new Error('no worker in this test');
  };

  it('follow what is shown: trained, then the preview at the sliders', async () => {
    const dense = seededModel([64, 48, 16, 48, 64], 3, 'tiny ae 64-48-16');
    const store = createAppStore({
      loader: memoryLoader({ ae: { dense, twin: null } }),
      pipeline: noPipeline,
      schedule: (run) => run(),
    });
    store.getState().setTileShape(4, 8, 8192);
    await store.getState().loadPreset('ae');
    // No twin: the first screen is the preview at the default HE-PEx parameters.
    const preview = exportNamePartsOf(store.getState())!;
    const s = store.getState();
    expect(preview).toMatchObject({
      model: 'tiny ae 64-48-16',
      shown: 'hepex',
      theta: s.theta,
      ciphertexts: s.analysis!.cost.total.weightCiphertexts,
      hash: networkHash(s.shown!.network),
    });
    expect(exportBaseName(preview)).toMatch(
      /^tiny-ae-64-48-16_hepex-s\d+(\.\d)?-theta0\.0625_4x8_\d+ct_[0-9a-f]{8}$/,
    );
    store.getState().showDense();
    const trained = exportNamePartsOf(store.getState())!;
    expect(trained.shown).toBe('trained');
    expect(trained.theta).toBeUndefined();
    expect(trained.hash).toBe(networkHash(dense.network));
    expect(trained.hash).not.toBe(preview.hash);
    store.getState().setMethod('magnitude');
    const magnitude = exportNamePartsOf(store.getState())!;
    expect(magnitude.shown).toBe('magnitude');
    expect(magnitude.theta).toBeUndefined();
  });
});
