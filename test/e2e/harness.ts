/**
 * Shared browser end-to-end harness (node:test + playwright-core + Debian chromium).
 *
 * Each test file imports `withPage`. The first call starts `vite preview` on a free port over
 * the PRODUCTION build in dist/ (npm run test:e2e builds it first: the only real check of WASM
 * asset paths and module workers) and launches /usr/bin/chromium with a fresh profile; both
 * are stopped when the file's tests end. Screenshots land in test-results/ (gitignored).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const root = fileURLToPath(new URL('../../', import.meta.url));
export const RESULTS_DIR = join(root, 'test-results');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

interface Session {
  readonly baseUrl: string;
  readonly context: BrowserContext;
}

let session: Promise<Session> | undefined;
const cleanups: (() => Promise<void>)[] = [];

after(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  session = undefined;
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function startPreview(): Promise<string> {
  if (!existsSync(join(root, 'dist', 'index.html'))) {
    throw new Error(
      'dist/ has no production build: run `npm run build` first (npm run test:e2e does).',
    );
  }
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      join(root, 'node_modules/vite/bin/vite.js'),
      'preview',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--strictPort',
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  cleanups.push(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  });
  const baseUrl = `http://127.0.0.1:${port}/`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`vite preview exited (${child.exitCode}):\n${output}`);
    try {
      const response = await fetch(baseUrl);
      if (response.ok) return baseUrl;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`vite preview did not answer on ${baseUrl} within 30 s:\n${output}`);
}

async function startBrowser(): Promise<BrowserContext> {
  const userDataDir = await mkdtemp(join(tmpdir(), 'hepex-e2e-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 800 },
  });
  cleanups.push(async () => {
    await context.close();
    await rm(userDataDir, { recursive: true, force: true });
  });
  // The first-visit guide overlays a corner; tests that are not about it start with it closed.
  await context.addInitScript(() => window.localStorage.setItem('hepex.guide.v1', 'closed'));
  return context;
}

function getSession(): Promise<Session> {
  session ??= (async () => {
    await mkdir(RESULTS_DIR, { recursive: true });
    const baseUrl = await startPreview();
    const context = await startBrowser();
    return { baseUrl, context };
  })();
  return session;
}

export interface PageRun {
  readonly page: Page;
  readonly baseUrl: string;
  /** Uncaught page errors and console.error lines seen so far (workers included). */
  readonly errors: string[];
  /** Saves test-results/<name>.png. */
  screenshot(name: string): Promise<string>;
}

export interface WithPageOptions {
  /** Path under the app, default '/'. */
  readonly path?: string;
  /** Screenshot name saved after the test (pass or fail). */
  readonly screenshot?: string;
  /** Open as a first visit: the guide shows (it is closed for every other test). */
  readonly firstVisit?: boolean;
  /** Viewport size, default 1280 x 800. */
  readonly viewport?: { readonly width: number; readonly height: number };
}

/**
 * Opens a fresh page on the production build, runs `fn`, always saves a screenshot and
 * closes the page. The browser and server are shared by the tests of one file.
 */
export async function withPage<T>(
  fn: (run: PageRun) => Promise<T>,
  options: WithPageOptions = {},
): Promise<T> {
  const { baseUrl, context } = await getSession();
  const page = await context.newPage();
  if (options.firstVisit)
    await page.addInitScript(() => {
      // Once per page: a reload is a second visit, and the guide remembers being closed.
      if (window.sessionStorage.getItem('e2e-first-visit')) return;
      window.sessionStorage.setItem('e2e-first-visit', '1');
      window.localStorage.removeItem('hepex.guide.v1');
    });
  if (options.viewport) await page.setViewportSize(options.viewport);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const url = message.location().url;
    // Browsers ask for /favicon.ico on their own; the studio does not ship one.
    if (url.endsWith('/favicon.ico')) return;
    errors.push(`console: ${message.text()}${url ? ` (${url})` : ''}`);
  });
  const screenshot = async (name: string) => {
    const path = join(RESULTS_DIR, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    return path;
  };
  try {
    await page.goto(new URL(options.path ?? '/', baseUrl).href);
    return await fn({ page, baseUrl, errors, screenshot });
  } finally {
    if (options.screenshot) await screenshot(options.screenshot).catch(() => {});
    await page.close();
  }
}

/** Path (relative to the site root) of the built asset whose name starts with `prefix`. */
export function builtAsset(prefix: string): string {
  const name = readdirSync(join(root, 'dist', 'assets')).find((f) => f.startsWith(prefix));
  if (!name) throw new Error(`No dist/assets/${prefix}* in the production build.`);
  return `assets/${name}`;
}
