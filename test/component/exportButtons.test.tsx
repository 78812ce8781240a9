import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ExportButtons } from '../../src/components/ExportButtons';
import { createModelLoader, manifestPaths } from '../../src/services/modelLoader';
import type { PipelineService } from '../../src/services/pipelineClient';
import { createAppStore } from '../../src/store/appStore';
import {
  exportBaseName,
  exportNamePartsOf,
  modelFileNames,
  networkHash,
  onnxFileNames,
} from '../../src/store/exportNames';
import { onnx } from '../../src/engines/onnx/onnxExportGraph';
import { gridExportOf } from '../../src/store/gridExport';
import { layerGrid, selectMaxAbs } from '../../src/store/selectors';
import { StoreProvider } from '../../src/store/storeContext';
import { lightPalette } from '../../src/viz/palette';
import { weightRampTicks } from '../../src/viz/rampTicks';
import { rasterizeTileGrid, runtimeFrame } from '../../src/viz/tileRaster';
import { canvasRecorder } from '../fixtures/canvasRecorder';
import { memoryLoader, seededModel } from '../fixtures/studio';

const noPipeline = (): PipelineService => {
  throw new Error('no worker in this test');
};

/** What the page downloaded: file name and contents, in click order. */
let downloads: { name: string; blob: Blob }[] = [];
/** One recording context per canvas the export created, in creation order. */
let canvases: ReturnType<typeof canvasRecorder>[] = [];
const jsdomToBlob = HTMLCanvasElement.prototype.toBlob;

beforeEach(() => {
  downloads = [];
  canvases = [];
  const blobs = new Map<string, Blob>();
  let n = 0;
  URL.createObjectURL = (blob: Blob) => {
    const url = `blob:test/${++n}`;
    blobs.set(url, blob);
    return url;
  };
  URL.revokeObjectURL = () => {};
  vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (
    this: HTMLAnchorElement,
  ) {
    downloads.push({ name: this.download, blob: blobs.get(this.href)! });
  });
  const contexts = new WeakMap<HTMLCanvasElement, unknown>();
  // getContext is overloaded per context id; the studio only asks for '2d'.
  const getContext = function (this: HTMLCanvasElement) {
    if (!contexts.has(this)) {
      const r = canvasRecorder();
      canvases.push(r);
      contexts.set(this, r.ctx);
    }
    return contexts.get(this);
  };
  vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockImplementation(
    getContext as unknown as HTMLCanvasElement['getContext'],
  );
  HTMLCanvasElement.prototype.toBlob = function (done: BlobCallback) {
    done(new Blob([`png ${this.width}x${this.height}`], { type: 'image/png' }));
  };
});

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
  HTMLCanvasElement.prototype.toBlob = jsdomToBlob;
});

async function renderExports() {
  const base = memoryLoader({
    ae: { dense: seededModel([64, 48, 16, 48, 64], 3, 'tiny ae 64-48-16'), twin: null },
  });
  const store = createAppStore({
    loader: {
      ...base,
      exportModel: createModelLoader().exportModel,
      exportOnnx: createModelLoader().exportOnnx,
    },
    pipeline: noPipeline,
    schedule: (run) => run(),
  });
  render(
    <StoreProvider store={store}>
      <ExportButtons />
    </StoreProvider>,
  );
  store.getState().setTileShape(4, 8, 8192);
  store.getState().setTheme('light');
  await act(() => store.getState().loadPreset('ae'));
  return store;
}

