// Debian's Chromium driven by playwright-core (playwright's own browser download
// does not work here). In a lab namespace, Chromium is started through a small
// wrapper that runs it under `ip netns exec`, so 127.0.0.1 is the namespace's
// loopback, where `pxekit serve --ui` listens: the UI server stays unreachable
// from the host, and nothing needs forwarding out of the namespace.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
export const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'ui');

/** Why the browser tests cannot run here, or undefined. */
export function browserSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux';
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} missing (scripts/install-deps.sh installs chromium)`;
  return undefined;
}

export interface LaunchedBrowser {
  browser: Browser;
  close(): Promise<void>;
}

/** Launches headless Chromium, inside network namespace `ns` when given. */
export async function launchBrowser(ns?: string): Promise<LaunchedBrowser> {
  let executablePath = CHROMIUM;
  let wrapperDir: string | undefined;
  if (ns) {
    wrapperDir = mkdtempSync(join(tmpdir(), 'pxk-chromium-'));
    executablePath = join(wrapperDir, 'chromium-in-netns');
    // exec keeps the PID and the DevTools pipe (fds 3 and 4) playwright opened.
    writeFileSync(executablePath, `#!/bin/sh\nexec ip netns exec '${ns}' ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  }
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
  return {
    browser,
    async close() {
      await browser.close().catch(() => {});
      if (wrapperDir) rmSync(wrapperDir, { recursive: true, force: true });
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Browser console errors and page crashes, collected for assertions and failure messages. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return errors;
}
