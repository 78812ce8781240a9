import type { Rng } from '../model/random';
import { type SetProblem, groupCounts, better, capacity } from './permuteProblem';

/**
 * Balanced k-means on binary block-presence features. Centroids are the members' mean
 * presence; each iteration assigns neurons greedily by ascending squared distance to a centroid
 * with every group filled to exactly its capacity (a tile side). Starts from `start` (a
 * grouping) or, when `seedNeurons` is given, from centroids at those neurons' features (k-means++
 * style). `p` gives the features, `judge` the blocks: returns the grouping with the fewest
 * non-zero (group, block) pairs of `judge` seen, `start` included.
 */
export function balancedKMeans(
  p: SetProblem,
  judge: SetProblem,
  start: Uint32Array,
  iterations: number,
  seedNeurons?: Uint32Array,
): Uint32Array {
  const { n, D, k } = p;
  let groupOf = Uint32Array.from(start);
  let best = groupOf;
  let bestC = groupCounts(judge, groupOf);
  const centroids = new Float64Array(k * D);
  const sizes = new Uint32Array(k);
  const norms = new Float64Array(k);
  const dist = new Float64Array(n * k);
  const nearest = new Float64Array(n);
  const order = new Uint32Array(n);
  for (let it = 0; it < iterations; it++) {
    centroids.fill(0);
    if (it === 0 && seedNeurons) {
      for (let G = 0; G < k; G++) {
        const j = seedNeurons[G];
        for (let q = p.suppStart[j]; q < p.suppStart[j + 1]; q++) centroids[G * D + p.supp[q]] = 1;
      }
    } else {
      sizes.fill(0);
      for (let j = 0; j < n; j++) {
        const G = groupOf[j];
        sizes[G]++;
        for (let q = p.suppStart[j]; q < p.suppStart[j + 1]; q++) centroids[G * D + p.supp[q]] += 1;
      }
      for (let G = 0; G < k; G++) {
        const inv = sizes[G] ? 1 / sizes[G] : 0;
        for (let b = 0; b < D; b++) centroids[G * D + b] *= inv;
      }
    }
    for (let G = 0; G < k; G++) {
      let norm = 0;
      for (let b = 0; b < D; b++) norm += centroids[G * D + b] ** 2;
      norms[G] = norm;
    }
    // ||x - c||^2 = |x| - 2 x.c + |c|^2, x binary: only the support enters x.c.
    for (let j = 0; j < n; j++) {
      const s0 = p.suppStart[j];
      const s1 = p.suppStart[j + 1];
      for (let G = 0; G < k; G++) {
        let dot = 0;
        const base = G * D;
        for (let q = s0; q < s1; q++) dot += centroids[base + p.supp[q]];
        dist[j * k + G] = s1 - s0 - 2 * dot + norms[G];
      }
    }
    // Balanced assignment: neurons in order of their nearest-centroid distance, each to its
    // nearest group that still has room (O(n k), no sort of all n x k pairs).
    for (let j = 0; j < n; j++) {
      let m = Infinity;
      for (let G = 0; G < k; G++) if (dist[j * k + G] < m) m = dist[j * k + G];
      nearest[j] = m;
      order[j] = j;
    }
    order.sort((a, b) => nearest[a] - nearest[b] || a - b);
    const next = new Uint32Array(n);
    const fill = new Uint32Array(k);
    for (let x = 0; x < n; x++) {
      const j = order[x];
      let bestG = 0;
      let bestD = Infinity;
      for (let G = 0; G < k; G++) {
        const d = dist[j * k + G];
        if (d < bestD && fill[G] < capacity(p, G)) {
          bestD = d;
          bestG = G;
        }
      }
      next[j] = bestG;
      fill[bestG]++;
    }
    let changed = false;
    for (let j = 0; j < n; j++) if (next[j] !== groupOf[j]) changed = true;
    groupOf = next;
    const C = groupCounts(judge, groupOf);
    if (better(C, bestC, judge.tau)) {
      bestC = C;
      best = groupOf;
    }
    if (!changed) break;
  }
  return best;
}

/**
 * k-means++ seeds: the first neuron at random, each next one drawn with probability
 * proportional to its squared distance (Hamming, on block presence) to the nearest seed so far.
 */
export function kMeansPlusPlusSeeds(p: SetProblem, rng: Rng): Uint32Array {
  const { n, D, k } = p;
  const seeds = new Uint32Array(k);
  const nearest = new Float64Array(n).fill(Infinity);
  const row = new Uint8Array(D);
  let pick = rng.int(n);
  for (let G = 0; G < k; G++) {
    seeds[G] = pick;
    row.fill(0);
    const sizeSeed = p.suppStart[pick + 1] - p.suppStart[pick];
    for (let q = p.suppStart[pick]; q < p.suppStart[pick + 1]; q++) row[p.supp[q]] = 1;
    let total = 0;
    for (let j = 0; j < n; j++) {
      let common = 0;
      for (let q = p.suppStart[j]; q < p.suppStart[j + 1]; q++) common += row[p.supp[q]];
      const d = p.suppStart[j + 1] - p.suppStart[j] + sizeSeed - 2 * common;
      if (d < nearest[j]) nearest[j] = d;
      total += nearest[j];
    }
    if (total === 0) {
      pick = rng.int(n);
      continue;
    }
    let r = rng.next() * total;
    pick = n - 1;
    for (let j = 0; j < n; j++) {
      r -= nearest[j];
      if (r < 0) {
        pick = j;
        break;
      }
    }
  }
  return seeds;
}
