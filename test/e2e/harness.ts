/**
 * Shared browser end-to-end harness (node:test + playwright-core + Debian chromium).
 *
 * Each test file imports `withPage`. The first call starts `vite preview` on a free port over
 * the PRODUCTION build in dist/ (npm run test:e2e builds it first: the only real check of WASM
 * asset paths and module workers) and launches /usr/bin/chromium with a fresh profile; both
 * are stopped when the file's tests end. Screenshots land in test-results/ (gitignored).
 */
import { readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { root, startBrowser, startPreview } from './browser';

export { root };
export const RESULTS_DIR = join(root, 'test-results');

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

function getSession(): Promise<Session> {
  session ??= (async () => {
    await mkdir(RESULTS_DIR, { recursive: true });
    const preview = await startPreview();
    cleanups.push(preview.stop);
    const browser = await startBrowser();
    cleanups.push(browser.stop);
    return { baseUrl: preview.value, context: browser.value };
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
