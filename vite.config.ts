import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// node-seal's exports map hides dist/, but the browser needs its .wasm as an emitted asset
// (imported with ?url and handed to the factory's locateFile).
const sealDist = fileURLToPath(new URL('./node_modules/node-seal/dist', import.meta.url));

export default defineConfig({
  plugins: [react()],
  resolve: { alias: { 'node-seal-dist': sealDist } },
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['node-seal'] },
  build: { target: 'es2023', chunkSizeWarningLimit: 4000 },
  server: { port: 5173 },
  preview: { port: 4173 },
});
