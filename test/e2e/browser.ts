/**
 * Starting the studio's production build and Debian's chromium, with no test runner attached:
 * the e2e harness (harness.ts) and the browser benches share it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';

/** The repository root. */
export const root = fileURLToPath(new URL('../../', import.meta.url));
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

/** Something started, and how to stop it. */
export interface Started<T> {
  readonly value: T;
  stop(): Promise<void>;
}

/** `vite preview` of the production build in dist/ on a free loopback port; its base URL. */
export async function startPreview(): Promise<Started<string>> {
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
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  };
  const baseUrl = `http://127.0.0.1:${port}/`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`vite preview exited (${child.exitCode}):\n${output}`);
    }
    try {
      const response = await fetch(baseUrl);
      if (response.ok) return { value: baseUrl, stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  await stop();
  throw new Error(`vite preview did not answer on ${baseUrl} within 30 s:\n${output}`);
}

/** Debian's chromium, headless, on a fresh profile (removed on stop). */
export async function startBrowser(): Promise<Started<BrowserContext>> {
  const userDataDir = await mkdtemp(join(tmpdir(), 'hepex-e2e-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 800 },
  });
  const stop = async () => {
    await context.close();
    await rm(userDataDir, { recursive: true, force: true });
  };
  // The first-visit guide overlays a corner; tests that are not about it start with it closed.
  await context.addInitScript(() => window.localStorage.setItem('hepex.guide.v1', 'closed'));
  return { value: context, stop };
}
