import { useState } from 'react';
import { historyFileName } from '../store/exportNames';
import { runsToCsv, runsToJson } from '../store/runsSlice';
import { useAppStore } from '../store/storeContext';

function download(name: string, parts: BlobPart[], type: string): void {
  const url = URL.createObjectURL(new Blob(parts, { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Downloads: the shown model as TF.js files, the history as CSV / JSON, the big grid as PNG. */
export function ExportButtons() {
  const exportModel = useAppStore((s) => s.exportModel);
  const runs = useAppStore((s) => s.runs);
  const hasModel = useAppStore((s) => s.shown !== null);
  const layer = useAppStore((s) => s.selectedLayer);
  const modelName = useAppStore((s) => s.dense?.name || 'model');
  const modelKey = useAppStore((s) => s.modelKey);
  const [exporting, setExporting] = useState(false);
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
      <button
        type="button"
        className="button"
        disabled={!hasModel}
        onClick={() => {
          const canvas = document.querySelector<HTMLCanvasElement>(
            '[data-testid="tile-grid-main"] canvas',
          );
          canvas?.toBlob((blob) => blob && download(`layer-${layer + 1}.png`, [blob], 'image/png'));
        }}
      >
        Grid PNG
      </button>
    </div>
  );
}
