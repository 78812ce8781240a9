import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { expose, proxy, wrap, type Remote } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command as costCommand } from '../../src/cli/commands/cost';
import { command as exportCommand } from '../../src/cli/commands/export';
import { command as inferCommand } from '../../src/cli/commands/infer';
import { command as sweepCommand } from '../../src/cli/commands/sweep';
import { createSpec, initNetwork } from '../../src/engines/tfjs/models';
import type { HepexModel } from '../../src/core/io/model';
import { LINEAR } from '../../src/core/model/activation';
import { planTiles } from '../../src/core/tiling/tilePlan';
import { createTileShape } from '../../src/core/tiling/tileShape';
import type { PoolWorker } from '../../src/engines/seal/hePoolWorkers';
import { createPoolMemberApi } from '../../src/engines/seal/hePoolMemberApi';
import { loadSeal, type Seal } from '../../src/engines/seal/loadSeal';
import { setupBackend } from '../../src/engines/tfjs/backend';
import { writeModelDir } from '../../src/engines/tfjs/modelDir';
import { installHepexErrorTransfer } from '../../workers/errorTransfer';
import { createHeApi, type HeApi, type SessionRequest } from '../../workers/heApi';
import { randomInputs, randomNetwork, randomPermutation, tilePrune } from '../fixtures/networks';

// The secret key never leaves the HE worker: every method the worker exposes over comlink is
// called through a real comlink channel (node MessageChannel), and everything that crosses it
// (return values, progress messages, and what the worker sends its pool members) is scanned for
// the raw bytes of every secret key SEAL generated in this process. Exports (model files, ONNX,
// CLI JSON) must hold no key material and no serialized SEAL object at all.

let seal: Seal;
/** Distinctive 64-byte windows of every secret key generated in this realm. */
const keyWindows: Buffer[] = [];
let keysSeen = 0;

/**
 * Records each secret key SEAL hands out: its serialization uncompressed (raw NTT coefficients,
 * uniformly random mod q, so any 64-byte slice is unique) and zstd/zlib-compressed (the forms a
 * careless saveToArray would produce). Header bytes (SEAL header, parms id, sizes) are skipped.
 */
function recordSecretKeys(s: Seal): void {
  const proto = s.KeyGenerator.prototype as {
    secretKey(this: unknown): { saveToArray(m: unknown): Uint8Array };
  };
  const original = proto.secretKey;
  proto.secretKey = function (this: unknown) {
    const sk = original.call(this);
    keysSeen++;
    for (const mode of [s.ComprModeType.none, s.ComprModeType.zstd, s.ComprModeType.zlib]) {
      const bytes = Buffer.from(sk.saveToArray(mode));
      const body = bytes.subarray(128);
      for (let k = 0; k < 6; k++) {
        const at = Math.floor((k / 6) * (body.length - 64));
        keyWindows.push(Buffer.from(body.subarray(at, at + 64)));
      }
    }
    return sk;
  };
}

/** Every byte sequence inside a value: typed arrays, buffers, strings (raw and base64), deep. */
function byteViews(value: unknown, out: Buffer[] = [], seen = new Set<unknown>()): Buffer[] {
  if (value === null || value === undefined) return out;
  if (typeof value === 'string') {
    out.push(Buffer.from(value, 'latin1'));
    if (value.length >= 88 && /^[A-Za-z0-9+/=\s]+$/.test(value))
      out.push(Buffer.from(value, 'base64'));
    return out;
  }
  if (typeof value !== 'object') return out;
  if (seen.has(value)) return out;
  seen.add(value);
  if (ArrayBuffer.isView(value)) {
    out.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    return out;
  }
  if (value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) {
    out.push(Buffer.from(value));
    return out;
  }
  if (value instanceof Map) {
    for (const [k, v] of value) {
      byteViews(k, out, seen);
      byteViews(v, out, seen);
    }
    return out;
  }
  if (value instanceof Set) {
    for (const v of value) byteViews(v, out, seen);
    return out;
  }
  if (value instanceof Error) byteViews(value.message, out, seen);
  for (const v of Object.values(value)) byteViews(v, out, seen);
  return out;
}

