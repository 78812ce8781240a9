import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// node-seal's exports map hides dist/, but the browser needs its .wasm as an emitted asset
// (imported with ?url and handed to the factory's locateFile).
const sealDist = fileURLToPath(new URL('./node_modules/node-seal/dist', import.meta.url));

const CROSS_ORIGIN_ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  plugins: [react()],
  resolve: { alias: { 'node-seal-dist': sealDist } },
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['node-seal'] },
  build: { target: 'es2023', chunkSizeWarningLimit: 4000 },
  // Cross-origin isolation, so the page can hand its HE workers one SharedArrayBuffer of input
  // ciphertexts instead of a copy each (every resource here is same-origin). A host that
  // cannot send these headers still works: the pool then copies (hePoolWire.canShareMemory).
  server: { port: 5173, headers: CROSS_ORIGIN_ISOLATION },
  preview: { port: 4173, headers: CROSS_ORIGIN_ISOLATION },
});
