import assert from 'node:assert/strict';
import { test } from 'node:test';
import { builtAsset, withPage } from './harness';

interface Report {
  maxAbsError: number;
  opsMatchPlan: boolean;
  ops: Record<string, number>;
  expectedOps: Record<string, number>;
  agreement: number | null;
  peakBytes: number;
}
interface Failure {
  message: string;
  code?: string;
}
interface PageResult {
  info: { ringDegree: number };
  report: Report;
  again: Report;
  wrongSize: Failure | null;
  corrupted: Failure | null;
  badKeys: Failure | null;
  cancelled: Failure | null;
  usage: { sessions: number; batches: number; liveObjects: number };
  timings: { ringDegree: number; ms: Record<string, number>; source: string };
}

/**
 * Real encrypted inference in Chromium: the production build's HE module worker (node-seal
 * WASM, N = 16384) driven through comlink's wire protocol, the way HeClient drives it.
 * The network is built in the page with seeded weights (HE correctness does not depend on
 * training).
 */
test('the HE worker runs encrypted inference in the browser, reports clear errors and cancels between tiles', async () => {
  const worker = builtAsset('he.worker-');
  await withPage(
    async ({ page, errors }) => {
      // A plain-JS string: tsx's keepNames would inject a __name helper the page lacks.
      const script = `async (workerPath) => {
        const w = new Worker(new URL(workerPath, location.href), { type: 'module' });
        let nextId = 0;
        const pending = new Map();
        w.onmessage = (event) => {
          const data = event.data;
          const p = pending.get(data.id);
          if (!p) return;
          pending.delete(data.id);
          if (data.type === 'HANDLER' && data.name === 'throw') {
            const thrown = data.value;
            p.reject(thrown.value);
          } else p.resolve(data.value);
        };
        // comlink's wire format: APPLY a path with RAW arguments.
        const call = (name, ...args) =>
          new Promise((resolve, reject) => {
            const id = String(++nextId);
            pending.set(id, { resolve, reject });
            w.postMessage({ id, type: 'APPLY', path: [name], argumentList: args.map((value) => ({ type: 'RAW', value })) });
          });
        const fail = (p) => p.then(() => null, (e) => e);

        // Seeded MLP 20-12-5: square activation, then linear.
        let state = 7;
        const rand = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
        const layer = (rows, cols, activation) => ({
          kind: 'dense',
          weights: { rows, cols, data: Float32Array.from({ length: rows * cols }, () => rand() / Math.sqrt(cols)) },
          bias: Float32Array.from({ length: rows }, () => rand() * 0.1),
          activation,
        });
        const network = { task: 'classification', layers: [layer(12, 20, { type: 'square' }), layer(5, 12, { type: 'linear' })] };
        const inputs = Float32Array.from({ length: 6 * 20 }, () => (rand() + 1) / 2);

        const { sessionId, info } = await call('createSession', { network, tile: { t1: 4, t2: 8 }, mode: 'plain-model' });
        const report = await call('run', sessionId, inputs, 6);
        const wrongSize = await fail(call('run', sessionId, new Float32Array(19), 1));
        const corrupted = await fail(call('importBatch', sessionId, { samples: 1, chunks: [[new Uint8Array(64), new Uint8Array(64), new Uint8Array(64)]] }));
        const keys = await call('exportEvaluationKeys', sessionId);
        const badKeys = await fail(call('importEvaluationKeys', sessionId, { relin: keys.relin.slice(0, 999), galois: null }));
        // Cancel: start a long run (many chunks) and cancel it by job id.
        const long = fail(call('run', sessionId, new Float32Array(2048 * 20), 2048, 42));
        await new Promise((r) => setTimeout(r, 300));
        await call('cancel', 42);
        const cancelled = await long;
        const again = await call('run', sessionId, inputs, 6);
        await call('closeSession', sessionId);
        const timings = await call('calibrate', 8192, 1);
        const usage = await call('usage');
        w.terminate();
        return { info, report, wrongSize, corrupted, badKeys, cancelled, again, usage, timings };
      }`;
      const result = (await page.evaluate(`(${script})(${JSON.stringify(worker)})`)) as PageResult;

      assert.equal(result.info.ringDegree, 16384);
      assert.ok(result.report.maxAbsError < 1e-3, `max error ${result.report.maxAbsError}`);
      assert.ok(result.report.maxAbsError > 0);
      assert.equal(result.report.opsMatchPlan, true);
      assert.deepEqual(result.report.ops, result.report.expectedOps);
      assert.equal(result.report.agreement, 1);
      assert.ok(result.report.peakBytes > 0);
      assert.match(result.wrongSize?.message ?? '', /20 inputs per sample/);
      assert.equal(result.wrongSize?.code, 'invalid-argument');
      assert.ok(result.corrupted, 'a corrupted upload must fail');
      assert.match(result.badKeys?.message ?? '', /evaluation key blob is corrupted/);
      assert.equal(result.badKeys?.code, 'he-runtime');
      assert.equal(result.cancelled?.code, 'cancelled');
      assert.ok(
        result.again.maxAbsError < 1e-3,
        'the worker keeps working after errors and a cancel',
      );
      assert.deepEqual(
        {
          sessions: result.usage.sessions,
          batches: result.usage.batches,
          liveObjects: result.usage.liveObjects,
        },
        { sessions: 0, batches: 0, liveObjects: 0 },
      );
      // Calibration in the browser: every primitive timed, key switching dearer than a product.
      assert.equal(result.timings.ringDegree, 8192);
      assert.ok(Object.values(result.timings.ms).every((v) => v > 0));
      assert.ok(result.timings.ms.rotate > result.timings.ms.multiplyPlain);
      assert.match(result.timings.source, /this browser/);
      assert.deepEqual(errors, []);
    },
    { screenshot: 'he-inference' },
  );
});
