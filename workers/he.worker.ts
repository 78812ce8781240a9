/// <reference lib="webworker" />
import { expose } from 'comlink';
import type { RingDegree } from '../src/core/tileShape';
import { loadSealInBrowser } from '../src/engines/seal/loadSealBrowser';
import { toError } from '../src/engines/seal/sealErrors';
import { sealSelfTest, type SealSelfTest } from '../src/engines/seal/selfTest';
import { installHepexErrorTransfer } from './errorTransfer';

/**
 * The HE worker: a thin comlink facade over src/engines/seal. SEAL, its context and keys live
 * only here; plain numbers and serialized bytes cross the boundary. Every method converts
 * SEAL's WebAssembly.Exception into an Error (comlink cannot clone the former).
 */
installHepexErrorTransfer();

async function guarded<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toError(error, what);
  }
}

export interface HeEngineInfo extends SealSelfTest {
  /** WebAssembly heap of the worker, bytes (never shrinks). */
  readonly heapBytes: number | undefined;
}

const api = {
  /** Loads SEAL (once) and round-trips a vector at `ringDegree`. */
  selfTest(ringDegree: RingDegree = 8192): Promise<HeEngineInfo> {
    return guarded('The HE self-test', async () => {
      const { seal, memory } = await loadSealInBrowser();
      const result = sealSelfTest(seal, ringDegree);
      return { ...result, heapBytes: memory?.buffer.byteLength };
    });
  },
};

export type HeApi = typeof api;

expose(api);
