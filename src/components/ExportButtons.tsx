import { useState } from 'react';
import { historyFileName } from '../store/exportNames';
import { gridExportOf } from '../store/gridExport';
import { download } from './download';
import { runsToCsv, runsToJson } from '../store/runsSlice';
import { useAppStore, useAppStoreApi } from '../store/storeContext';
import { GRID_IMAGE_SCALES, type GridImageScale } from '../viz/gridImage';
import { renderGridImage } from '../viz/gridImageCanvas';
import { paletteFor } from '../viz/palette';
import { useResolvedTheme } from '../viz/useResolvedTheme';

/**
 * Downloads, named by what they hold (exportNames.ts): the shown model as TF.js files and as
 * ONNX (on raw inputs, or the HE server's model with the client permutations as JSON), the
 * history as CSV / JSON, and the selected layer as a PNG at 1, 2 or 4 px per weight with title
 * and legend (drawn offscreen from the layer's weights, not a grab of the zoomed screen).
 */
export function ExportButtons() {
  const exportModel = useAppStore((s) => s.exportModel);
  const exportOnnx = useAppStore((s) => s.exportOnnx);
  const runs = useAppStore((s) => s.runs);
  const hasModel = useAppStore((s) => s.shown !== null);
  const layer = useAppStore((s) => s.selectedLayer);
  const modelName = useAppStore((s) => s.dense?.name || 'model');
  const modelKey = useAppStore((s) => s.modelKey);
  const showError = useAppStore((s) => s.showError);
  const clearError = useAppStore((s) => s.clearError);
  const theme = useResolvedTheme(useAppStore((s) => s.theme));
  const store = useAppStoreApi();
  const [exporting, setExporting] = useState(false);
  const [onnxForm, setOnnxForm] = useState<'function' | 'server' | null>(null);
  const saveOnnx = async (form: 'function' | 'server') => {
    setOnnxForm(form);
    try {
      const out = await exportOnnx(form);
      for (const f of out?.files ?? []) {
        const json = typeof f.data === 'string';
        download(
          f.name,
          [json ? f.data : (f.data as Uint8Array<ArrayBuffer>)],
          json ? 'application/json' : 'application/octet-stream',
        );
      }
    } finally {
      setOnnxForm(null);
    }
  };
  const [scale, setScale] = useState<GridImageScale>(1);
  const [drawing, setDrawing] = useState(false);
  const historyName = (ext: 'csv' | 'json') =>
    historyFileName(
      modelName,
      runs.length,
      new Set(runs.map((r) => r.model).filter((m) => m !== modelKey)).size,
      new Date(),
      ext,
    );

  return (
    <div className="export" role="group" aria-label="Export">
      <button
        type="button"
        className="button"
        disabled={!hasModel || exporting}
        data-testid="export-model"
        onClick={async () => {
          setExporting(true);
          try {
            const files = await exportModel();
            if (files) {
              download(files.modelFile, [files.modelJson], 'application/json');
              download(
                files.weightsFile,
                [files.weights as Uint8Array<ArrayBuffer>],
                'application/octet-stream',
              );
            }
          } finally {
            setExporting(false);
          }
        }}
      >
        {exporting ? 'Exporting…' : 'Export model (TF.js)'}
      </button>
      <button
        type="button"
        className="button"
        disabled={!hasModel || onnxForm !== null}
        data-testid="export-onnx"
        title="One ONNX model on raw inputs, the client permutations inside (HElayers' op subset)"
        onClick={() => saveOnnx('function')}
      >
        {onnxForm === 'function' ? 'Exporting…' : 'ONNX'}
      </button>
      <button
        type="button"
        className="button"
        disabled={!hasModel || onnxForm !== null}
        data-testid="export-onnx-server"
        title="The ONNX model the HE server runs (packing order) and the client permutations as JSON"
        onClick={() => saveOnnx('server')}
      >
        {onnxForm === 'server' ? 'Exporting…' : 'ONNX for the HE server'}
      </button>
      <button
        type="button"
        className="button"
        disabled={!runs.length}
        onClick={() => download(historyName('csv'), [runsToCsv(runs)], 'text/csv')}
      >
        History CSV
      </button>
      <button
        type="button"
        className="button"
        disabled={!runs.length}
        onClick={() => download(historyName('json'), [runsToJson(runs)], 'application/json')}
      >
        History JSON
      </button>
      <span className="export__png">
        <button
          type="button"
          className="button"
          disabled={!hasModel || drawing}
          data-testid="export-grid-png"
          onClick={async () => {
            const spec = gridExportOf(store.getState(), layer, scale);
            if (!spec) return;
            setDrawing(true);
            try {
              const blob = await renderGridImage({
                data: spec.data,
                mode: spec.mode,
                palette: paletteFor(theme),
                maxAbs: spec.maxAbs,
                tileSize: spec.tileSize,
                title: spec.title,
                scale,
              });
              download(spec.fileName, [blob], 'image/png');
              clearError('export');
            } catch (error) {
              // Too large, or the browser could not encode it: say so, change nothing else.
              showError(error instanceof Error ? error.message : String(error), 'export');
            } finally {
              setDrawing(false);
            }
          }}
        >
          {drawing ? 'Drawing…' : 'Grid PNG'}
        </button>
        <select
          aria-label="Grid PNG scale"
          data-testid="export-grid-scale"
          value={scale}
          disabled={!hasModel}
          onChange={(e) => setScale(Number(e.target.value) as GridImageScale)}
        >
          {GRID_IMAGE_SCALES.map((k) => (
            <option key={k} value={k}>
              {k} px / weight
            </option>
          ))}
        </select>
      </span>
    </div>
  );
}
