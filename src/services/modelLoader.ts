import { HepexError } from '../core/model/errors';
import type { HepexModel } from '../core/io/model';
import { modelFromFiles } from '../core/io/layersModelFile';
import { manifestWeightPaths } from '../core/io/layersModelManifest';
import { readModelOrSource, readOnnxModel } from './sourceModel';

/**
 * Loads models into the studio: the presets shipped in public/models/ and files a person opens.
 *
 * Layout (made by the project's CLI, see public/models/README.md):
 *   models/index.json                                which presets exist and which have a twin
 *   models/<preset>/model.json + weights.bin         the trained dense model
 *   models/<preset>/hepex/model.json + weights.bin   its HE-PEx-pruned twin (when index.json says so)
 * The index avoids probing for files that may not exist (a 404 is noise in every console).
 *
 * The TF.js parsing lives in src/engines/tfjs/modelFiles.ts and is imported on first use, so
 * the page paints before tfjs is fetched. Every failure is a HepexError in plain words.
 */
export interface LoadedModels {
  readonly dense: HepexModel;
  readonly twin: HepexModel | null;
}

export interface ModelLoader {
  loadPreset(preset: string, signal?: AbortSignal): Promise<LoadedModels>;
  /** model.json plus its weight file(s), in any order. */
  loadFiles(files: readonly File[], signal?: AbortSignal): Promise<LoadedModels>;
  /**
   * TF.js files of a model, with userDefinedMetadata.hepex. model.json's manifest names the
   * weights `weightsFile` (default weights.bin): save the weights under that name.
   */
  exportModel(
    model: HepexModel,
    weightsFile?: string,
  ): Promise<{ modelJson: string; weights: Uint8Array }>;
  /**
   * ONNX bytes of a model (src/engines/onnx/onnxExport.ts, imported on first use): 'function'
   * computes it on raw inputs; 'server' is what the HE server runs, with the client
   * permutations as JSON beside it.
   */
  exportOnnx(model: HepexModel, form: OnnxForm): Promise<OnnxFiles>;
}

export type OnnxForm = 'function' | 'server';

export interface OnnxFiles {
  readonly onnx: Uint8Array;
  /** The server form's client permutations (input and output orders). */
  readonly permutationJson?: string;
}

/** models/index.json: preset -> directories (relative to models/) of the dense model and its twin. */
export type ModelIndex = Record<string, { readonly dense: string; readonly twin?: string }>;

const DIR = /^[a-z0-9-]+(\/[a-z0-9-]+)?$/;

export function parseModelIndex(text: string): ModelIndex {
  const json = JSON.parse(text) as { presets?: unknown };
  const presets = json.presets;
  if (typeof presets !== 'object' || presets === null || Array.isArray(presets))
    throw new Error('it has no "presets" object');
  const out: ModelIndex = {};
  for (const [name, value] of Object.entries(presets as Record<string, unknown>)) {
    const v = value as { dense?: unknown; twin?: unknown } | null;
    if (typeof v?.dense !== 'string' || !DIR.test(v.dense))
      throw new Error(`preset "${name}" needs a "dense" directory name`);
    if (v.twin !== undefined && (typeof v.twin !== 'string' || !DIR.test(v.twin)))
      throw new Error(`preset "${name}" has an invalid "twin"`);
    out[name] = { dense: v.dense, ...(typeof v.twin === 'string' ? { twin: v.twin } : {}) };
  }
  return out;
}

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

async function modelFiles() {
  const [files, backend] = await Promise.all([
    import('../engines/tfjs/modelFiles'),
    import('../engines/tfjs/backend'),
  ]);
  // Export builds a small LayersModel: the cpu backend does it without fetching any WASM.
  await backend.setupBackend({ prefer: 'cpu' });
  return files;
}

/**
 * Weight file names a model.json's manifest lists, checked to be plain names next to it (the
 * CLI's check: core/io/layersModelManifest.ts, depth-bounded before anything recurses).
 */
export const manifestPaths = (modelJson: string): string[] => manifestWeightPaths(modelJson);

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface FetchLoaderOptions {
  /** Base URL of the models folder; default Vite's BASE_URL + 'models/'. */
  readonly baseUrl?: string;
  readonly fetch?: Fetch;
}

