import { parseBoundedJson } from '../io/boundedJson';
import { HepexError } from '../model/errors';
import {
  PRUNE_SCOPES,
  checkGroupLasso,
  checkMaxTiles,
  checkTheta,
  type PruneScope,
} from '../prune/common';
import { methodSteps, permuteObjectiveFor } from '../prune/methodSteps';
import { PERMUTE_OBJECTIVES, type PermuteObjective } from '../prune/permute';
import {
  PRUNE_METHODS,
  checkSteps,
  type PipelineStep,
  type PruneMethod,
} from '../prune/pipelineSteps';
import { TILE_SCORES, type TileScore } from '../prune/tilePrune';
import type { HeMode } from '../tiling/executionPlan';
import { parseTileShape, tileShapeLabel, type TileShape } from '../tiling/tileShape';
import { canonicalJson, fnv1a64 } from './canonical';

/**
 * A sweep description (JSON, version 1): one model and its data, methods, grids and seeds. The
 * CLI (`hepex sweep --spec FILE`), the job queue and the studio's Sweep panel all read and write
 * this one format. Every (method, sparsity, theta, tile, seed) is one independent job whose id
 * is a hash of its canonical configuration, so a job means the same on every machine.
 */
export const SWEEP_SPEC_VERSION = 1;

/** More jobs than this is almost certainly a typo in a grid (and hours of work). */
export const MAX_SWEEP_JOBS = 5000;

const HE_MODES: readonly HeMode[] = ['plain-model', 'encrypted-model'];

export interface SweepData {
  /** IDX images + labels (gzipped or not), split by the job's seed; absent: built-in MNIST. */
  readonly images?: string;
  readonly labels?: string;
  /** A separate test pair (then no split). */
  readonly testImages?: string;
  readonly testLabels?: string;
  /** Use only the first N training / test images of the split (quick sweeps, tests). */
  readonly trainLimit?: number;
  readonly testLimit?: number;
}

/** The prune settings every job of a sweep shares (the CLI's prune flags, pruneSettings.ts). */
export interface SweepSettings {
  readonly scope?: PruneScope;
  readonly score?: TileScore;
  readonly retrainEpochs?: number;
  readonly pruneSteps?: number;
  readonly groupLasso?: number;
  readonly trainEpochs?: number;
  readonly finalEpochs?: number;
  readonly distill?: boolean;
  readonly maxTiles?: number;
  readonly objective?: PermuteObjective;
  readonly learningRate?: number;
  /** Samples per ciphertext and ring degree the tile shapes are placed with. */
  readonly batch?: number;
  readonly ringDegree?: number;
  readonly mode?: HeMode;
}

export interface SweepSpec {
  readonly version: typeof SWEEP_SPEC_VERSION;
  /** A model directory (model.json + weights.bin) or an .onnx file, as `--model` takes. */
  readonly model: string;
  readonly data?: SweepData;
  readonly methods: readonly PruneMethod[];
  readonly grid: {
    /** One list for every method, or one per method (the tile method's are tile sparsities). */
    readonly sparsity: readonly number[] | Partial<Record<PruneMethod, readonly number[]>>;
    /** hepex only (other methods ignore it); default [0.0625]. */
    readonly theta?: readonly number[];
    /** Tile shapes like "4x8" or "4x8:A"; default ["4x8"]. */
    readonly tile?: readonly string[];
  };
  /** Each seed seeds the data split, the shuffles and the permutation; default [1]. */
  readonly seeds?: readonly number[];
  readonly settings?: SweepSettings;
}

/** Settings with every default filled in: part of each job's identity. */
export interface ResolvedSweepSettings {
  readonly scope?: PruneScope;
  readonly score: TileScore;
  readonly retrainEpochs: number;
  readonly pruneSteps: number;
  readonly groupLasso: number;
  readonly trainEpochs?: number;
  readonly finalEpochs?: number;
  readonly distill: boolean;
  readonly maxTiles?: number;
  readonly objective: PermuteObjective;
  readonly learningRate?: number;
  readonly batch?: number;
  readonly ringDegree?: number;
  readonly mode: HeMode;
}

/** Everything one job depends on; its id is the hash of this object's canonical JSON. */
export interface SweepJobConfig {
  readonly model: string;
  readonly data: SweepData;
  readonly method: PruneMethod;
  readonly sparsity: number;
  /** hepex only. */
  readonly theta?: number;
  /** Canonical tile label ("4x8", "4x8:A"). */
  readonly tile: string;
  readonly seed: number;
  readonly settings: ResolvedSweepSettings;
}

