import type { RingChoice } from '../core/he/heModel';
import { STRUCTURE_LEVELS, type StructureLevel } from '../core/prune/methodSteps';
import {
  DEFAULT_FIRST_ORIENTATION,
  RING_DEGREES,
  parseTileSides,
  type Orientation,
} from '../core/tiling/tileShape';
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
import { PRUNE_SCOPES } from '../core/prune/common';
import { TILE_SCORES } from '../core/prune/tilePrune';

/**
 * What a link reproduces: `#preset=ae&show=twin&tile=4x8&n=auto&method=hepex&scope=global&
 * score=l1&sparsity=0.9&theta=0.0625&layer=0&view=weights`. `show` says which model is on screen:
 * the trained one, the shipped HE-PEx twin, or the preview at the sliders. What a link cannot
 * carry (model files opened by hand, a model trained here, a worker step's result, a permutation
 * found by Permute) is written too, so that opening the link can say so in words.
 */
export interface HashState {
  readonly preset: Preset;
  /** A model opened from files (its name) or trained in the browser: not in the link. */
  readonly unlinked: { readonly kind: 'file' | 'trained'; readonly name: string } | null;
  readonly show: ShowChoice;
  readonly t1: number;
  readonly t2: number;
  readonly ring: RingChoice;
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
  /** The previews prune a network that Permute reordered (the link does not carry the order). */
  readonly permuted: boolean;
  readonly layer: number;
  readonly view: ViewMode;
}

/** dense: the trained model; twin: the shipped HE-PEx model; preview: the sliders; step: a job's result. */
export type ShowChoice = 'dense' | 'twin' | 'preview' | 'step';
const SHOW_CHOICES: readonly ShowChoice[] = ['dense', 'twin', 'preview', 'step'];

const SCOPES = PRUNE_SCOPES;
const SCORES = TILE_SCORES;
const VIEWS: readonly ViewMode[] = ['weights', 'mask', 'density'];

/** Sliders are stored to 4 decimals: enough for 1/32 theta steps and short links. */
const num = (v: number) => String(Math.round(v * 10000) / 10000);

export function formatHash(s: HashState): string {
  const p = new URLSearchParams();
  if (s.unlinked) p.set(s.unlinked.kind, s.unlinked.name);
  else p.set('preset', s.preset);
  p.set('show', s.show);
  p.set('tile', `${s.t1}x${s.t2}${s.first === DEFAULT_FIRST_ORIENTATION ? '' : `:${s.first}`}`);
  p.set('n', String(s.ring));
  p.set('method', s.method);
  p.set('scope', s.scope);
  p.set('score', s.score);
  p.set('sparsity', num(s.sparsity));
  p.set('theta', num(s.theta));
  if (s.structure !== 'off') p.set('structure', s.structure);
  if (s.distill) p.set('distill', '1');
  if (s.tileBudget !== null) p.set('budget', String(s.tileBudget));
  if (s.permuted) p.set('permuted', '1');
  p.set('layer', String(s.layer));
  p.set('view', s.view);
  return `#${p.toString()}`;
}

/** The parts of a link that parsed, and a sentence for each part that did not. */
export interface ParsedHash {
  readonly state: Partial<HashState>;
  readonly problems: readonly string[];
}

const oneOf = <T extends string>(values: readonly T[], v: string): T | undefined =>
  (values as readonly string[]).includes(v) ? (v as T) : undefined;

const flag = (v: string): boolean | undefined => (v === '1' ? true : v === '0' ? false : undefined);

function fraction(v: string, max: number): number | undefined {
  if (v.trim() === '') return undefined;
  const x = Number(v);
  return Number.isFinite(x) && x >= 0 && x <= max ? x : undefined;
}

const KNOWN_KEYS = new Set([
  'preset',
  'file',
  'trained',
  'show',
  'tile',
  'n',
  'method',
  'scope',
  'score',
  'sparsity',
  'theta',
  'structure',
  'distill',
  'budget',
  'permuted',
  'layer',
  'view',
]);

/**
 * Parses a link. Every part that is present but cannot be used (an unknown preset, a tile side
 * that is not a power of two, a sparsity of 1.5, an unknown key) is left out of `state` and
 * explained in `problems`, so the studio can say what it ignored instead of falling back silently.
 */
