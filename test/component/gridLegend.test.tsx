import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { interpolateRgb, lab } from 'd3';
import { afterEach, describe, expect, it } from 'vitest';
import { GridPanel } from '../../src/components/GridPanel';
import type { PipelineService } from '../../src/services/pipelineClient';
import { createAppStore } from '../../src/store/appStore';
import { StoreProvider } from '../../src/store/storeContext';
import { cssRgb, lightPalette, paletteTables } from '../../src/viz/palette';
import { densityRampTicks, weightRampTicks } from '../../src/viz/rampTicks';
import { weightColourIndex } from '../../src/viz/tileRaster';
import { memoryLoader, seededModel } from '../fixtures/studio';

afterEach(cleanup);

const noPipeline = (): PipelineService => {
  throw new Error('no worker in this test');
};

async function renderPanel() {
  const model = seededModel([64, 48, 16, 48, 64], 3);
  const store = createAppStore({
    loader: memoryLoader({ ae: { dense: model, twin: null } }),
    pipeline: noPipeline,
    schedule: (run) => run(),
  });
  render(
    <StoreProvider store={store}>
      <GridPanel />
    </StoreProvider>,
  );
  store.getState().setTileShape(4, 8, 8192);
  store.getState().setTheme('light');
  await act(() => store.getState().loadPreset('ae'));
  return { store, model };
}

const maxAbsOf = (data: Float32Array) => data.reduce((m, w) => Math.max(m, Math.abs(w)), 0);

/** The legend's tick labels and their CSS left offsets (percent of the ramp's width). */
const ticks = () =>
  screen.getAllByTestId('legend-tick').map((el) => ({
    label: el.textContent,
    left: parseFloat(el.style.left),
  }));

describe('grid legend', () => {
  it("labels the weight ramp with the selected layer's -max, -max/4, 0, max/4, max at their eased positions", async () => {
    const { store, model } = await renderPanel();
    const max0 = maxAbsOf(model.network.layers[0].weights.data);
    // d3-format writes a true minus sign.
    const f = (x: number) => (x < 0 ? '−' : '') + String(+Math.abs(x).toPrecision(3));
    expect(ticks()).toEqual([
      { label: f(-max0), left: 0 },
      { label: f(-max0 / 4), left: 25 },
      { label: '0', left: 50 },
      { label: f(max0 / 4), left: 75 },
      { label: f(max0), left: 100 },
    ]);
    // Another layer, another bound.
    act(() => store.getState().selectLayer(2));
    const max2 = maxAbsOf(model.network.layers[2].weights.data);
    expect(max2).not.toBeCloseTo(max0, 3);
    expect(ticks().map((t) => t.label)).toEqual([
      f(-max2),
      f(-max2 / 4),
      '0',
      f(max2 / 4),
      f(max2),
    ]);
  });

  it('puts every weight tick under the colour the grid paints for that weight', async () => {
    const { model } = await renderPanel();
    const max0 = maxAbsOf(model.network.layers[0].weights.data);
    const p = lightPalette;
    const lut = paletteTables(p).weights;
    // The CSS gradient: negative -> neutral -> positive, evenly spread, linear in RGB.
    const neg = interpolateRgb(cssRgb(p.negative), cssRgb(p.neutral));
    const pos = interpolateRgb(cssRgb(p.neutral), cssRgb(p.positive));
    for (const [i, t] of ticks().entries()) {
      const value = [-1, -0.25, 0, 0.25, 1][i] * max0;
      const x = t.left / 100;
      const onRamp = lab(x < 0.5 ? neg(2 * x) : pos(2 * x - 1));
      const k = weightColourIndex(value, max0) * 3;
      const painted = lab(cssRgb([lut[k], lut[k + 1], lut[k + 2]]));
      const deltaE = Math.hypot(onRamp.l - painted.l, onRamp.a - painted.a, onRamp.b - painted.b);
      expect(deltaE).toBeLessThan(2);
    }
  });

  it('labels the density ramp in kept weights of a t1 x t2 tile', async () => {
    const { store } = await renderPanel();
    act(() => {
      fireEvent.click(screen.getByRole('radio', { name: 'Tile density' }));
    });
    expect(store.getState().viewMode).toBe('density');
    expect(ticks()).toEqual([
      { label: '1 of 32', left: 3.125 },
      { label: '16 of 32', left: 50 },
      { label: '32 of 32', left: 100 },
    ]);
    expect(screen.getByLabelText('Legend').textContent).toMatch(/weights kept per tile/);
    act(() => store.getState().setTileShape(2, 4, 8192));
    expect(ticks().map((t) => t.label)).toEqual(['1 of 8', '4 of 8', '8 of 8']);
    // The mask view has no ramp, so no numbers.
    act(() => store.getState().setViewMode('mask'));
    expect(screen.queryAllByTestId('legend-tick')).toHaveLength(0);
  });
});

describe('ramp ticks', () => {
  it('none for an all-zero layer; one tick per distinct count for tiny tiles', () => {
    expect(weightRampTicks(0)).toEqual([]);
    expect(densityRampTicks(1).map((t) => [t.label, t.position])).toEqual([['1 of 1', 1]]);
    expect(densityRampTicks(2).map((t) => t.label)).toEqual(['1 of 2', '2 of 2']);
  });
});
