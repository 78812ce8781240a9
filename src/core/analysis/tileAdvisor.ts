import type { Activation } from '../model/activation';
import { maxDepth } from '../he/ckksParameters';
import { costOfExecution, type CostOptions, type CostReport } from '../he/costModel';
import { planExecution } from '../tiling/executionPlan';
import type { Mask } from '../model/matrix';
import { countTileNonZeros, nonZeroTileFlags, planTiles } from '../tiling/tilePlan';
import { allTileShapes, RING_DEGREES, type RingDegree, type TileShape } from '../tiling/tileShape';

export interface TileAdvice {
  readonly tile: TileShape;
  /** False when the network's depth exceeds what this ring degree carries at 128-bit security. */
  readonly fits: boolean;
  readonly weightCiphertexts: number;
  readonly predictedMs: number;
  readonly peakBytes: number;
  readonly report: CostReport;
}

export interface AdviceOptions extends CostOptions {
  /** Ring degrees to consider (default all supported). */
  ringDegrees?: readonly RingDegree[];
  /** Largest tile side considered (default 64: larger tiles waste slots on every layer here). */
  maxTileSide?: number;
}

/**
 * Every valid tile shape for the network, with its masks (dense when absent), ranked: shapes
 * whose depth fits first, then by predicted time for `samples` (default 512, the paper's batch),
 * then by peak memory. Time and memory compare shapes at the same workload, so a large batch
 * per ciphertext counts for what it is worth.
 */
export function adviseTileShapes(
  sizes: readonly number[],
  activations: readonly Activation[],
  masks?: readonly Mask[],
  options: AdviceOptions = {},
): TileAdvice[] {
  const samples = options.samples ?? 512;
  const advice: TileAdvice[] = [];
  for (const ringDegree of options.ringDegrees ?? RING_DEGREES) {
    for (const tile of allTileShapes(ringDegree, options.maxTileSide ?? 64)) {
      const plan = planTiles(sizes, tile);
      const flags = plan.layers.map((t, l) =>
        masks
          ? nonZeroTileFlags(countTileNonZeros(masks[l], t))
          : new Uint8Array(t.tileCount).fill(1),
      );
      const exec = planExecution(plan, flags, activations, options.mode);
      const report = costOfExecution(exec, { ...options, samples });
      advice.push({
        tile,
        fits: exec.depth <= maxDepth(ringDegree),
        weightCiphertexts: report.total.weightCiphertexts,
        predictedMs: report.total.predictedMs,
        peakBytes: report.total.peakBytes,
        report,
      });
    }
  }
  return advice.sort(
    (a, b) =>
      Number(b.fits) - Number(a.fits) || a.predictedMs - b.predictedMs || a.peakBytes - b.peakBytes,
  );
}
