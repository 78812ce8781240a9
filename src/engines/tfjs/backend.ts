import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

/**
 * One tfjs backend per realm, chosen once (memoised): WASM (XNNPACK, ~9 GFLOPS for a 256x784x256
 * matMul on this machine against ~1.4 for the pure-JS cpu backend), else cpu. In Node the WASM
 * backend finds its .wasm next to its own module; in the browser the caller passes the URLs the
 * bundler emitted (backendBrowser.ts), since Vite moves assets.
 */
export type BackendName = 'wasm' | 'cpu';

export interface BackendOptions {
  /** Wanted backend; default 'wasm' with fallback to 'cpu'. */
  readonly prefer?: BackendName;
  /** Browser only: the emitted URLs of the tfjs-backend-wasm binaries. */
  readonly wasmPaths?: Record<
    | 'tfjs-backend-wasm.wasm'
    | 'tfjs-backend-wasm-simd.wasm'
    | 'tfjs-backend-wasm-threaded-simd.wasm',
    string
  >;
}

let ready: Promise<BackendName> | undefined;

export function setupBackend(options: BackendOptions = {}): Promise<BackendName> {
  ready ??= (async (): Promise<BackendName> => {
    if (options.wasmPaths) setWasmPaths(options.wasmPaths);
    if ((options.prefer ?? 'wasm') === 'wasm') {
      try {
        if (await tf.setBackend('wasm')) {
          await tf.ready();
          return 'wasm';
        }
      } catch {
        // The WASM binary could not load (missing asset, no WebAssembly): use the cpu backend.
      }
    }
    await tf.setBackend('cpu');
    await tf.ready();
    return 'cpu';
  })();
  return ready;
}

export { tf };
