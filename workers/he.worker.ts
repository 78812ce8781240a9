/// <reference lib="webworker" />
import { expose } from 'comlink';
import { loadSealInBrowser } from '../src/engines/seal/loadSealBrowser';
import { installHepexErrorTransfer } from './errorTransfer';
import { createHeApi } from './heApi';
import { spawnBrowserPoolWorkers } from './hePoolBrowser';

/**
 * The HE worker: a thin comlink facade over src/engines/seal (the API itself is heApi.ts, so
 * Node tests can drive it over a real channel). SEAL, its contexts and keys live only here (the
 * secret key never crosses the boundary); plain numbers, typed arrays and serialized
 * ciphertexts do. Every method converts SEAL's WebAssembly.Exception into an Error (comlink
 * cannot clone the former). Long jobs take a job id: `cancel(jobId)` stops them between tiles,
 * leaving the worker and its sessions usable.
 */
installHepexErrorTransfer();

const api = createHeApi({
  loadSeal: loadSealInBrowser,
  spawnPoolWorkers: spawnBrowserPoolWorkers,
  runtime: 'this browser',
});

export type { HeApi, HeEngineInfo, ProgressCallback, SessionRequest } from './heApi';

expose(api);