describe('export buttons', () => {
  it('downloads the model as stem.model.json + stem.weights.bin, the manifest naming the weights', async () => {
    const store = await renderExports();
    const base = exportBaseName(exportNamePartsOf(store.getState())!);
    expect(base).toContain(networkHash(store.getState().shown!.network));
    await act(async () => {
      fireEvent.click(screen.getByTestId('export-model'));
      await vi.waitFor(() => expect(downloads).toHaveLength(2));
    });
    const { modelFile, weightsFile } = modelFileNames(base);
    expect(downloads.map((d) => d.name)).toEqual([modelFile, weightsFile]);
    expect(manifestPaths(await downloads[0].blob.text())).toEqual([weightsFile]);
    // Same model, same names; another model (here: the trained one), other names.
    await act(async () => {
      fireEvent.click(screen.getByTestId('export-model'));
      await vi.waitFor(() => expect(downloads).toHaveLength(4));
    });
    expect(downloads[2].name).toBe(modelFile);
    act(() => store.getState().showDense());
    await act(async () => {
      fireEvent.click(screen.getByTestId('export-model'));
      await vi.waitFor(() => expect(downloads).toHaveLength(6));
    });
    expect(downloads[4].name).toMatch(
      /^tiny-ae-64-48-16_trained-s0_4x8_\d+ct_[0-9a-f]{8}\.model\.json$/,
    );
    expect(downloads[4].name).not.toBe(modelFile);
  });

  it('downloads ONNX (function form) and the HE server form with its permutations JSON', async () => {
    const store = await renderExports();
    const names = onnxFileNames(exportBaseName(exportNamePartsOf(store.getState())!));
    await act(async () => {
      fireEvent.click(screen.getByTestId('export-onnx'));
      await vi.waitFor(() => expect(downloads).toHaveLength(1));
    });
    expect(downloads[0].name).toBe(names.functionFile);
    const bytes = new Uint8Array(await downloads[0].blob.arrayBuffer());
    const model = onnx.ModelProto.decode(bytes);
    expect(model.graph?.node?.map((n) => n.opType)).toEqual([
      'Gemm',
      'Mul',
      'Gemm',
      'Mul',
      'Gemm',
      'Mul',
      'Gemm',
    ]);
    expect(model.metadataProps.find((p) => p.key === 'hepex.form')?.value).toBe('function');
    await act(async () => {
      fireEvent.click(screen.getByTestId('export-onnx-server'));
      await vi.waitFor(() => expect(downloads).toHaveLength(3));
    });
    expect(downloads.slice(1).map((d) => d.name)).toEqual([
      names.serverFile,
      names.permutationFile,
    ]);
    const perm = JSON.parse(await downloads[2].blob.text());
    expect(perm).toMatchObject({ format: 'hepex-client-permutation', input: { of: 'features' } });
    expect(perm.input.order).toHaveLength(64);
    expect(screen.getByTestId('export-onnx').textContent).toBe('ONNX');
  });

  it('names the history by model, run count and time', async () => {
    const store = await renderExports();
    const runs = store.getState().runs.length;
    act(() => {
      fireEvent.click(screen.getByRole('button', { name: 'History CSV' }));
      fireEvent.click(screen.getByRole('button', { name: 'History JSON' }));
    });
    const stamp = '\\d{8}T\\d{6}Z';
    expect(downloads[0].name).toMatch(
      new RegExp(`^hepex-history_tiny-ae-64-48-16_${runs}runs_${stamp}\\.csv$`),
    );
    expect(downloads[1].name).toMatch(
      new RegExp(`^hepex-history_tiny-ae-64-48-16_${runs}runs_${stamp}\\.json$`),
    );
  });

  it('Grid PNG draws the whole layer at the chosen scale with title and legend, offscreen', async () => {
    const store = await renderExports();
    const select = screen.getByRole('combobox', { name: 'Grid PNG scale' }) as HTMLSelectElement;
    expect(select.value).toBe('1');
    expect(Array.from(select.options).map((o) => o.text)).toEqual([
      '1 px / weight',
      '2 px / weight',
      '4 px / weight',
    ]);
    act(() => {
      fireEvent.change(select, { target: { value: '2' } });
    });
    await act(async () => {
      fireEvent.click(screen.getByTestId('export-grid-png'));
      await vi.waitFor(() => expect(downloads).toHaveLength(1));
    });
    const s = store.getState();
    const spec = gridExportOf(s, 0, 2)!;
    expect(downloads[0].name).toBe(spec.fileName);
    expect(spec.fileName).toMatch(/^tiny-ae-64-48-16_hepex-.*_layer1-weights-2x\.png$/);

    // Two canvases: the output image, then the raster at one pixel per weight.
    const [out, raster] = canvases;
    const frame = runtimeFrame(s.analysis!.plan.layers[0]);
    const put = raster.calls.find((c) => c.op === 'putImageData')!;
    const expected = rasterizeTileGrid(
      layerGrid(s.shown, s.analysis, 0)!,
      'weights',
      lightPalette,
      selectMaxAbs(s)[0],
    );
    const image = put.args[0] as { width: number; height: number; data: Uint8ClampedArray };
    expect([image.width, image.height]).toEqual([frame.cols, frame.rows]);
    expect(image.data).toEqual(expected.pixels);
    const draw = out.calls.find((c) => c.op === 'drawImage')!;
    expect(draw.args.slice(3)).toEqual([
      frame.cols,
      frame.rows,
      16,
      expect.any(Number),
      frame.cols * 2,
      frame.rows * 2,
    ]);
    const texts = out.calls.filter((c) => c.op === 'fillText').map((c) => c.args[0]);
    for (const line of spec.title) expect(texts).toContain(line);
    for (const t of weightRampTicks(selectMaxAbs(s)[0])) expect(texts).toContain(t.label);
    expect(texts).toContain('pruned, tile still paid for');
    expect(texts).toContain('all-zero tile: no ciphertext');
  });

  it("the PNG's title says model, layer, shape, orientation, tile shape, tiles and ciphertexts", async () => {
    const store = await renderExports();
    act(() => store.getState().selectLayer(1));
    const s = store.getState();
    const t = s.analysis!.plan.layers[1];
    const nonZero = s.analysis!.cost.layers[1].nonZeroWeightTiles;
    const total = s.analysis!.cost.total.weightCiphertexts;
    const [model, layer, counts] = gridExportOf(s, 1, 4)!.title;
    expect(model).toBe(`tiny ae 64-48-16 · ${s.shown!.label}`);
    expect(layer).toBe(
      `Layer 2 of 4: 16×48 (outputs × inputs), orientation ${t.orientation}, shown as ${t.orientation === 'A' ? 'W (16×48)' : 'Wᵀ (48×16)'} in 4×8 tiles`,
    );
    expect(counts).toBe(
      `${nonZero} of ${t.tileCount} tiles non-zero = ${nonZero} weight ciphertexts (${total.toLocaleString('en-US')} in the model) · weights view, 4 px per weight`,
    );
  });

  it('says in words when the browser cannot draw the image, and downloads nothing', async () => {
    const store = await renderExports();
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue(null);
    await act(async () => {
      fireEvent.click(screen.getByTestId('export-grid-png'));
      await vi.waitFor(() => expect(store.getState().error).toMatch(/canvas/));
    });
    expect(downloads).toHaveLength(0);
    expect(screen.getByTestId('export-grid-png').textContent).toBe('Grid PNG');
  });
});
