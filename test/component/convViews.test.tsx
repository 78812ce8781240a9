import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { CountsPanel } from '../../src/components/CountsPanel';
import { GridPanel } from '../../src/components/GridPanel';
import { LayerStrip } from '../../src/components/LayerStrip';
import { Controls } from '../../src/components/Controls';
import { fullKernelTileFlags } from '../../src/core/tiling/convTiling';
import { kernelMask } from '../../src/core/model/convMasks';
import { outputSize } from '../../src/core/model/conv';
import { costOf } from '../../src/core/he/costModel';
import { layerSizes, validateNetwork, type ConvLayer } from '../../src/core/model/network';
import { magnitudePrune } from '../../src/core/prune/magnitudePrune';
import {
  countNonZeroTiles,
  nonZeroTileFlags,
  countTileNonZeros,
  planTiles,
} from '../../src/core/tiling/tilePlan';
import type { PipelineService } from '../../src/services/pipelineClient';
import { createAppStore } from '../../src/store/appStore';
import { StoreProvider } from '../../src/store/storeContext';
import { lightPalette } from '../../src/viz/palette';
import { kernelElement, rasterizeTileGrid } from '../../src/viz/tileRaster';
import { memoryLoader, seededCnn } from '../fixtures/studio';

afterEach(cleanup);

const noPipeline = (): PipelineService => {
  throw new Error('no worker in this test');
};
const digits = (testId: string) =>
  Number((screen.getByTestId(testId).textContent ?? '').replace(/[^0-9]/g, ''));

/** The studio with a seeded CNN (10x10 image, conv 3x3/1 x8: 64 positions, 9 taps padded to 16). */
async function renderCnn() {
  const cnn = seededCnn(5);
  const store = createAppStore({
    loader: memoryLoader({
      cnn: { dense: { name: 'tiny cnn', network: cnn, metrics: { accuracy: 0.9 } }, twin: null },
    }),
    pipeline: noPipeline,
    trainer: () => {
      throw new Error('not used');
    },
    schedule: (run) => run(),
  });
  render(
    <StoreProvider store={store}>
      <Controls />
      <CountsPanel />
      <LayerStrip />
      <GridPanel />
    </StoreProvider>,
  );
  store.getState().setTileShape(4, 8, 8192, 'B');
  await act(() => store.getState().loadPreset('cnn'));
  return { store, cnn };
}

