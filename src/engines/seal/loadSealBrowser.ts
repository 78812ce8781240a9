// Browser-only: the `?url` import makes Vite emit the .wasm as an asset and gives its URL.
// Never import this module from code Node tests load (under vitest the URL is not a file).
import wasmUrl from 'node-seal-dist/seal_throws.wasm?url';
import { HepexError } from '../../core/model/errors';
import { loadSeal, type LoadedSeal } from './loadSeal';
import { hasWasmExceptions, sealExceptionMessage } from './sealErrors';

export const BROWSER_TOO_OLD =
  'This browser cannot run the encryption engine: it needs WebAssembly exception handling ' +
  '(Chrome or Edge 138+, Firefox 131+, Safari 18.4+). Please update your browser.';

/**
 * Loads node-seal in a browser (module worker or page), instantiating the emitted .wasm
 * ourselves so the heap size can be read. An engine that fails to compile means the browser
 * lacks the WebAssembly features SEAL's build uses: say so in plain words.
 */
export async function loadSealInBrowser(): Promise<LoadedSeal> {
  if (typeof WebAssembly !== 'object' || !hasWasmExceptions()) {
    throw new HepexError('he-runtime', BROWSER_TOO_OLD);
  }
  try {
    return await loadSeal({
      locateFile: () => wasmUrl,
      instantiate: (imports) => WebAssembly.instantiateStreaming(fetch(wasmUrl), imports),
    });
  } catch (error) {
    if (error instanceof WebAssembly.CompileError || error instanceof WebAssembly.LinkError) {
      throw new HepexError('he-runtime', `${BROWSER_TOO_OLD} (${error.message})`);
    }
    const seal = sealExceptionMessage(error);
    const detail = seal ? seal.what : error instanceof Error ? error.message : String(error);
    throw new HepexError('he-runtime', `The encryption engine failed to start: ${detail}`);
  }
}