/** Bytes of any secret key (or a window of one) found in `value`: 0 when clean. */
function keyHits(value: unknown): number {
  let hits = 0;
  for (const bytes of byteViews(value)) for (const w of keyWindows) if (bytes.includes(w)) hits++;
  return hits;
}

/** Copies of every byte sequence in a message, taken before it is posted. */
const copyOfBytes = (message: unknown): Buffer[] => byteViews(message).map((b) => Buffer.from(b));

/** SEAL's serialization header: magic 0xA15E, header size 16, version 4.1 (any SEAL object). */
const SEAL_HEADER = Buffer.from([0x5e, 0xa1, 0x10, 0x04, 0x01]);

/** A MessageChannel that records every message posted through `port` (the worker side). */
function recordedChannel(record: unknown[]): { inside: MessagePort; outside: MessagePort } {
  const { port1, port2 } = new MessageChannel();
  const post = port1.postMessage.bind(port1);
  port1.postMessage = (message: unknown, transfer?: readonly unknown[]) => {
    record.push(copyOfBytes(message)); // copied now: transferred buffers detach on posting
    post(message, transfer as never);
  };
  return { inside: port1, outside: port2 };
}

/**
 * Pool members in this thread, each behind its own recorded comlink channel: what the HE worker
 * sends them is recorded too (a pool member must get evaluation keys, never the secret key).
 */
function inThreadPoolWorkers(record: unknown[], ports: MessagePort[]) {
  return (count: number): PoolWorker[] =>
    Array.from({ length: count }, () => {
      const { port1, port2 } = new MessageChannel();
      const post = port2.postMessage.bind(port2);
      port2.postMessage = (message: unknown, transfer?: readonly unknown[]) => {
        record.push(copyOfBytes(message));
        post(message, transfer as never);
      };
      ports.push(port1, port2);
      expose(
        createPoolMemberApi(async () => seal),
        nodeEndpoint(port1),
      );
      const api = wrap<ReturnType<typeof createPoolMemberApi>>(nodeEndpoint(port2));
      return {
        api: api as unknown as PoolWorker['api'],
        died: new Promise<never>(() => {}),
        terminate: () => undefined,
      };
    });
}

const fromWorker: unknown[] = [];
const toPool: unknown[] = [];
const ports: MessagePort[] = [];
let api: Remote<HeApi>;
let methodNames: string[];
let dir: string;

const sizes = [20, 12, 5];
const tile = createTileShape(4, 8, { ringDegree: 8192 });
// Depth 2 (linear activations): the smallest ring, N = 8192, keeps every call quick.
const network = tilePrune(
  randomNetwork(sizes, [LINEAR, LINEAR], 600),
  planTiles(sizes, tile),
  0.3,
  601,
);
const permutation = randomPermutation(sizes, 602);
const x = randomInputs(2, sizes[0], 603);

beforeAll(async () => {
  ({ seal } = await loadSeal());
  recordSecretKeys(seal);
  installHepexErrorTransfer();
  const local = createHeApi({
    loadSeal: () => loadSeal(),
    spawnPoolWorkers: inThreadPoolWorkers(toPool, ports),
    runtime: 'this test',
  });
  methodNames = Object.keys(local);
  const { inside, outside } = recordedChannel(fromWorker);
  ports.push(inside, outside);
  expose(local, nodeEndpoint(inside));
  api = wrap<HeApi>(nodeEndpoint(outside));
  await setupBackend({ prefer: 'cpu' });
  dir = await mkdtemp(join(tmpdir(), 'hepex-secrets-'));
});

afterAll(async () => {
  for (const p of ports) p.close();
  await rm(dir, { recursive: true, force: true });
});

