import { parentPort } from 'node:worker_threads';
import { expose, transfer } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import type { PoolMemberInit } from './hePoolMember';
import { createPoolMemberApi, resultBuffers } from './hePoolMemberApi';
import { loadSeal } from './loadSeal';
import type { PackedBatch } from './hePoolWire';

/** Node worker thread of an HE pool (hePoolNode.ts): a comlink facade over one pool member. */
const api = createPoolMemberApi(async () => (await loadSeal()).seal);

expose(
  {
    init: (init: PoolMemberInit) => api.init(init),
    async runLayer(l: number, inputs: PackedBatch) {
      const result = await api.runLayer(l, inputs);
      return transfer(result, resultBuffers(result));
    },
    async accumulate(l: number, inputs: PackedBatch) {
      const result = await api.accumulate(l, inputs);
      return transfer(result, resultBuffers(result));
    },
    async finish(l: number, partials: PackedBatch, members: number) {
      const result = await api.finish(l, partials, members);
      return transfer(result, resultBuffers(result));
    },
    async stream(l: number, inputs: PackedBatch, flags: { first: boolean; last: boolean }) {
      const result = await api.stream(l, inputs, flags);
      return transfer(result, resultBuffers(result));
    },
    cancel: () => api.cancel(),
    probe: (batch: PackedBatch) => api.probe(batch),
    stats: () => api.stats(),
    close: () => api.close(),
  },
  nodeEndpoint(parentPort!),
);
