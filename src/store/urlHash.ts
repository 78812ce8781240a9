import { STRUCTURE_LEVELS, type StructureLevel } from '../core/prune/pipeline';
import {
  DEFAULT_FIRST_ORIENTATION,
  RING_DEGREES,
  isPowerOfTwo,
  type Orientation,
  type RingDegree,
} from '../core/tileShape';
import {
  METHODS,
  PRESETS,
  type Method,
  type Preset,
  type PruneScope,
  type TileScore,
  type ViewMode,
} from './types';
import { MAX_TILE_BUDGET } from './pruningSlice';

/**
 * The view a link reproduces: `#preset=ae&tile=4x8:B&n=32768&method=hepex&scope=global&score=l1&
 * sparsity=0.9&theta=0.0625&layer=0&view=weights`. Parsing is forgiving: a value that is
 * missing or invalid is left out (the store keeps its own), never an error.
 */
export interface HashState {
  readonly preset: Preset;
  readonly t1: number;
  readonly t2: number;
  readonly ringDegree: RingDegree;
  /** Layer 0's orientation; the link writes it after the tile (4x8:A) when not the default. */
  readonly first: Orientation;
  readonly method: Method;
  readonly scope: PruneScope;
  readonly score: TileScore;
  readonly sparsity: number;
  readonly theta: number;
  /** Group lasso before the whole pipeline; written only when not off (older links stay valid). */
  readonly structure: StructureLevel;
  /** Distilled last retrain; written only when on. */
  readonly distill: boolean;
  /** HE-PEx tile budget; written only when set. */
  readonly tileBudget: number | null;
  readonly layer: number;
  readonly view: ViewMode;
}

const SCOPES: readonly PruneScope[] = ['local', 'global'];
const SCORES: readonly TileScore[] = ['min', 'max', 'avg', 'l1'];
const VIEWS: readonly ViewMode[] = ['weights', 'mask', 'density'];

/** Sliders are stored to 4 decimals: enough for 1/16 steps and short links. */
const num = (v: number) => String(Math.round(v * 10000) / 10000);

export function formatHash(s: HashState): string {
  const p = new URLSearchParams();
  p.set('preset', s.preset);
  p.set('tile', `${s.t1}x${s.t2}${s.first === DEFAULT_FIRST_ORIENTATION ? '' : `:${s.first}`}`);
  p.set('n', String(s.ringDegree));
  p.set('method', s.method);
  p.set('scope', s.scope);
  p.set('score', s.score);
  p.set('sparsity', num(s.sparsity));
  p.set('theta', num(s.theta));
  if (s.structure !== 'off') p.set('structure', s.structure);
  if (s.distill) p.set('distill', '1');
  if (s.tileBudget !== null) p.set('budget', String(s.tileBudget));
  p.set('layer', String(s.layer));
  p.set('view', s.view);
  return `#${p.toString()}`;
}

const oneOf = <T extends string>(values: readonly T[], v: string | null): T | undefined =>
  v !== null && (values as readonly string[]).includes(v) ? (v as T) : undefined;

function fraction(v: string | null, max: number): number | undefined {
  if (v === null || v.trim() === '') return undefined;
  const x = Number(v);
  return Number.isFinite(x) && x >= 0 && x <= max ? x : undefined;
}

export function parseHash(hash: string): Partial<HashState> {
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  const out: { -readonly [K in keyof HashState]?: HashState[K] } = {};
  const preset = oneOf(PRESETS, p.get('preset'));
  if (preset) out.preset = preset;
  const tile = /^(\d+)x(\d+)(?::([AB]))?$/.exec(p.get('tile') ?? '');
  if (tile && isPowerOfTwo(Number(tile[1])) && isPowerOfTwo(Number(tile[2]))) {
    out.t1 = Number(tile[1]);
    out.t2 = Number(tile[2]);
    out.first = tile[3] === 'A' || tile[3] === 'B' ? tile[3] : DEFAULT_FIRST_ORIENTATION;
  }
  const n = Number(p.get('n'));
  if ((RING_DEGREES as readonly number[]).includes(n)) out.ringDegree = n as RingDegree;
  const method = oneOf(METHODS, p.get('method'));
  if (method) out.method = method;
  const scope = oneOf(SCOPES, p.get('scope'));
  if (scope) out.scope = scope;
  const score = oneOf(SCORES, p.get('score'));
  if (score) out.score = score;
  // Sparsity below 1: pruning everything is not a view anyone can use.
  const sparsity = fraction(p.get('sparsity'), 0.999);
  if (sparsity !== undefined) out.sparsity = sparsity;
  const theta = fraction(p.get('theta'), 1);
  if (theta !== undefined) out.theta = theta;
  const structure = oneOf(STRUCTURE_LEVELS, p.get('structure'));
  if (structure) out.structure = structure;
  const distill = p.get('distill');
  if (distill === '1' || distill === '0') out.distill = distill === '1';
  const budget = p.get('budget');
  if (budget === 'none') out.tileBudget = null;
  else if (budget !== null && /^\d{1,7}$/.test(budget)) {
    const tiles = Number(budget);
    if (tiles >= 1 && tiles <= MAX_TILE_BUDGET) out.tileBudget = tiles;
  }
  const layer = Number(p.get('layer') ?? 'x');
  if (Number.isInteger(layer) && layer >= 0 && layer < 64) out.layer = layer;
  const view = oneOf(VIEWS, p.get('view'));
  if (view) out.view = view;
  return out;
}
