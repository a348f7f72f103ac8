import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { initializeTestEnvironment, type RulesTestEnvironment } from '@firebase/rules-unit-testing';
import { deleteApp, getApps } from 'firebase-admin/app';
import { googleFirestoreEmulator, mustHaveGoogleEmulator, probeGoogleFirestoreEmulator } from '../support/googleFirestoreEmulator';
import { makeTestAudio, makeTestImage } from '../support/media';
import { startTestStack, upload, type TestStack } from '../support/stack';
import { CHROMIUM, launchBrowser } from './browser';

// The web page in the cloud's watch mode: the local stack writes its jobs to Google's Firestore
// emulator, with infra/firestore.rules loaded (the owner may read avatarJobs/{id}), and the page
// follows the job through the Firebase JS SDK's listener, served from this site, in headless
// Chromium. No event stream may be opened.

const probe = probeGoogleFirestoreEmulator();
const RUN = (existsSync(CHROMIUM) && probe.available) || process.env.CI === 'true' || mustHaveGoogleEmulator();
const SKIPPED = RUN ? '' : ` (skipped: ${!existsSync(CHROMIUM) ? 'Debian Chromium is not installed' : probe.available ? '' : probe.reason})`;
const describeHere = RUN ? describe : describe.skip;

const RULES = readFileSync(path.resolve(__dirname, '../../../infra/firestore.rules'), 'utf8');
const PROJECT = 'demo-avatar-web-watch';

let env: RulesTestEnvironment;
let stack: TestStack;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let media: string;
let image: string;
let audio: string;

beforeAll(async () => {
  if (!RUN) return;
  const google = await googleFirestoreEmulator();
  if (!google.available) throw new Error(`this suite needs Google's Firestore emulator: ${google.reason}`);
  env = await initializeTestEnvironment({ projectId: PROJECT, firestore: { rules: RULES, host: google.hostname, port: google.port } });
  process.env.FIRESTORE_EMULATOR_HOST = google.host;
  media = await mkdtemp(path.join(os.tmpdir(), 'web-fs-watch-'));
  [image, audio] = await Promise.all([
    makeTestImage(media, { format: 'jpeg', name: 'face' }),
    makeTestAudio(media, { format: 'wav', seconds: 1, name: 'voice' }),
  ]);
  browser = await launchBrowser();
  stack = await startTestStack({
    env: {
      GOOGLE_CLOUD_PROJECT: PROJECT,
      JOB_STORE: 'firestore',
      FIRESTORE_COLLECTION: 'avatarJobs', // the collection the rules name
      TASKS: 'embedded',
      AUTH_MODE: 'local',
      PUSH: 'off',
      LOCAL_RENDER_LATENCY_MS: '1500',
      FIREBASE_WEB_CONFIG: JSON.stringify({ apiKey: 'emulator', projectId: PROJECT, appId: 'emulator', firestoreEmulatorHost: google.host }),
    },
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  await env?.cleanup();
  await Promise.all(getApps().map((a) => deleteApp(a)));
  delete process.env.FIRESTORE_EMULATOR_HOST;
  if (media) await rm(media, { recursive: true, force: true });
});

describeHere(`the web page on a Firestore listener${SKIPPED}`, () => {
  test('GET /config says the page listens to Firestore and names the web config; the SDK is served from this site', async () => {
    const config = (await (await fetch(`${stack.baseUrl}/config`)).json()) as any;
    expect(config.watch).toEqual({ browser: 'firestore', cli: 'poll', pollIntervalSec: 10 });
    expect(config.firebase).toEqual({ config: expect.objectContaining({ projectId: PROJECT }), collection: 'avatarJobs' });
    const sdk = await fetch(`${stack.baseUrl}/web/vendor/firebase/firebase-firestore.js`);
    expect(sdk.status).toBe(200);
    expect(sdk.headers.get('content-type')).toMatch(/javascript/);
    const text = await sdk.text();
    expect(text).not.toContain('gstatic.com');
    expect(text).toContain('./firebase-app.js');
    expect((await fetch(`${stack.baseUrl}/web/vendor/firebase/firebase-database.js`)).status).toBe(404);
  });

  test("a job's page follows it to completed through the listener, with no event stream and no polling", async () => {
    const created = await upload(stack.baseUrl, { image, audio, instructorName: `Listener ${randomUUID().slice(0, 4)}` });
    expect(created.status).toBe(202);
    const jobId = created.body.jobId as string;
    const page = await browser.context.newPage();
    const apiCalls: string[] = [];
    page.on('request', (r) => {
      const url = new URL(r.url());
      if (url.origin === stack.baseUrl && url.pathname.startsWith('/jobs/')) apiCalls.push(url.pathname);
    });
    try {
      await page.goto(`${stack.baseUrl}/?job=${jobId}`);
      await page.locator('#job-status', { hasText: 'completed' }).waitFor({ timeout: 60_000 });
      await expect(page.evaluate('window.__jobWatch')).resolves.toBe('firestore');
      await expect(page.locator('#job-percent').textContent()).resolves.toBe('100%');
      expect(apiCalls.filter((p) => p.endsWith('/events'))).toEqual([]);
      // One read to open the job, one for the retention dates at the end; nothing in between.
      expect(apiCalls.filter((p) => p === `/jobs/${jobId}`).length).toBeLessThanOrEqual(3);
    } finally {
      await page.close();
    }
  });
});
