// Opens the component-test page (dist/renderer-harness: the real App over the
// FakeTransport) and loads a scenario into the fake "engine".
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import * as scenario from './scenario.js';
import { serveDir } from './static-server.js';
import type { HarnessWindow } from './page-types.js';
import { after, before } from 'node:test';
import { launchBrowser, type LaunchedBrowser } from './browser.js';

/** dist/test/ui/helpers -> dist/renderer-harness */
export const HARNESS_DIR = fileURLToPath(new URL('../../../renderer-harness/', import.meta.url));

export function harnessSkipReason(): string | undefined {
  return existsSync(`${HARNESS_DIR}harness.html`) ? undefined : `${HARNESS_DIR}harness.html missing: npm run build`;
}

export async function startHarnessServer() {
  return serveDir(HARNESS_DIR);
}

export type Scenario = Partial<Pick<typeof scenario, 'interfaces' | 'status' | 'sessions' | 'library' | 'assignments' | 'menu'>>;

/** Loads the page, gives the fake engine the scenario's state, "connects", and pushes assignments and menu. */
export async function openHarness(page: Page, baseUrl: string, s: Scenario = scenario): Promise<void> {
  await page.goto(`${baseUrl}/harness.html`);
  await page.waitForFunction(() => '__pxekitFake' in globalThis);
  await page.evaluate((st) => {
    const fake = (globalThis as unknown as HarnessWindow).__pxekitFake;
    Object.assign(fake.state, Object.fromEntries(Object.entries(st).filter(([, v]) => v !== undefined)));
    fake.open();
    const at = Date.now();
    fake.emit({ type: 'assignments', at, assignments: fake.state.assignments } as never);
    fake.emit({ type: 'menu', at, menu: fake.state.menu } as never);
  }, s as Record<string, unknown>);
}

export { scenario };

/**
 * The harness page's server and a browser for one describe block: started before its tests,
 * closed after. Read `h.b` and `h.server` inside the tests (they are set by then).
 */
export function harnessSuite(): { b: LaunchedBrowser; server: Awaited<ReturnType<typeof startHarnessServer>> } {
  const h = {} as { b: LaunchedBrowser; server: Awaited<ReturnType<typeof startHarnessServer>> };
  before(async () => {
    h.server = await startHarnessServer();
    h.b = await launchBrowser();
  });
  after(async () => {
    await h.b?.close();
    await h.server?.close();
  });
  return h;
}
