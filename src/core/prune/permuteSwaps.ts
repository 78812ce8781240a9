import { throwIfAborted } from '../model/errors';
import type { Permutation } from '../model/permutation';
import type { Rng } from '../model/random';
import type { SetProblem } from './permuteProblem';

/**
 * Swap search: for neurons u, v in different groups, swap them when the non-zero (group, block)
 * count drops, or stays and the sum of squared counts rises (weights concentrate in fewer
 * tiles, which opens later drops; without it the search stalls on plateaus). C is updated in
 * place; the (count, -sum of squares) pair strictly improves with every swap, so it ends. Only a
 * neuron that is the sole contributor of some block of its group can start a swap, which prunes
 * most pairs.
 */
export function refineBySwaps(
  p: SetProblem,
  groupOf: Uint32Array,
  C: Uint32Array,
  passes: number,
  rng: Rng,
  signal: AbortSignal | undefined,
  concentration: boolean,
): void {
  const { n, D, k, g, counts, suppStart, supp, tau } = p;
  let tauZero = true;
  for (let i = 0; i < tau.length; i++) if (tau[i]) tauZero = false;
  // members[G * g + slot]: the neurons of each group; size[G] of them.
  const members = new Uint32Array(k * g);
  const size = new Uint32Array(k);
  for (let j = 0; j < n; j++) members[groupOf[j] * g + size[groupOf[j]]++] = j;
  // gain[j]: tiles of j's group that stop being paid for when j leaves (before anything arrives).
  const gain = new Int32Array(n);
  const maxGain = new Int32Array(k);
  const gainOf = (j: number): number => {
    const base = groupOf[j] * D;
    let z = 0;
    for (let q = suppStart[j]; q < suppStart[j + 1]; q++) {
      const i = base + supp[q];
      if (C[i] > tau[i] && C[i] - counts[j * D + supp[q]] <= tau[i]) z++;
    }
    return z;
  };
  const refreshGroup = (G: number): void => {
    let m = 0;
    for (let x = 0; x < size[G]; x++) {
      const j = members[G * g + x];
      gain[j] = gainOf(j);
      if (gain[j] > m) m = gain[j];
    }
    maxGain[G] = m;
  };
  for (let G = 0; G < k; G++) refreshGroup(G);

  const visit = new Uint32Array(n);
  for (let j = 0; j < n; j++) visit[j] = j;
  for (let pass = 0; pass < passes; pass++) {
    throwIfAborted(signal);
    // A fresh random order per pass so no neuron is systematically favoured.
    for (let i = n - 1; i > 0; i--) {
      const r = rng.int(i + 1);
      const tmp = visit[i];
      visit[i] = visit[r];
      visit[r] = tmp;
    }
    let improved = false;
    for (let iu = 0; iu < n; iu++) {
      const u = visit[iu];
      const gainU = gain[u];
      // Only the tile count needs u to free a tile; concentration can gain from any swap.
      if (gainU === 0 && !concentration) continue;
      const G1 = groupOf[u];
      const b1 = G1 * D;
      const u0 = suppStart[u];
      const u1 = suppStart[u + 1];
      const startGroup = rng.int(k);
      let swapped = false;
      for (let gi = 0; gi < k && !swapped; gi++) {
        const G2 = (startGroup + gi) % k;
        if (G2 === G1) continue;
        const b2 = G2 * D;
        if (tauZero && !concentration) {
          // Bound (tau = 0): u adds every block G2 lacks (no v of G2 has it), G1 can lose at
          // most gain[u] tiles and G2 at most its best member's gain. Skip hopeless groups.
          let add = 0;
          for (let q = u0; q < u1; q++) if (C[b2 + supp[q]] === 0) add++;
          if (add - gainU - maxGain[G2] > 0) continue;
        }
        for (let x = 0; x < size[G2]; x++) {
          const v = members[G2 * g + x];
          let delta = 0;
          let squares = 0;
          for (let q = u0; q < u1; q++) {
            const b = supp[q];
            const ub = counts[u * D + b];
            const vb = counts[v * D + b];
            const c1 = C[b1 + b];
            const c2 = C[b2 + b];
            const n1 = c1 - ub + vb;
            const n2 = c2 - vb + ub;
            const t1 = tau[b1 + b];
            const t2 = tau[b2 + b];
            delta += (n1 > t1 ? 1 : 0) - (c1 > t1 ? 1 : 0) + (n2 > t2 ? 1 : 0) - (c2 > t2 ? 1 : 0);
            squares += n1 * n1 - c1 * c1 + n2 * n2 - c2 * c2;
          }
          // v's own blocks can lower delta by at most one each.
          if (!concentration && delta > suppStart[v + 1] - suppStart[v]) continue;
          for (let q = suppStart[v]; q < suppStart[v + 1]; q++) {
            const b = supp[q];
            if (counts[u * D + b]) continue;
            const vb = counts[v * D + b];
            const c1 = C[b1 + b];
            const c2 = C[b2 + b];
            const t1 = tau[b1 + b];
            const t2 = tau[b2 + b];
            delta +=
              (c1 + vb > t1 ? 1 : 0) -
              (c1 > t1 ? 1 : 0) +
              (c2 - vb > t2 ? 1 : 0) -
              (c2 > t2 ? 1 : 0);
            squares += (c1 + vb) * (c1 + vb) - c1 * c1 + (c2 - vb) * (c2 - vb) - c2 * c2;
          }
          if (concentration ? squares > 0 : delta < 0 || (delta === 0 && squares > 0)) {
            for (let q = u0; q < u1; q++) {
              const b = supp[q];
              C[b1 + b] -= counts[u * D + b];
              C[b2 + b] += counts[u * D + b];
            }
            for (let q = suppStart[v]; q < suppStart[v + 1]; q++) {
              const b = supp[q];
              C[b2 + b] -= counts[v * D + b];
              C[b1 + b] += counts[v * D + b];
            }
            groupOf[u] = G2;
            groupOf[v] = G1;
            members[G2 * g + x] = u;
            for (let y = 0; y < size[G1]; y++)
              if (members[G1 * g + y] === u) members[G1 * g + y] = v;
            refreshGroup(G1);
            refreshGroup(G2);
            improved = true;
            swapped = true;
            break;
          }
        }
      }
    }
    if (!improved) break;
  }
}

/** An order listing group 0's neurons first (ascending index within a group), then group 1, ... */
export function orderOfGroups(groupOf: Uint32Array, k: number): Permutation {
  const n = groupOf.length;
  const start = new Uint32Array(k + 1);
  for (let j = 0; j < n; j++) start[groupOf[j] + 1]++;
  for (let G = 0; G < k; G++) start[G + 1] += start[G];
  const order = new Uint32Array(n);
  for (let j = 0; j < n; j++) order[start[groupOf[j]]++] = j;
  return order;
}
