// Flat config. The folder layout is the architecture (README: Layout): these rules keep
// dependencies pointing one way, app -> components -> store -> services -> workers -> engines -> core.
import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const heavyLibraries = [
  { name: 'node-seal', message: 'src/core is pure: reach SEAL through src/engines/seal.' },
  { name: 'comlink', message: 'src/core is pure: workers and services own comlink.' },
  { name: 'react', message: 'src/core is pure: no React.' },
  { name: 'react-dom', message: 'src/core is pure: no React.' },
  { name: 'zustand', message: 'src/core is pure: state lives in src/store.' },
  { name: '@tensorflow/tfjs', message: 'src/core is pure: reach tfjs through src/engines/tfjs.' },
];

const CORE_ZONES = ['model', 'tiling', 'he', 'prune', 'io', 'analysis', 'sweep'];
const OUTSIDE_CORE = [
  '**/engines/**',
  '**/services/**',
  '**/store/**',
  '**/viz/**',
  '**/components/**',
  '**/app/**',
  '**/cli/**',
  '**/workers/**',
];

/** One config per core zone: pure TypeScript, nothing above core, only the zones listed below it. */
const coreZones = (zones) =>
  zones.map(({ zone, below }) => ({
    files: [`src/core/${zone}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: heavyLibraries,
          patterns: [
            { group: ['@tensorflow/*', 'd3', 'd3-*'], message: 'src/core is pure TypeScript.' },
            { group: OUTSIDE_CORE, message: 'src/core imports nothing above it.' },
            ...CORE_ZONES.filter((z) => z !== zone && !below.includes(z)).map((z) => ({
              group: [`../${z}/*`, `../../${z}/*`],
              message: `core/${zone} sits below core/${z}: ${zone} may import ${below.length ? below.join(', ') : 'nothing else in core'}.`,
            })),
          ],
        },
      ],
    },
  }));

const layer = (patterns) => ({
  'no-restricted-imports': [
    'error',
    { patterns: patterns.map((group) => ({ group: [group.from], message: group.message })) },
  ],
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'public/**', 'test-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  // Type-aware rules where a mistake is silent at run time: a promise nobody awaits (a lost
  // error, a job that outlives its cancel), a promise where a boolean or void callback belongs,
  // and await on something that is not a promise.
  {
    files: ['**/*.{ts,tsx}'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's test() returns a promise the runner itself awaits.
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: 'test' }] },
      ],
      '@typescript-eslint/no-misused-promises': [
        'error',
        { checksVoidReturn: { attributes: false } },
      ],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['src/**/*.{ts,tsx}'],
    plugins: { 'react-hooks': reactHooks },
    rules: { 'react-hooks/rules-of-hooks': 'error', 'react-hooks/exhaustive-deps': 'error' },
  },
  // src/core in layers: model (types, network, conv geometry) <- tiling (tile shapes, plans, the
  // execution plan) <- {he, prune, io} <- analysis. A zone imports only the zones below it.
  ...coreZones([
    { zone: 'model', below: [] },
    { zone: 'tiling', below: ['model'] },
    { zone: 'he', below: ['model', 'tiling'] },
    { zone: 'prune', below: ['model', 'tiling'] },
    { zone: 'io', below: ['model', 'tiling'] },
    { zone: 'analysis', below: ['model', 'tiling', 'he', 'prune', 'io'] },
    { zone: 'sweep', below: ['model', 'tiling', 'prune', 'io'] },
  ]),
  {
    files: ['src/engines/**/*.ts'],
    rules: layer([
      { from: '**/services/**', message: 'engines sit below services.' },
      { from: '**/store/**', message: 'engines sit below the store.' },
      { from: '**/viz/**', message: 'engines sit below the view.' },
      { from: '**/components/**', message: 'engines sit below the view.' },
      { from: '**/app/**', message: 'engines sit below the app.' },
      { from: '**/cli/**', message: 'engines sit below the CLI.' },
      { from: '**/workers/**', message: 'engines sit below the workers.' },
    ]),
  },
  {
    files: ['workers/**/*.ts'],
    rules: layer([
      { from: '**/services/**', message: 'workers sit below services.' },
      { from: '**/store/**', message: 'workers sit below the store.' },
      { from: '**/components/**', message: 'workers sit below the view.' },
      { from: '**/app/**', message: 'workers sit below the app.' },
      { from: 'react', message: 'workers have no React.' },
    ]),
  },
  {
    files: ['src/services/**/*.ts'],
    rules: layer([
      { from: '**/store/**', message: 'services sit below the store.' },
      { from: '**/components/**', message: 'services sit below the view.' },
      { from: '**/app/**', message: 'services sit below the app.' },
    ]),
  },
  {
    files: ['src/store/**/*.ts'],
    rules: layer([
      { from: '**/components/**', message: 'the store sits below the view.' },
      { from: '**/app/**', message: 'the store sits below the app.' },
      { from: '**/engines/**', message: 'the store talks to engines through services (workers).' },
    ]),
  },
  {
    files: ['src/viz/**/*.ts', 'src/viz/**/*.tsx'],
    rules: layer([
      { from: '**/store/**', message: 'painters are pure: pass data in, never read the store.' },
      { from: '**/services/**', message: 'painters are pure.' },
      { from: '**/engines/**', message: 'painters are pure.' },
      { from: '**/app/**', message: 'viz sits below the app.' },
    ]),
  },
  {
    files: ['src/components/**/*.tsx', 'src/components/**/*.ts'],
    rules: layer([
      {
        from: '**/engines/**',
        message: 'components reach engines through the store and services.',
      },
      { from: '**/workers/**', message: 'components never touch workers directly.' },
      { from: '**/app/**', message: 'components sit below the app.' },
      { from: 'comlink', message: 'components never wrap workers: use a service.' },
      {
        from: '**/services/**',
        message: 'components reach services through the store (app wires them in).',
      },
    ]),
  },
);
