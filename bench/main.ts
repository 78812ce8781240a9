import { mkdir, writeFile } from 'node:fs/promises';
import { machineInfo } from './common';

/**
 * `npm run bench -- [name ...] [--quick] [--tag=NAME]`: runs the named benchmarks (default: all
 * but studio-pool) and prints one JSON object { date, machine, results: { name: result } } on
 * stdout; it also writes it to bench/results/<names>[-NAME][-quick].json (prune --fashion-only:
 * -fashion). Each bench module (bench/<name>.ts; studio-pool: studioPool.ts) exports
 * `run(options)`. Ratios are measured side by side in one run; nothing
 * here asserts a time (machines are noisy).
 */
export interface BenchOptions {
  readonly quick: boolean;
  readonly args: readonly string[];
  readonly progress: (message: string) => void;
}

type BenchModule = { run(options: BenchOptions): Promise<unknown> };

const benches: Record<string, () => Promise<BenchModule>> = {
  cost: () => import('./cost'),
  prune: () => import('./prune'),
  train: () => import('./train'),
  he: () => import('./he'),
  pool: () => import('./pool'),
  paper: () => import('./paper'),
  bar: () => import('./bar'),
  'studio-pool': () => import('./studioPool'),
};

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const names = argv.filter((a) => !a.startsWith('--'));
// Only when named: it drives a browser over the production build (npm run build first).
const OPT_IN = new Set(['studio-pool']);
const selected = names.length ? names : Object.keys(benches).filter((n) => !OPT_IN.has(n));
const unknown = selected.filter((n) => !benches[n]);
if (unknown.length) {
  process.stderr.write(
    `bench: unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(benches).join(', ')}\n`,
  );
  process.exit(2);
}

const results: Record<string, unknown> = {};
for (const name of selected) {
  process.stderr.write(`bench: ${name}...\n`);
  const mod = await benches[name]();
  results[name] = await mod.run({
    quick,
    args: argv.filter((a) => a.startsWith('--') && a !== '--quick' && !a.startsWith('--tag=')),
    progress: (m) => process.stderr.write(`  ${name}: ${m}\n`),
  });
}
const report = {
  date: new Date().toISOString(),
  machine: machineInfo(),
  quick,
  results,
};
const json = JSON.stringify(report, null, 2);
await mkdir(new URL('./results/', import.meta.url), { recursive: true });
// A partial run (--fashion-only, or any --tag=NAME) gets its own file, so it never overwrites
// the full run's recorded results.
const tag =
  argv.find((a) => a.startsWith('--tag='))?.slice('--tag='.length) ??
  (argv.some((a) => a.startsWith('--fashion-only')) ? 'fashion' : '');
await writeFile(
  new URL(
    `./results/${selected.join('-')}${tag ? `-${tag}` : ''}${quick ? '-quick' : ''}.json`,
    import.meta.url,
  ),
  json + '\n',
);
process.stdout.write(json + '\n');
