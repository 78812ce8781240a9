import initialize, { type MainModule } from 'node-seal';

/** The node-seal 7 module (SEAL 4.1 compiled to WebAssembly, raw embind API). */
export type Seal = MainModule;

export interface LoadSealOptions {
  /** Where the .wasm lives (the browser build passes the URL Vite emitted). */
  readonly locateFile?: (path: string) => string;
  /**
   * Instantiates the module ourselves so we can hold on to its WebAssembly.Memory (for the
   * heap size). Called with emscripten's import object.
   */
  readonly instantiate?: (
    imports: WebAssembly.Imports,
  ) => Promise<WebAssembly.WebAssemblyInstantiatedSource>;
}

export interface LoadedSeal {
  readonly seal: Seal;
  /** The module's linear memory when it could be captured (browser loader), else undefined. */
  readonly memory: WebAssembly.Memory | undefined;
}

let loading: Promise<LoadedSeal> | undefined;

/**
 * Loads node-seal once per realm (worker, Node process) behind a memoised promise. In Node the
 * plain factory call finds the .wasm next to its JS; the browser passes `locateFile` (see
 * loadSealBrowser.ts). A failed load is not memoised, so a later call can retry.
 */
export function loadSeal(options: LoadSealOptions = {}): Promise<LoadedSeal> {
  loading ??= instantiateSeal(options).catch((error: unknown) => {
    loading = undefined;
    throw error;
  });
  return loading;
}

async function instantiateSeal(options: LoadSealOptions): Promise<LoadedSeal> {
  let memory: WebAssembly.Memory | undefined;
  const factoryOptions: Record<string, unknown> = {};
  if (options.locateFile) factoryOptions.locateFile = options.locateFile;
  const { instantiate } = options;
  // Emscripten's hook has no failure path: a rejected instantiation would leave the factory
  // pending forever, so a failure is raced against it.
  let fail: (error: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => (fail = reject));
  if (instantiate) {
    factoryOptions.instantiateWasm = (
      imports: WebAssembly.Imports,
      done: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void,
    ) => {
      instantiate(imports).then(({ instance, module }) => {
        memory = Object.values(instance.exports).find(
          (v): v is WebAssembly.Memory => v instanceof WebAssembly.Memory,
        );
        done(instance, module);
      }, fail);
      return {};
    };
  }
  const seal = await Promise.race([initialize(factoryOptions), failed]);
  return { seal, memory };
}