export function parseHash(hash: string): ParsedHash {
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  const out: { -readonly [K in keyof HashState]?: HashState[K] } = {};
  const problems: string[] = [];
  const bad = (key: string, value: string, why: string) =>
    problems.push(`${key}=${value.length > 40 ? `${value.slice(0, 40)}…` : value}: ${why}`);
  const read = <T>(key: string, parse: (v: string) => T | undefined, why: string) => {
    const v = p.get(key);
    if (v === null) return undefined;
    const parsed = parse(v);
    if (parsed === undefined) bad(key, v, why);
    return parsed;
  };

  const preset = read('preset', (v) => oneOf(PRESETS, v), `not a model; use ${PRESETS.join(', ')}`);
  if (preset) out.preset = preset;
  for (const kind of ['file', 'trained'] as const) {
    const name = p.get(kind);
    if (name !== null) out.unlinked = { kind, name: name.slice(0, 120) };
  }
  const show = read('show', (v) => oneOf(SHOW_CHOICES, v), `use ${SHOW_CHOICES.join(', ')}`);
  if (show) out.show = show;
  const tile = read(
    'tile',
    (v) => {
      try {
        return parseTileSides(v);
      } catch {
        return undefined;
      }
    },
    'a tile is T1xT2 with powers of two that fit a ciphertext (4x8, or 4x8:A)',
  );
  if (tile) Object.assign(out, tile);
  const ring = read(
    'n',
    (v): RingChoice | undefined =>
      v === 'auto'
        ? 'auto'
        : (RING_DEGREES as readonly number[]).includes(Number(v))
          ? (Number(v) as RingChoice)
          : undefined,
    `the ring degree is auto or one of ${RING_DEGREES.join(', ')}`,
  );
  if (ring !== undefined) out.ring = ring;
  const method = read('method', (v) => oneOf(METHODS, v), `use ${METHODS.join(', ')}`);
  if (method) out.method = method;
  const scope = read('scope', (v) => oneOf(SCOPES, v), `use ${SCOPES.join(', ')}`);
  if (scope) out.scope = scope;
  const score = read('score', (v) => oneOf(SCORES, v), `use ${SCORES.join(', ')}`);
  if (score) out.score = score;
  // Sparsity below 1: pruning everything is not a view anyone can use.
  const sparsity = read('sparsity', (v) => fraction(v, 0.999), 'a sparsity is from 0 to 0.999');
  if (sparsity !== undefined) out.sparsity = sparsity;
  const theta = read('theta', (v) => fraction(v, 1), 'theta is from 0 to 1');
  if (theta !== undefined) out.theta = theta;
  const structure = read(
    'structure',
    (v) => oneOf(STRUCTURE_LEVELS, v),
    `use ${STRUCTURE_LEVELS.join(', ')}`,
  );
  if (structure) out.structure = structure;
  const distill = read('distill', flag, 'use 0 or 1');
  if (distill !== undefined) out.distill = distill;
  const budget = read(
    'budget',
    (v): number | null | undefined => {
      if (v === 'none') return null;
      const tiles = /^\d{1,7}$/.test(v) ? Number(v) : NaN;
      return tiles >= 1 && tiles <= MAX_TILE_BUDGET ? tiles : undefined;
    },
    `a tile budget is a whole number from 1 to ${MAX_TILE_BUDGET}, or none`,
  );
  if (budget !== undefined) out.tileBudget = budget;
  const permuted = read('permuted', flag, 'use 0 or 1');
  if (permuted !== undefined) out.permuted = permuted;
  const layer = read(
    'layer',
    (v) => {
      const x = /^\d{1,2}$/.test(v) ? Number(v) : NaN;
      return x >= 0 && x < 64 ? x : undefined;
    },
    'a layer is a number from 0',
  );
  if (layer !== undefined) out.layer = layer;
  const view = read('view', (v) => oneOf(VIEWS, v), `use ${VIEWS.join(', ')}`);
  if (view) out.view = view;
  for (const key of new Set(p.keys()))
    if (!KNOWN_KEYS.has(key)) bad(key, p.get(key) ?? '', 'not a setting the studio knows');
  return { state: out, problems };
}