export interface SweepJob {
  /** 16 hex digits: fnv1a64(canonicalJson(config)). */
  readonly id: string;
  /** Position in the spec's expansion order (methods, sparsities, thetas, tiles, seeds). */
  readonly index: number;
  readonly config: SweepJobConfig;
}

const fail = (message: string): never => {
  throw new HepexError('invalid-argument', `Sweep spec: ${message}`);
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key))
      fail(`${where} has an unknown field "${key}"; known: ${allowed.join(', ')}.`);
  }
}

function numberList(
  value: unknown,
  where: string,
  check: (n: number) => string | undefined,
): number[] {
  if (!Array.isArray(value)) return fail(`${where} must be a list of numbers.`);
  if (value.length === 0) fail(`${where} is empty; give at least one value.`);
  const seen = new Set<number>();
  return value.map((v) => {
    if (typeof v !== 'number' || !Number.isFinite(v))
      fail(`${where} holds ${JSON.stringify(v)}, not a number.`);
    const problem = check(v as number);
    if (problem) fail(`${where}: ${problem}`);
    if (seen.has(v as number)) fail(`${where} lists ${v} twice.`);
    seen.add(v as number);
    return v as number;
  });
}

const sparsityProblem = (s: number): string | undefined =>
  s > 0 && s < 1 ? undefined : `sparsity ${s} is outside (0, 1).`;

const thetaProblem = (t: number): string | undefined => {
  try {
    checkTheta(t);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
};

const seedProblem = (s: number): string | undefined =>
  Number.isInteger(s) && s >= 0 && s <= 0xffffffff
    ? undefined
    : `seed ${s} is not a whole number from 0 to 2^32 - 1.`;

function optionalWhole(
  obj: Record<string, unknown>,
  key: string,
  where: string,
  min: number,
  max: number,
): number | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    fail(`${where}.${key} must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}.`);
  return v as number;
}

function optionalString(obj: Record<string, unknown>, key: string, where: string) {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') fail(`${where}.${key} must be a non-empty string.`);
  return v as string;
}

function optionalChoice<T extends string>(
  obj: Record<string, unknown>,
  key: string,
  choices: readonly T[],
  where: string,
): T | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v))
    fail(`${where}.${key} is ${JSON.stringify(v)}; use one of ${choices.join(', ')}.`);
  return v as T;
}

function checkData(value: unknown): SweepData {
  if (value === undefined) return {};
  if (!isObject(value)) return fail('data must be an object (or left out for built-in MNIST).');
  checkKeys(
    value,
    ['images', 'labels', 'testImages', 'testLabels', 'trainLimit', 'testLimit'],
    'data',
  );
  const images = optionalString(value, 'images', 'data');
  const labels = optionalString(value, 'labels', 'data');
  const testImages = optionalString(value, 'testImages', 'data');
  const testLabels = optionalString(value, 'testLabels', 'data');
  if ((images === undefined) !== (labels === undefined))
    fail('data.images and data.labels go together: give both IDX files or neither.');
  if ((testImages === undefined) !== (testLabels === undefined))
    fail('data.testImages and data.testLabels go together.');
  if (testImages !== undefined && images === undefined)
    fail('data.testImages needs data.images and data.labels too.');
  const trainLimit = optionalWhole(value, 'trainLimit', 'data', 1, 1e7);
  const testLimit = optionalWhole(value, 'testLimit', 'data', 1, 1e7);
  return { images, labels, testImages, testLabels, trainLimit, testLimit };
}

