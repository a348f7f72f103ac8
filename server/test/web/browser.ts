import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium; CI installs it with apt (see .ci/run) when it is missing. */
export const CHROMIUM = '/usr/bin/chromium';

/** Where tests leave screenshots (gitignored). */
export const ARTIFACTS = path.resolve(__dirname, '..', '..', '..', 'test-artifacts');

/**
 * A fresh headless Chromium with an empty profile. The machine has no network: without the
 * background-networking flags Chromium keeps trying to reach Google's services and logs every
 * refusal. Fails (never skips) when Chromium is not installed, so a CI without it goes red.
 */
export async function launchBrowser(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: the browser tests need Debian's Chromium. Install it with ` +
        '`apt-get update && apt-get install -y --no-install-recommends chromium` and run the tests again.',
    );
  }
  await mkdir(ARTIFACTS, { recursive: true });
  const profile = await mkdtemp(path.join(os.tmpdir(), 'chromium-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1200, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Waits until a JavaScript expression is true in the page. Playwright's waitForFunction polls
 * through a function it makes with eval inside the page, which the page's Content-Security-Policy
 * (script-src 'self', no 'unsafe-eval') refuses whenever the first check is false; each check
 * here is its own DevTools evaluation, which the policy does not govern.
 */
export async function waitInPage(page: Page, expression: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await page.evaluate(expression)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting in the page for: ${expression}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