describe('no comlink-exposed method of the HE worker returns or serializes the secret key', () => {
  it('every method, called with valid inputs over a real comlink channel, returns no key bytes', async () => {
    const progress: unknown[] = [];
    const onProgress = proxy((fraction: number, message: string) => {
      progress.push([fraction, message]);
    });
    const returned: Record<string, unknown> = {};
    const request = (mode: SessionRequest['mode']): SessionRequest => ({
      network,
      tile: { t1: 4, t2: 8, first: 'B', ringDegree: 8192 },
      mode,
      permutation,
    });
    // One call (or more) per method, in an order that gives each valid inputs.
    const calls: Record<keyof HeApi, () => Promise<void>> = {
      selfTest: async () => void (returned.selfTest = await api.selfTest(8192)),
      calibrate: async () =>
        void (returned.calibrate = await api.calibrate(8192, 2, 1, onProgress)),
      createSession: async () => {
        returned.createSessionPlain = await api.createSession(
          request('plain-model'),
          2,
          onProgress,
        );
        returned.createSession = await api.createSession(request('encrypted-model'), 3, onProgress);
      },
      encrypt: async () => void (returned.encrypt = await api.encrypt(sid(), x, 2)),
      infer: async () => void (returned.infer = await api.infer(sid(), batchId(), 4, onProgress)),
      decrypt: async () =>
        void (returned.decrypt = await api.decrypt(
          sid(),
          (returned.infer as { resultId: number }).resultId,
        )),
      run: async () => void (returned.run = await api.run(sid(), x, 2, 5, onProgress)),
      runOnPool: async () =>
        void (returned.runOnPool = await api.runOnPool(
          request('encrypted-model'),
          x,
          2,
          1,
          6,
          onProgress,
        )),
      exportBatch: async () =>
        void (returned.exportBatch = await api.exportBatch(sid(), batchId())),
      importBatch: async () =>
        void (returned.importBatch = await api.importBatch(
          sid(),
          returned.exportBatch as Awaited<ReturnType<HeApi['exportBatch']>>,
        )),
      exportEvaluationKeys: async () =>
        void (returned.exportEvaluationKeys = await api.exportEvaluationKeys(sid())),
      importEvaluationKeys: async () =>
        void (returned.importEvaluationKeys = await api.importEvaluationKeys(
          sid(),
          returned.exportEvaluationKeys as Awaited<ReturnType<HeApi['exportEvaluationKeys']>>,
        )),
      freeBatch: async () => void (returned.freeBatch = await api.freeBatch(batchId())),
      cancel: async () => void (returned.cancel = await api.cancel(99)),
      usage: async () => void (returned.usage = await api.usage()),
      closeSession: async () => {
        returned.closeSessionPlain = await api.closeSession(
          (returned.createSessionPlain as { sessionId: number }).sessionId,
        );
        returned.closeSession = await api.closeSession(sid());
      },
    };
    const sid = () => (returned.createSession as { sessionId: number }).sessionId;
    const batchId = () => (returned.encrypt as { batchId: number }).batchId;

    // A method added to the worker without a case here fails this test, naming it.
    expect(methodNames.filter((m) => !(m in calls))).toEqual([]);
    for (const name of Object.keys(calls) as (keyof HeApi)[]) {
      expect(methodNames, `${name} is no longer exposed: drop its case`).toContain(name);
      await calls[name]();
    }

    // Keys were made (calibration, two sessions, the pool run's client) and recorded.
    expect(keysSeen).toBeGreaterThanOrEqual(4);
    expect(keyWindows.length).toBe(keysSeen * 18);
    // The scanner finds a key where there is one (so a clean scan means something).
    const session = (returned.run as { outputs: Float32Array }).outputs;
    expect(session.length).toBe(2 * 5);
    expect(
      keyHits({ nested: [new Uint8Array(Buffer.concat([Buffer.alloc(7), keyWindows[3]]))] }),
    ).toBe(1);

    // Nothing returned, no progress message, nothing the worker posted and nothing sent to a
    // pool member holds secret key bytes.
    for (const [name, value] of Object.entries(returned))
      expect(keyHits(value), `${name} returned secret key bytes`).toBe(0);
    expect(keyHits(progress)).toBe(0);
    expect(fromWorker.length).toBeGreaterThan(Object.keys(calls).length);
    expect(keyHits(fromWorker)).toBe(0);
    expect(toPool.length).toBeGreaterThan(0);
    expect(keyHits(toPool)).toBe(0);
    // What the worker legitimately serializes are SEAL objects (ciphertexts, evaluation keys).
    const evalKeys = returned.exportEvaluationKeys as {
      relin: Uint8Array | null;
      galois: Uint8Array | null;
    };
    expect(Buffer.from(evalKeys.galois!).subarray(0, 5)).toEqual(SEAL_HEADER);
    expect(((await api.usage()) as { sessions: number }).sessions).toBe(0);
  });
});

