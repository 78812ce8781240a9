import { isHepexError } from '../core/model/errors';
import { runRingDegree } from '../core/he/heModel';
import { outputMetric } from '../core/model/outputMetric';
import type { OpTimingTable } from '../core/he/costModel';
import { RING_DEGREES, type RingDegree } from '../core/tiling/tileShape';
import { applyMasks, masksOf } from '../core/analysis/studioAnalysis';
import { HE_WORKER_CHOICES, type CalibratedTimings, type HeWorkersChoice } from './heSlice';
import { errorMessage, type StoreRuntime } from './runtime';
import { selectHeWorkers, selectRing, selectTimings } from './selectors';
import type { HeRunFailure, HeRunSummary, Shown } from './types';

export interface HeActions {
  /**
   * HE worker: encrypted inference (real SEAL) of `samples` test images on the trained model and
   * on what is shown, at the ring degree the studio prices (raised to what the depth needs, with
   * the reason in words). Calibrates this browser first if it has no timings for that degree.
   */
  runEncrypted: (samples: number) => Promise<void>;
  /** HE worker: times every SEAL primitive here; the cost model prices with it from then on. */
  calibrateHere: () => Promise<void>;
  /** Starts SEAL in the HE worker and round-trips a vector at the ring degree in use. */
  checkEngine: () => Promise<void>;
  /** Timings calibrated on an earlier visit (storage), so the first screen is priced with them. */
  restoreCalibration: () => void;
  /** How many HE workers encrypted runs use ('auto': one per core). */
  setHeWorkers: (choice: HeWorkersChoice) => void;
}

const STORAGE_PREFIX = 'hepex.timings.v1.';

/** A stored calibration, checked field by field: anything else is ignored, not trusted. */
function parseStored(text: string | null, ringDegree: RingDegree): CalibratedTimings | null {
  if (!text) return null;
  try {
    const v = JSON.parse(text) as { table?: Partial<OpTimingTable>; at?: unknown };
    const t = v.table;
    const ms = t?.ms as Record<string, unknown> | undefined;
    if (
      !t ||
      t.ringDegree !== ringDegree ||
      !Number.isInteger(t.dataPrimes) ||
      typeof t.source !== 'string' ||
      typeof v.at !== 'string' ||
      !ms ||
      !Object.values(ms).every((x) => typeof x === 'number' && x > 0 && Number.isFinite(x))
    )
      return null;
    return { table: t as OpTimingTable, at: v.at };
  } catch {
    return null;
  }
}