function resolveSettings(value: unknown): ResolvedSweepSettings {
  const s: Record<string, unknown> = value === undefined ? {} : isObject(value) ? value : {};
  if (value !== undefined && !isObject(value)) fail('settings must be an object.');
  checkKeys(
    s,
    [
      'scope',
      'score',
      'retrainEpochs',
      'pruneSteps',
      'groupLasso',
      'trainEpochs',
      'finalEpochs',
      'distill',
      'maxTiles',
      'objective',
      'learningRate',
      'batch',
      'ringDegree',
      'mode',
    ],
    'settings',
  );
  if (s.distill !== undefined && typeof s.distill !== 'boolean')
    fail('settings.distill must be true or false.');
  const groupLasso = s.groupLasso ?? 0;
  if (typeof groupLasso !== 'number') fail('settings.groupLasso must be a number.');
  checkGroupLasso(groupLasso as number, 'settings.groupLasso');
  const maxTiles = optionalWhole(s, 'maxTiles', 'settings', 1, 1e9);
  if (maxTiles !== undefined) checkMaxTiles(maxTiles);
  const lr = s.learningRate;
  if (lr !== undefined && (typeof lr !== 'number' || !(lr > 0) || !Number.isFinite(lr)))
    fail(`settings.learningRate must be a positive number, got ${JSON.stringify(lr)}.`);
  return {
    scope: optionalChoice(s, 'scope', PRUNE_SCOPES, 'settings'),
    score: optionalChoice(s, 'score', TILE_SCORES, 'settings') ?? 'l1',
    retrainEpochs: optionalWhole(s, 'retrainEpochs', 'settings', 0, 1000) ?? 4,
    pruneSteps: optionalWhole(s, 'pruneSteps', 'settings', 1, 100) ?? 1,
    groupLasso: groupLasso as number,
    trainEpochs: optionalWhole(s, 'trainEpochs', 'settings', 0, 1000),
    finalEpochs: optionalWhole(s, 'finalEpochs', 'settings', 0, 1000),
    distill: s.distill === true,
    maxTiles,
    objective:
      optionalChoice(s, 'objective', PERMUTE_OBJECTIVES, 'settings') ??
      permuteObjectiveFor('hepex'),
    learningRate: lr as number | undefined,
    batch: optionalWhole(s, 'batch', 'settings', 1, 1 << 20),
    ringDegree: optionalWhole(s, 'ringDegree', 'settings', 1, 1 << 20),
    mode: optionalChoice(s, 'mode', HE_MODES, 'settings') ?? 'plain-model',
  };
}

/** The tile shape a job's label and settings describe (validated, placed in the ring). */
export function jobTileShape(config: Pick<SweepJobConfig, 'tile' | 'settings'>): TileShape {
  return parseTileShape(config.tile, {
    batch: config.settings.batch,
    ringDegree: config.settings.ringDegree,
  });
}

/** The pipeline steps of one job (the same recipe `hepex prune` runs for these settings). */
export function jobSteps(config: SweepJobConfig): PipelineStep[] {
  const s = config.settings;
  return methodSteps(config.method, {
    sparsity: config.sparsity,
    theta: config.theta,
    scope: s.scope,
    score: s.score,
    retrainEpochs: s.retrainEpochs,
    pruneSteps: s.pruneSteps,
    groupLasso: s.groupLasso,
    trainEpochs: s.trainEpochs,
    finalRetrainEpochs: s.finalEpochs,
    distill: s.distill,
    maxTiles: s.maxTiles,
    permuteObjective: s.objective,
    learningRate: s.learningRate,
    seed: config.seed,
  });
}

/** The id of a job configuration: stable across key order, processes and machines. */
export const jobId = (config: SweepJobConfig): string => fnv1a64(canonicalJson(config));

/**
 * Checks a parsed JSON value is a sweep spec and expands it into its jobs, in spec order.
 * Every field is checked and every job's steps validated before anything runs; a bad field
 * throws HepexError 'invalid-argument' (or the tile / pipeline check's own code) naming it.
 */
