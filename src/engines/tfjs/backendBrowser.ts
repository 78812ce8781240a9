// Browser-only: `?url` makes Vite emit the tfjs WASM binaries as assets and gives their URLs
// (the package's own guess, next to the script, is wrong once bundled).
import wasmUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import simdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import threadedUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { setupBackend, tf, type BackendName } from './backend';

/** WASM (SIMD when the browser has it) with the cpu backend as fallback. */
export function setupBrowserBackend(): Promise<BackendName> {
  // One thread: the page is cross-origin isolated (for the HE pool's shared buffers), which
  // would otherwise make tfjs pick its threaded build, whose pthread worker script the bundle
  // does not carry; and the cores belong to the HE workers.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  return setupBackend({
    wasmPaths: {
      'tfjs-backend-wasm.wasm': wasmUrl,
      'tfjs-backend-wasm-simd.wasm': simdUrl,
      'tfjs-backend-wasm-threaded-simd.wasm': threadedUrl,
    },
  });
}
