import { useAppStore } from '../store/storeContext';
import { PRESETS, PRESET_LABELS, type Preset } from '../store/types';
import { OpenFilesButton } from './OpenFilesButton';

/** Preset choice and "open model files" (model.json + weights.bin). */
export function ModelPicker() {
  const preset = useAppStore((s) => s.preset);
  const loadPreset = useAppStore((s) => s.loadPreset);
  const loadFiles = useAppStore((s) => s.loadFiles);
  // Opened IDX files serve retraining, metrics and training from scratch alike.
  const openDataFiles = useAppStore((s) => s.openDataFiles);
  const status = useAppStore((s) => s.status);
  const source = useAppStore((s) => s.sourceLabel);

  return (
    <div className="model-picker">
      <label className="field field--inline">
        <span className="field__label">Model</span>
        <select
          value={preset}
          onChange={(e) => void loadPreset(e.target.value as Preset)}
          aria-label="Model preset"
          data-testid="preset-select"
        >
          {PRESETS.map((p) => (
            <option key={p} value={p}>
              {PRESET_LABELS[p]}
            </option>
          ))}
        </select>
      </label>
      <OpenFilesButton
        label="Open model files…"
        inputLabel="Open model.json and weights.bin"
        accept=".json,.bin,.onnx,application/json,application/octet-stream"
        testId="model-files-input"
        onFiles={(files) => void loadFiles(files)}
      />
      <OpenFilesButton
        label="Open IDX data…"
        inputLabel="Open an IDX images file and its labels file"
        testId="data-files-input"
        onFiles={(files) => void openDataFiles(files)}
      />
      <span className="model-picker__source" data-testid="model-source" aria-live="polite">
        {status === 'loading' ? 'Loading model…' : source}
      </span>
    </div>
  );
}
