import type { OpTimingTable } from './costModel';
import { OP_KINDS, type OpKind } from './executionPlan';
import { interpretChunk, type HeBackend, type HeOperands } from './heInterpreter';
import { chunksOf, type HeModel } from './heModel';

/**
 * A finer latency prediction than the cost model's per-layer figure: the plan interpreter run
 * on a backend that only tracks each ciphertext's level, charging every primitive at the
 * number of primes it really works on. Two effects matter (measured with SEAL 4.1 / node-seal
 * 7 at N = 16384, 5 data primes):
 *  - a layer's operations run at several levels (its rescales happen mid-layer: A's
 *    duplication rotations run two or three levels below its products);
 *  - key switching (rotate, relinearize) is superlinear in the primes p: its cost at p of P
 *    primes was 0.72 / 0.49 / 0.30 of the top level for p = 4 / 3 / 2 (P = 5), fitted by
 *    p (p + 5) / (P (P + 5)); everything else scales as p / P.
 * The table gives each op's cost at table.dataPrimes primes.
 */
export function keySwitchScale(primes: number, tablePrimes: number): number {
  return (primes * (primes + 5)) / (tablePrimes * (tablePrimes + 5));
}

interface Ct {
  level: number;
}

export interface LevelAwarePrediction {
  readonly ms: number;
  /** ms per op kind, summed over levels. */
  readonly byOp: Readonly<Record<OpKind, number>>;
}

/** Predicted latency of `samples` through the whole client + server pipeline. */
export async function predictLevelAware(
  model: HeModel,
  samples: number,
  table: OpTimingTable,
): Promise<LevelAwarePrediction> {
  const dataPrimes = model.params.depth + 1;
  const byOp = Object.fromEntries(OP_KINDS.map((k) => [k, 0])) as Record<OpKind, number>;
  const charge = (op: OpKind, level: number) => {
    const p = dataPrimes - level;
    const keySwitch = op === 'rotate' || op === 'relinearize';
    byOp[op] +=
      table.ms[op] * (keySwitch ? keySwitchScale(p, table.dataPrimes) : p / table.dataPrimes);
  };
  const encrypted = model.mode === 'encrypted-model';
  const backend: HeBackend<Ct, Ct, Ct> = {
    multiplyModel: (x) => (
      charge(encrypted ? 'multiply' : 'multiplyPlain', x.level),
      { level: x.level }
    ),
    addModel: (x) => charge(encrypted ? 'add' : 'addPlain', x.level),
    add: (into) => charge('add', into.level),
    addPlain: (into) => charge('addPlain', into.level),
    multiply: (x) => (charge('multiply', x.level), { level: x.level }),
    multiplyPlain: (x) => (charge('maskMultiply', x.level), { level: x.level }),
    relinearize: (x) => charge('relinearize', x.level),
    rescale: (x) => {
      charge('rescale', x.level);
      x.level++;
    },
    rotate: (x) => (charge('rotate', x.level), { level: x.level }),
    copy: (x) => ({ level: x.level }),
    free: () => {},
  };
  const operand: Ct = { level: 0 };
  const operands: HeOperands<Ct, Ct> = {
    weight: () => operand,
    bias: () => operand,
    shift: (l) => (model.layers[l].quadratic?.shift ? operand : null),
    offset: (l) => (model.layers[l].quadratic?.offset ? operand : null),
    mask: () => operand,
  };
  const first = model.exec.layers[0];
  for (let k = 0; k < chunksOf(model, samples).length; k++) {
    const inputs = Array.from(first.liveInputs, (live) => {
      if (!live) return null;
      charge('encode', 0);
      charge('encrypt', 0);
      return { level: 0 };
    });
    const outputs = await interpretChunk(model, backend, operands, inputs);
    for (const c of outputs) {
      if (!c) continue;
      charge('decrypt', c.level);
      charge('decode', c.level);
    }
  }
  return { ms: OP_KINDS.reduce((s, k) => s + byOp[k], 0), byOp };
}