export function createHeActions(rt: StoreRuntime): HeActions {
  const { set, get, deps } = rt;
  /** Latest engine check wins: an older ring degree's answer must not overwrite a newer one. */
  let engineCheck = 0;

  /** Calibrates at `ringDegree` (the depth of the model shown) and keeps the table. */
  const calibrateAt = async (
    ringDegree: RingDegree,
    depth: number,
    signal: AbortSignal,
    onProgress: (fraction: number, detail: string) => void,
  ) => {
    const table = await deps.he!().calibrate(ringDegree, depth, { signal, onProgress });
    const entry: CalibratedTimings = { table, at: new Date().toISOString() };
    set({ calibrated: { ...get().calibrated, [ringDegree]: entry } });
    try {
      deps.storage?.set(STORAGE_PREFIX + ringDegree, JSON.stringify(entry));
    } catch {
      // Storage full or blocked: the table still prices this visit.
    }
    // Reprice what is shown with the new timings.
    const shown = get().shown;
    if (shown) rt.show(shown);
  };

  return {
    setHeWorkers: (choice) => {
      const ok =
        choice === 'auto' || (HE_WORKER_CHOICES as readonly number[]).includes(choice as number);
      if (ok) set({ heWorkers: choice });
    },
    restoreCalibration: () => {
      if (!deps.storage) return;
      const calibrated: Record<number, CalibratedTimings> = {};
      for (const n of RING_DEGREES) {
        const entry = parseStored(deps.storage.get(STORAGE_PREFIX + n), n);
        if (entry) calibrated[n] = entry;
      }
      set({ calibrated });
    },

    checkEngine: async () => {
      const he = deps.he;
      if (!he) {
        set({ heEngine: { state: 'absent' } });
        return;
      }
      const ring = selectRing(get());
      const n = (ring && runRingDegree(ring)) ?? RING_DEGREES[0];
      const check = ++engineCheck;
      try {
        const info = await he().engineInfo(n);
        if (check !== engineCheck) return;
        set({
          heEngine: {
            state: 'ready',
            ringDegree: info.ringDegree,
            maxAbsError: info.maxAbsError,
            heapBytes: info.heapBytes,
          },
        });
      } catch (error) {
        if (check === engineCheck)
          set({ heEngine: { state: 'error', message: errorMessage(error) } });
      }
    },

    calibrateHere: () => {
      const s = get();
      const ring = selectRing(s);
      const n = ring && runRingDegree(ring);
      if (!deps.he || !ring || !n) return Promise.resolve();
      const label = `Calibrating this browser (N = ${n})`;
      return rt.runJob(
        label,
        (signal, isCurrent) =>
          calibrateAt(n, ring.depth, signal, (fraction, detail) => {
            if (isCurrent()) set({ busy: { label, progress: fraction, detail } });
          }),
        () => undefined,
      );
    },

    runEncrypted: (samples) => {
      const s = get();
      const he = deps.he;
      const ring = selectRing(s);
      if (!he || !s.shown || !s.dense || !ring) return Promise.resolve();
      const runN = runRingDegree(ring);
      if (runN === null) {
        rt.fail(
          new Error(
            `This model needs ${ring.depth} multiplicative levels, more than any ring degree carries at 128-bit security: it cannot run encrypted.`,
          ),
          'job',
        );
        return Promise.resolve();
      }
      const chosen = s.tile.ringDegree;
      const ringNote =
        runN !== chosen
          ? `N = ${chosen} carries too few levels for this model's depth ${ring.depth} at 128-bit security; the encrypted run used N = ${runN}, the smallest that does.`
          : null;
      const { t1, t2, first } = s.tile;
      const dense: Shown = {
        network: applyMasks(s.dense.network, masksOf(s.dense.network, s.dense.masks)),
        masks: masksOf(s.dense.network, s.dense.masks),
        origin: 'dense',
        label: 'trained, unpruned',
        permutation: s.dense.permutation,
      };
      // The unpruned model runs first: it also pays the worker's one-time warm-up (SEAL's WASM
      // compiled and JIT-warmed), so the comparison does not flatter the pruned model.
      const targets = [dense, s.shown];
      const label = 'Encrypted inference (SEAL)';
      return rt.runJob(
        label,
        async (signal, isCurrent) => {
          const status = (progress: number | null, detail: string) => {
            if (isCurrent()) set({ busy: { label, progress, detail } });
          };
          if (!get().calibrated[runN]) {
            await calibrateAt(runN, ring.depth, signal, (f, detail) =>
              status(null, `calibrating this browser once (${Math.round(f * 100)}%): ${detail}`),
            );
          }
          const timings = selectTimings(get());
          const workers = selectHeWorkers(get());
          const { inputs, labels, samples: n } = await deps.pipeline().testInputs(samples);
          const rows: (HeRunSummary | HeRunFailure)[] = [];
          for (const [i, t] of targets.entries()) {
            const onProgress = (fraction: number, detail: string) =>
              status((i + fraction) / targets.length, `${t.label}: ${detail}`);
            const request = {
              network: t.network,
              tile: { t1, t2, first, ringDegree: runN },
              mode: 'plain-model' as const,
              permutation: t.permutation,
            };
            if (workers > 1) {
              try {
                const { summary: p, outputs } = await he().runOnPool(request, inputs, n, workers, {
                  signal,
                  onProgress,
                  timings,
                });
                rows.push({
                  label: t.label,
                  ringDegree: p.parameters.ringDegree,
                  weightCiphertexts: p.ciphertexts.weight,
                  setupMs: p.setupMs,
                  latencyMs: p.latencyMs,
                  predictedMs: p.predictedMs,
                  peakBytes: p.peakBytes,
                  maxAbsError: p.maxAbsError,
                  agreement: p.agreement,
                  metric: outputMetric(outputs, inputs, labels, n, t.network.task),
                  rotations: p.ops.rotate,
                  multiplications: p.ops.multiplyPlain + p.ops.multiply + p.ops.maskMultiply,
                  opsMatchPlan: p.opsMatchPlan,
                  timingSource: p.timingSource,
                  layers: p.layers,
                  workers: p.workers,
                  predictedSingleWorkerMs: p.predictedSingleWorkerMs,
                });
              } catch (error) {
                if (signal.aborted || (isHepexError(error) && error.code === 'cancelled'))
                  throw error;
                rows.push({ label: t.label, error: errorMessage(error) });
              }
              continue;
            }
            let session: Awaited<ReturnType<ReturnType<typeof he>['createSession']>>;
            try {
              session = await he().createSession(request, { signal, onProgress });
            } catch (error) {
              // One model over the engine's budget must not hide the other's measurement.
              if (signal.aborted || (isHepexError(error) && error.code === 'cancelled'))
                throw error;
              rows.push({ label: t.label, error: errorMessage(error) });
              continue;
            }
            const { sessionId, info } = session;
            try {
              const r = await he().run(sessionId, inputs, n, { signal, onProgress, timings });
              rows.push({
                label: t.label,
                ringDegree: info.ringDegree,
                weightCiphertexts: info.weightCiphertexts,
                setupMs: info.setupMs,
                latencyMs: r.latencyMs,
                predictedMs: r.predictedMs,
                peakBytes: r.peakBytes,
                maxAbsError: r.maxAbsError,
                agreement: r.agreement,
                metric: outputMetric(r.outputs, inputs, labels, n, t.network.task),
                rotations: r.ops.rotate,
                multiplications: r.ops.multiplyPlain + r.ops.multiply + r.ops.maskMultiply,
                opsMatchPlan: r.opsMatchPlan,
                timingSource:
                  timings.find((x) => x.ringDegree === info.ringDegree)?.source ?? 'reference',
                layers: r.layers.map((l) => ({
                  layer: l.layer,
                  weightCiphertexts: l.weightCiphertexts,
                  multiplications: l.multiplications,
                  rotations: l.rotations,
                  measuredMs: l.measuredMs,
                  predictedMs: l.predictedMs,
                })),
                workers: 1,
                predictedSingleWorkerMs: null,
              });
            } finally {
              await he()
                .closeSession(sessionId)
                .catch(() => undefined);
            }
          }
          return { samples: n, rows };
        },
        ({ samples: n, rows }) => {
          set({ heResults: { samples: n, chosenRingDegree: chosen, ringNote, rows } });
          // Measured latency and memory go into the history, next to the prediction.
          rows.forEach((row, i) => {
            if ('error' in row) return;
            get().recordMeasurement(targets[i], {
              ringDegree: row.ringDegree,
              samples: n,
              latencyMs: row.latencyMs,
              predictedMs: row.predictedMs,
              peakBytes: row.peakBytes,
            });
          });
        },
      );
    },
  };
}
