/// <reference lib="webworker" />
import { expose, transfer } from 'comlink';
import type { PoolMemberInit } from '../src/engines/seal/hePoolMember';
import { createPoolMemberApi, resultBuffers } from '../src/engines/seal/hePoolMemberApi';
import type { PackedBatch } from '../src/engines/seal/hePoolWire';
import { loadSealInBrowser } from '../src/engines/seal/loadSealBrowser';
import { toError } from '../src/engines/seal/sealErrors';
import { installHepexErrorTransfer } from './errorTransfer';

/**
 * One worker of the studio's HE pool, started by the HE worker (which keeps the secret key):
 * a thin comlink facade over a pool member. It holds evaluation keys and its share of the
 * model's operands, and runs one layer at a time on ciphertexts that arrive serialized.
 */
installHepexErrorTransfer();

const api = createPoolMemberApi(async () => (await loadSealInBrowser()).seal);

async function guarded<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toError(error, what);
  }
}

expose({
  init: (init: PoolMemberInit) => guarded('Preparing an HE pool worker', () => api.init(init)),
  runLayer: (l: number, inputs: PackedBatch) =>
    guarded('Encrypted inference', async () => {
      const result = await api.runLayer(l, inputs);
      return transfer(result, resultBuffers(result));
    }),
  accumulate: (l: number, inputs: PackedBatch) =>
    guarded('Encrypted inference', async () => {
      const result = await api.accumulate(l, inputs);
      return transfer(result, resultBuffers(result));
    }),
  finish: (l: number, partials: PackedBatch, members: number) =>
    guarded('Encrypted inference', async () => {
      const result = await api.finish(l, partials, members);
      return transfer(result, resultBuffers(result));
    }),
  stream: (l: number, inputs: PackedBatch, flags: { first: boolean; last: boolean }) =>
    guarded('Encrypted inference', async () => {
      const result = await api.stream(l, inputs, flags);
      return transfer(result, resultBuffers(result));
    }),
  cancel: () => api.cancel(),
  probe: (batch: PackedBatch) => api.probe(batch),
  stats: () => guarded('HE pool worker stats', () => api.stats()),
  close: () => api.close(),
});