export function expandSweep(value: unknown): { spec: SweepSpec; jobs: SweepJob[] } {
  if (!isObject(value)) return fail('the file must hold one JSON object.');
  checkKeys(
    value,
    ['version', 'model', 'data', 'methods', 'grid', 'seeds', 'settings'],
    'the spec',
  );
  if (value.version !== SWEEP_SPEC_VERSION)
    fail(
      `version is ${JSON.stringify(value.version)}; this hepex reads version ${SWEEP_SPEC_VERSION}.`,
    );
  if (typeof value.model !== 'string' || value.model === '')
    fail('model must name a model directory or an .onnx file.');
  const model = value.model as string;
  const data = checkData(value.data);
  if (!Array.isArray(value.methods) || value.methods.length === 0)
    fail(`methods must be a non-empty list of ${PRUNE_METHODS.join(', ')}.`);
  const methods = (value.methods as unknown[]).map((m) => {
    if (typeof m !== 'string' || !(PRUNE_METHODS as readonly string[]).includes(m))
      fail(`unknown method ${JSON.stringify(m)}; use ${PRUNE_METHODS.join(', ')}.`);
    return m as PruneMethod;
  });
  if (new Set(methods).size !== methods.length) fail('methods lists a method twice.');
  if (!isObject(value.grid)) return fail('grid must be an object with sparsity (and theta, tile).');
  const grid = value.grid;
  checkKeys(grid, ['sparsity', 'theta', 'tile'], 'grid');
  const sparsities: Partial<Record<PruneMethod, number[]>> = {};
  if (Array.isArray(grid.sparsity)) {
    const list = numberList(grid.sparsity, 'grid.sparsity', sparsityProblem);
    for (const m of methods) sparsities[m] = list;
  } else if (isObject(grid.sparsity)) {
    const perMethod = grid.sparsity;
    checkKeys(perMethod, methods, 'grid.sparsity');
    for (const m of methods) {
      if (perMethod[m] === undefined) fail(`grid.sparsity has no list for method ${m}.`);
      sparsities[m] = numberList(perMethod[m], `grid.sparsity.${m}`, sparsityProblem);
    }
  } else {
    fail('grid.sparsity must be a list of sparsities, or an object of lists per method.');
  }
  const thetas =
    grid.theta === undefined ? [0.0625] : numberList(grid.theta, 'grid.theta', thetaProblem);
  if (grid.tile !== undefined && (!Array.isArray(grid.tile) || grid.tile.length === 0))
    fail('grid.tile must be a non-empty list of tile shapes like "4x8".');
  const settings = resolveSettings(value.settings);
  const tileTexts = (grid.tile as unknown[] | undefined) ?? ['4x8'];
  const tiles = tileTexts.map((t) => {
    if (typeof t !== 'string') return fail(`grid.tile holds ${JSON.stringify(t)}, not a string.`);
    // Parse now: a bad tile fails before any job runs; the label is canonical ("4X8" -> "4x8").
    return tileShapeLabel(
      parseTileShape(t, { batch: settings.batch, ringDegree: settings.ringDegree }),
    );
  });
  if (new Set(tiles).size !== tiles.length) fail('grid.tile lists a tile shape twice.');
  const seeds = value.seeds === undefined ? [1] : numberList(value.seeds, 'seeds', seedProblem);

  const count =
    methods.reduce((n, m) => n + sparsities[m]!.length * (m === 'hepex' ? thetas.length : 1), 0) *
    tiles.length *
    seeds.length;
  if (count > MAX_SWEEP_JOBS)
    fail(`it expands to ${count} jobs, more than ${MAX_SWEEP_JOBS}; split it into smaller sweeps.`);

  const jobs: SweepJob[] = [];
  for (const method of methods) {
    for (const sparsity of sparsities[method]!) {
      for (const theta of method === 'hepex' ? thetas : [undefined]) {
        for (const tile of tiles) {
          for (const seed of seeds) {
            const config: SweepJobConfig = {
              model,
              data,
              method,
              sparsity,
              ...(theta === undefined ? {} : { theta }),
              tile,
              seed,
              settings,
            };
            checkSteps(jobSteps(config));
            jobs.push({ id: jobId(config), index: jobs.length, config });
          }
        }
      }
    }
  }
  const spec: SweepSpec = {
    version: SWEEP_SPEC_VERSION,
    model,
    ...(value.data === undefined ? {} : { data }),
    methods,
    grid: {
      sparsity: Array.isArray(grid.sparsity) ? sparsities[methods[0]]! : sparsities,
      ...(grid.theta === undefined ? {} : { theta: thetas }),
      ...(grid.tile === undefined ? {} : { tile: tiles }),
    },
    ...(value.seeds === undefined ? {} : { seeds }),
    ...(value.settings === undefined ? {} : { settings: value.settings as SweepSettings }),
  };
  return { spec, jobs };
}

/** Parses a spec file's text (JSON) and expands it; bad JSON is an 'invalid-argument' error too. */
export function parseSweepSpec(text: string): { spec: SweepSpec; jobs: SweepJob[] } {
  // Bounded nesting before parsing: a hostile file must not overflow the stack later on.
  const value = parseBoundedJson(
    text,
    (message) => new HepexError('invalid-argument', `Sweep spec: ${message}`),
  );
  return expandSweep(value);
}

/** The spec as the file the CLI and the studio write: canonical JSON, two-space indented. */
export function formatSweepSpec(spec: SweepSpec): string {
  return JSON.stringify(JSON.parse(canonicalJson(spec)), null, 2) + '\n';
}