describe('no export the studio or the CLI writes contains key material', () => {
  it('model files, ONNX (both forms), the permutation file and the CLI JSON of an encrypted run', async () => {
    const model: HepexModel = { name: 'secrets', network, tile, permutation };
    const modelDir = join(dir, 'model');
    await writeModelDir(modelDir, model);
    const before = keysSeen;
    const io = { progress: () => {}, signal: new AbortController().signal };
    // An encrypted run in this process: its keys are recorded, its JSON must not hold them.
    const infer = await inferCommand.run(
      [
        '--model',
        modelDir,
        '--he',
        '--mode',
        'encrypted-model',
        '--samples',
        '2',
        '--workers',
        '1',
      ],
      io,
    );
    expect(keysSeen).toBeGreaterThan(before);
    await exportCommand.run(['--model', modelDir, '--out', join(dir, 'fn.onnx')], io);
    await exportCommand.run(
      ['--model', modelDir, '--out', join(dir, 'server.onnx'), '--form', 'server'],
      io,
    );
    const cost = await costCommand.run(
      ['--layers', '20,12,5', '--tile', '4x8', '--mode', 'encrypted-model'],
      io,
    );
    // A sweep (prune only, no retraining) of a small MNIST MLP, in the same process.
    const mnistDir = join(dir, 'mnist');
    await writeModelDir(mnistDir, {
      name: 'mnist-16',
      network: initNetwork(createSpec('mlp', [784, 16, 10]), 7),
    });
    const sweep = await sweepCommand.run(
      [
        '--model',
        mnistDir,
        '--method',
        'magnitude',
        '--sparsities',
        '0.5',
        '--retrain-epochs',
        '0',
        '--tile',
        '4x8',
      ],
      io,
    );
    const exported: { name: string; bytes: Buffer }[] = [
      { name: 'sweep --json', bytes: Buffer.from(JSON.stringify(sweep.json)) },
      { name: 'infer --he --json', bytes: Buffer.from(JSON.stringify(infer.json)) },
      { name: 'infer --he text', bytes: Buffer.from(infer.text) },
      { name: 'cost --json', bytes: Buffer.from(JSON.stringify(cost.json)) },
    ];
    for (const sub of ['', 'model', 'mnist']) {
      for (const f of await readdir(join(dir, sub), { withFileTypes: true })) {
        if (f.isFile())
          exported.push({ name: join(sub, f.name), bytes: await readFile(join(dir, sub, f.name)) });
      }
    }
    expect(exported.map((e) => e.name)).toEqual(
      expect.arrayContaining([
        'fn.onnx',
        'server.onnx',
        'server.permutation.json',
        join('model', 'model.json'),
        join('model', 'weights.bin'),
        join('mnist', 'model.json'),
      ]),
    );
    for (const { name, bytes } of exported) {
      expect(keyHits(bytes), `${name} holds secret key bytes`).toBe(0);
      expect(bytes.includes(SEAL_HEADER), `${name} holds a serialized SEAL object`).toBe(false);
      expect(bytes.toString('latin1'), name).not.toMatch(/secret.?key|galois|relin.?keys/i);
    }
  });
});
