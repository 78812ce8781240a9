import { useRef } from 'react';
import { useAppStore } from '../store/storeContext';
import { PRESETS, PRESET_LABELS, type Preset } from '../store/types';

/** Preset choice and "open model files" (model.json + weights.bin). */
export function ModelPicker() {
  const preset = useAppStore((s) => s.preset);
  const loadPreset = useAppStore((s) => s.loadPreset);
  const loadFiles = useAppStore((s) => s.loadFiles);
  const loadData = useAppStore((s) => s.loadData);
  const dataInput = useRef<HTMLInputElement>(null);
  const status = useAppStore((s) => s.status);
  const source = useAppStore((s) => s.sourceLabel);
  const fileInput = useRef<HTMLInputElement>(null);

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
      <button type="button" className="button" onClick={() => fileInput.current?.click()}>
        Open model files…
      </button>
      <input
        ref={fileInput}
        type="file"
        accept=".json,.bin,application/json,application/octet-stream"
        multiple
        hidden
        aria-label="Open model.json and weights.bin"
        data-testid="model-files-input"
        onChange={(e) => {
          const files = Array.from(e.target.files ?? []);
          e.target.value = '';
          if (files.length) void loadFiles(files);
        }}
      />
      <button type="button" className="button" onClick={() => dataInput.current?.click()}>
        Open IDX data…
      </button>
      <input
        ref={dataInput}
        type="file"
        multiple
        hidden
        aria-label="Open an IDX images file and its labels file"
        data-testid="data-files-input"
        onChange={(e) => {
          const files = Array.from(e.target.files ?? []);
          e.target.value = '';
          if (files.length) void loadData(files);
        }}
      />
      <span className="model-picker__source" data-testid="model-source" aria-live="polite">
        {status === 'loading' ? 'Loading model…' : source}
      </span>
    </div>
  );
}