describe('conv layers in the studio', () => {
  it('names the convolution, paints its kernel block and counts what the core counts', async () => {
    const { store, cnn } = await renderCnn();
    const s = store.getState();
    const plan = planTiles(layerSizes(cnn), s.tile);
    // Unpruned: the conv's full kernel copies (core) plus every tile of the dense layers.
    const denseFlags = plan.layers.map((t, l) =>
      l === 0
        ? fullKernelTileFlags((cnn.layers[0] as ConvLayer).geometry, t)
        : new Uint8Array(t.tileCount).fill(1),
    );
    const unpruned = costOf(
      plan,
      cnn.layers.map((l) => l.activation),
      denseFlags,
    );
    expect(digits('ciphertexts-before')).toBe(unpruned.total.weightCiphertexts);

    const card = screen.getByTestId('layer-card-0').textContent ?? '';
    expect(card).toMatch(/conv 3x3\/1, 8 filters, x64 positions/);
    const m = /(\d+) kernel tiles ×(\d+) = ([\d,]+)/.exec(card)!;
    const [kernelTiles, positions, tiles] = m.slice(1).map((x) => Number(x.replace(/,/g, '')));
    // The core's count over the expanded 512 x 1024 mask of what is shown.
    const core = countNonZeroTiles(s.shown!.masks[0], plan.layers[0]);
    expect(tiles).toBe(core);
    expect(kernelTiles * positions).toBe(core);
    expect(positions).toBe(64);

    act(() => {
      fireEvent.click(screen.getByTestId('layer-card-0'));
    });
    expect(screen.getByTestId('grid-title').textContent).toBe(
      'Layer 1: conv 3x3/1, 8 filters, x64 positions',
    );
    expect(screen.getByTestId('grid-sub').textContent).toMatch(/8×16 kernel \(9 \+ 7 padding\)/);
    const main = screen.getByTestId('tile-grid-main').querySelector('canvas')!;
    expect(main.getAttribute('aria-label')).toMatch(/kernel, 8×16 .* at each of 64 positions/);
    // Training a CNN trains a CNN, whatever the preset menu says.
    expect(screen.getByTestId('train-button').textContent).toBe('Train cnn classifier');
  });

  it('the slider prunes each kernel weight at every position; counts follow the core', async () => {
    const { store, cnn } = await renderCnn();
    const g = (cnn.layers[0] as ConvLayer).geometry;
    act(() => {
      fireEvent.click(screen.getByText('Magnitude', { exact: true }));
    });
    act(() => {
      fireEvent.click(screen.getByText('Per layer', { exact: true }));
    });
    for (const value of ['0.3', '0.8', '0.95']) {
      act(() => {
        fireEvent.change(screen.getByRole('slider', { name: /weight sparsity/i }), {
          target: { value },
        });
      });
      const s = store.getState();
      const shown = s.shown!;
      expect(() => validateNetwork(shown.network)).not.toThrow(); // tied
      const expected = magnitudePrune(cnn, { sparsity: Number(value), scope: 'local' });
      expect(shown.masks[0].data).toEqual(expected[0].data);
      const plan = planTiles(layerSizes(cnn), s.tile);
      const k = s.analysis!.kernels[0]!;
      expect(k.nonZeroTiles * outputSize(g).positions).toBe(
        countNonZeroTiles(shown.masks[0], plan.layers[0]),
      );
      // The painted kernel mask is position 0's block; the kernel's pruned share is the slider's.
      const kept = kernelMask(g, shown.masks[0]).data.reduce((a, b) => a + b, 0);
      expect(kept).toBe(g.filters * 9 - Math.round(Number(value) * g.filters * 9));
      expect(digits('ciphertexts-after')).toBe(s.analysis!.cost.total.weightCiphertexts);
      const flags = plan.layers.map((t, l) =>
        nonZeroTileFlags(countTileNonZeros(shown.masks[l], t)),
      );
      expect(s.analysis!.cost.total.weightCiphertexts).toBe(
        costOf(
          plan,
          cnn.layers.map((l) => l.activation),
          flags,
        ).total.weightCiphertexts,
      );
    }
  });

  it('paints patch padding columns in their own colour and names patch elements', () => {
    const tiling = {
      layerIndex: 0,
      orientation: 'A' as const,
      outputs: 2,
      inputs: 8,
      blockOut: 2,
      blockIn: 4,
      outBlocks: 1,
      inBlocks: 2,
      tileCount: 2,
    };
    const weights = Float32Array.from({ length: 16 }, (_, k) => (k % 8 < 5 ? 0.5 : 0));
    const mask = Uint8Array.from(weights, (w) => (w ? 1 : 0));
    const image = rasterizeTileGrid(
      { tiling, weights, mask, counts: Uint32Array.of(8, 2), paddingFrom: 5 },
      'weights',
      lightPalette,
      1,
    );
    const at = (row: number, col: number) =>
      Array.from(image.pixels.subarray((row * 8 + col) * 4, (row * 8 + col) * 4 + 3));
    for (const col of [5, 6, 7]) expect(at(1, col)).toEqual([...lightPalette.padding]);
    expect(at(1, 4)).not.toEqual([...lightPalette.padding]);
    // 3 x 3 kernel over 2 channels: column j = (dy * 3 + dx) * 2 + c.
    expect(kernelElement({ kernel: 3, channels: 2 }, 11)).toEqual({
      dy: 1,
      dx: 2,
      c: 1,
      padding: false,
    });
    expect(kernelElement({ kernel: 3, channels: 2 }, 18).padding).toBe(true);
  });
});