export function createModelLoader(options: FetchLoaderOptions = {}): ModelLoader {
  const base = options.baseUrl ?? `${import.meta.env?.BASE_URL ?? '/'}models/`;
  const doFetch: Fetch = options.fetch ?? ((input, init) => fetch(input, init));

  async function fetchModel(dir: string, signal: AbortSignal | undefined): Promise<HepexModel> {
    const url = `${base}${dir}/model.json`;
    let response: Response;
    try {
      response = await doFetch(url, { signal });
    } catch (error) {
      if (signal?.aborted) throw new HepexError('cancelled', 'Loading was cancelled.');
      throw new HepexError(
        'invalid-model-file',
        `Could not fetch ${url} (${(error as Error).message}).`,
      );
    }
    // Vite's preview and dev servers answer unknown paths with index.html (200, text/html).
    const isHtml = (response.headers.get('content-type') ?? '').includes('text/html');
    if (!response.ok || isHtml) {
      throw new HepexError(
        'invalid-model-file',
        `The model files for this preset are missing: ${url} was not found. Generate them with the CLI (see public/models/README.md) or open a model.json and weights.bin.`,
      );
    }
    const modelJson = await response.text();
    const parts = await Promise.all(
      manifestPaths(modelJson).map(async (p) => {
        const r = await doFetch(`${base}${dir}/${p}`, { signal });
        if (!r.ok || (r.headers.get('content-type') ?? '').includes('text/html')) {
          throw new HepexError(
            'invalid-model-file',
            `The weights file ${base}${dir}/${p} is missing.`,
          );
        }
        return new Uint8Array(await r.arrayBuffer());
      }),
    );
    return modelFromFiles(modelJson, concat(parts));
  }

  async function fetchIndex(signal: AbortSignal | undefined): Promise<ModelIndex> {
    let response: Response | undefined;
    try {
      response = await doFetch(`${base}index.json`, { signal });
    } catch {
      response = undefined;
    }
    if (!response?.ok || (response.headers.get('content-type') ?? '').includes('text/html'))
      return {};
    try {
      return parseModelIndex(await response.text());
    } catch (error) {
      throw new HepexError(
        'invalid-model-file',
        `${base}index.json is malformed: ${(error as Error).message}`,
      );
    }
  }

  return {
    async loadPreset(preset, signal) {
      if (!/^[a-z0-9-]+$/.test(preset))
        throw new HepexError('invalid-argument', `"${preset}" is not a preset name.`);
      const entry = (await fetchIndex(signal))[preset];
      if (!entry) {
        throw new HepexError(
          'invalid-model-file',
          `No model files are installed for the preset "${preset}" (${base}index.json does not list it). Generate them with the CLI (see public/models/README.md) or open a model.json and weights.bin.`,
        );
      }
      const [dense, twin] = await Promise.all([
        fetchModel(entry.dense, signal),
        entry.twin ? fetchModel(entry.twin, signal) : Promise.resolve(null),
      ]);
      return { dense, twin };
    },

    async loadFiles(files) {
      const onnx = files.find((f) => /\.onnx$/i.test(f.name));
      if (onnx) return { dense: await readOnnxModel(onnx), twin: null };
      const json = files.find((f) => f.name.endsWith('.json'));
      if (!json)
        throw new HepexError(
          'invalid-model-file',
          'Open a model.json together with its weights file (weights.bin), or an .onnx file.',
        );
      const modelJson = await json.text();
      const byName = new Map(files.map((f) => [f.name, f]));
      const parts = await Promise.all(
        manifestPaths(modelJson).map(async (p) => {
          const file =
            byName.get(p) ?? (files.length === 2 ? files.find((f) => f !== json) : undefined);
          if (!file)
            throw new HepexError(
              'invalid-model-file',
              `model.json needs the weights file "${p}"; open it together with model.json.`,
            );
          return new Uint8Array(await file.arrayBuffer());
        }),
      );
      // A ReLU model rejects with ConversionNeeded (carrying it), so the studio can convert it.
      return { dense: await readModelOrSource(modelJson, concat(parts)), twin: null };
    },

    async exportModel(model, weightsFile) {
      const { modelToFiles } = await modelFiles();
      return modelToFiles(model, weightsFile);
    },

    async exportOnnx(model, form) {
      const { exportOnnx, clientPermutationFile } = await import('../engines/onnx/onnxExport');
      const onnx = exportOnnx(model, form);
      if (form === 'function') return { onnx };
      return { onnx, permutationJson: JSON.stringify(clientPermutationFile(model)) + '\n' };
    },
  };
}
