import { LINEAR, SQUARE } from '../src/core/model/activation';
import { costOfExecution } from '../src/core/he/costModel';
import { planExecution } from '../src/core/tiling/executionPlan';
import { createMask } from '../src/core/model/matrix';
import { createRng } from '../src/core/model/random';
import { countTileNonZeros, nonZeroTileFlags, planTiles } from '../src/core/tiling/tilePlan';
import { parseTileShape } from '../src/core/tiling/tileShape';
import type { BenchOptions } from './main';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * The studio's speed target: after a mask change, recount the non-zero tiles of the whole
 * 784-256-64-256-784 network (4x8 tiles) fast enough for every animation frame (aim <= 2 ms).
 * Also times the full live update (recount + execution plan + cost report).
 */
export async function run({ quick, progress }: BenchOptions) {
  const sizes = [784, 256, 64, 256, 784];
  const plan = planTiles(sizes, parseTileShape('4x8'));
  const rng = createRng(1);
  // 90% sparse random masks: the state the studio shows after magnitude pruning.
  const masks = plan.layers.map((t) => {
    const m = createMask(t.outputs, t.inputs, 0);
    for (let k = 0; k < m.data.length; k++) m.data[k] = rng.next() < 0.1 ? 1 : 0;
    return m;
  });
  const counts = plan.layers.map((t) => new Uint32Array(t.tileCount));
  const activations = [SQUARE, SQUARE, SQUARE, LINEAR];
  const runs = quick ? 50 : 400;
  const recount: number[] = [];
  const update: number[] = [];
  for (let i = 0; i < runs + 20; i++) {
    const m = masks[i % 4];
    m.data[rng.int(m.data.length)] ^= 1; // the mask change
    const t0 = performance.now();
    plan.layers.forEach((t, l) => countTileNonZeros(masks[l], t, counts[l]));
    const t1 = performance.now();
    const exec = planExecution(plan, counts.map(nonZeroTileFlags), activations);
    costOfExecution(exec);
    const t2 = performance.now();
    if (i >= 20) {
      recount.push(t1 - t0);
      update.push(t2 - t0);
    }
  }
  progress(`${runs} runs`);
  return {
    network: sizes.join('-'),
    tile: '4x8',
    weights: masks.reduce((s, m) => s + m.data.length, 0),
    runs,
    recountMedianMs: median(recount),
    recountTargetMs: 2,
    liveUpdateMedianMs: median(update),
  };
}
