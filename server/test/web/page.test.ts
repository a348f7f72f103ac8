import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { ClientError } from '../../src/http/errors';
import { makeBigFile, makeCorruptFile, makeHugeDeclaredPng, makeTestAudio, makeTestImage, probe } from '../support/media';
import { startTestStack, type TestStack } from '../support/stack';
import { existsSync } from 'node:fs';
import { ARTIFACTS, CHROMIUM, launchBrowser, waitInPage } from './browser';

// CI (CI=true; .ci/run installs Chromium) always runs these, and fails without a browser. On a
// newcomer's machine without Chromium they are skipped, saying why, so `npm test` still passes.
const RUN = existsSync(CHROMIUM) || process.env.CI === 'true';
const SKIPPED = RUN ? '' : ' (skipped: Debian Chromium is not installed: apt-get install chromium)';
const describeInBrowser = RUN ? describe : describe.skip;

// The web page in a real browser (Debian's Chromium, headless) against the real local stack:
// the upload goes through the page's form, the progress through its EventSource.

const AUDIO_SECONDS = 2.5;

let media: string;
let image: string;
let audio: string;
let stack: TestStack;
let browser: Awaited<ReturnType<typeof launchBrowser>>;

beforeAll(async () => {
  if (!RUN) return;
  media = await mkdtemp(path.join(os.tmpdir(), 'web-media-'));
  [image, audio] = await Promise.all([
    makeTestImage(media, { format: 'jpeg', name: 'face' }),
    makeTestAudio(media, { format: 'wav', seconds: AUDIO_SECONDS, name: 'voice' }),
  ]);
  // Latency makes the provider report a few polls, so the page has steps to show.
  // The browser first: if it cannot start, no server is left running to keep the run alive.
  browser = await launchBrowser();
  stack = await startTestStack({ env: { LOCAL_RENDER_LATENCY_MS: '800' } });
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  if (media) await rm(media, { recursive: true, force: true });
});

// Code run inside the page is passed as text: this project's TypeScript has no DOM library.

/** Records every text the element shows into window[key], so the test can read the history. */
async function recordTexts(page: Page, elementId: string, key: string): Promise<void> {
  await page.evaluate(`(() => {
    const seen = (window[${JSON.stringify(key)}] = []);
    const el = document.getElementById(${JSON.stringify(elementId)});
    new MutationObserver(() => seen.push(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
  })()`);
}

function recorded(page: Page, key: string): Promise<string[]> {
  return page.evaluate<string[]>(`window[${JSON.stringify(key)}]`);
}

async function fillForm(page: Page, files: { image: string; audio: string }, name = 'Kim Lee'): Promise<void> {
  await page.getByLabel('Photo').setInputFiles(files.image);
  await page.getByLabel('Voice recording').setInputFiles(files.audio);
  await page.getByLabel('Instructor name').fill(name);
  await page.getByLabel('Short bio').fill('Teaches physics');
}

describeInBrowser(`the web page${SKIPPED}`, () => {
  test('when a photo and a recording are sent, the page follows the job to 100% and plays a video as long as the audio', async () => {
    const page = await browser.context.newPage();
    const uploads: number[] = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/generate-with-tasks')) uploads.push(1);
    });
    await page.goto(stack.baseUrl + '/');
    await expect(page.title()).resolves.toBe('Avatar video');
    await fillForm(page, { image, audio });
    await recordTexts(page, 'upload-text', 'seenUpload');
    await page.getByRole('button', { name: 'Make the video' }).click();

    // The job gets its own URL at once, after the upload bar has gone to 100%.
    await page.waitForURL(/\?job=[A-Za-z0-9-]+$/);
    const jobId = new URL(page.url()).searchParams.get('job')!;
    expect((await recorded(page, 'seenUpload')).at(-1)).toBe('100%');
    await recordTexts(page, 'job-percent', 'seenPercents');
    await expect(page.locator('#job-id').textContent()).resolves.toBe(jobId);

    await page.locator('#job-percent', { hasText: '100%' }).waitFor({ timeout: 30_000 });
    await expect(page.locator('#job-status').textContent()).resolves.toBe('completed');
    await expect(page.locator('#steps li').evaluateAll((lis: any[]) => lis.map((li) => li.dataset.state))).resolves.toEqual([
      'done',
      'done',
      'done',
      'done',
    ]);
    const seen = (await recorded(page, 'seenPercents')).map((t) => parseInt(t, 10));
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(seen[seen.length - 1]).toBe(100);
    await expect(page.locator('#job-provider').textContent()).resolves.toMatch(/^local-render · created/);
    expect(uploads).toHaveLength(1);

    // The <video> loads the stored MP4 (Chromium decodes its h264) with the audio's length.
    const video = page.locator('#job-video');
    await video.waitFor({ state: 'visible' });
    await waitInPage(page, `document.getElementById('job-video').readyState >= 1`, 15_000);
    const duration = await video.evaluate((v: any) => v.duration as number);
    const audioInfo = await probe(audio);
    expect(Math.abs(duration - (audioInfo.durationSec ?? AUDIO_SECONDS))).toBeLessThan(0.3);
    await expect(video.evaluate((v: any) => v.error)).resolves.toBeNull();

    const href = await page.getByRole('link', { name: 'Download the video' }).getAttribute('href');
    expect(href).toBe(`/jobs/${jobId}/video?download=1`);
    const download = await fetch(stack.baseUrl + href);
    expect(download.headers.get('content-disposition')).toMatch(/^attachment/);

    // The recent list holds the job, marked as the one shown.
    const item = page.locator(`#recent-list a[data-job-id="${jobId}"]`);
    await item.waitFor();
    await expect(item.getAttribute('aria-current')).resolves.toBe('page');
    await expect(item.textContent()).resolves.toContain('Kim Lee');

    await page.screenshot({ path: path.join(ARTIFACTS, 'web-completed-desktop.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-completed-phone.png'), fullPage: true });

    // A reload (or a shared link) shows the same finished job again.
    await page.reload();
    await page.locator('#job-status', { hasText: 'completed' }).waitFor();
    await expect(page.locator('#job-title').textContent()).resolves.toBe('Video for Kim Lee');
    await page.close();
  });

  test('when a text file named .jpg is sent, the page shows the server refusing it in its own words', async () => {
    const page = await browser.context.newPage();
    const fake = path.join(media, 'holiday.jpg');
    await writeFile(fake, 'this is not a picture, just some text\n'.repeat(20));
    await page.goto(stack.baseUrl + '/');
    await fillForm(page, { image: fake, audio });
    const answer = page.waitForResponse((r) => r.url().endsWith('/generate-with-tasks'));
    await page.getByRole('button', { name: 'Make the video' }).click();
    expect((await answer).status()).toBe(415);

    const alert = page.locator('#form-error');
    await alert.waitFor({ state: 'visible' });
    // The server's own words (they name the field), then what to do next.
    await expect(alert.textContent()).resolves.toBe(
      "The upload was refused. The image must be JPEG, PNG, WebP or HEIC; this file's contents are not. What to do: choose another file and send the form again.",
    );
    await expect(page.locator('#image').getAttribute('aria-invalid')).resolves.toBe('true');
    expect(new URL(page.url()).search).toBe(''); // still on the form, nothing to follow
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-refused.png'), fullPage: true });
    await page.close();
  });

  test('when the photo is over the limit, the page says so and sends nothing', async () => {
    const page = await browser.context.newPage();
    const big = await makeBigFile(media, 10 * 1024 * 1024 + 1, 'jpeg', 'big-face');
    let sent = 0;
    page.on('request', (r) => {
      if (r.url().endsWith('/generate-with-tasks')) sent++;
    });
    await page.goto(stack.baseUrl + '/');
    await fillForm(page, { image: big, audio });
    await page.getByRole('button', { name: 'Make the video' }).click();
    await expect(page.locator('#image-error').textContent()).resolves.toBe('The photo is larger than 10 MB.');
    // Focus goes to the field to fix, so a keyboard user lands on it.
    await expect(page.evaluate(`document.activeElement?.id`)).resolves.toBe('image');
    expect(sent).toBe(0);
    await page.close();
  });

  test('a form sent while GET /config is still on its way waits for the limits: an oversized photo is still refused in the page', async () => {
    const page = await browser.context.newPage();
    const big = await makeBigFile(media, 10 * 1024 * 1024 + 1, 'jpeg', 'big-face-early');
    let sent = 0;
    page.on('request', (r) => {
      if (r.url().endsWith('/generate-with-tasks')) sent++;
    });
    // The server's answer about its limits arrives late (a slow network).
    await page.route('**/config', async (route) => {
      await new Promise((r) => setTimeout(r, 1500));
      await route.continue();
    });
    await page.goto(stack.baseUrl + '/');
    await fillForm(page, { image: big, audio });
    await page.getByRole('button', { name: 'Make the video' }).click();
    await page.locator('#image-error', { hasText: 'larger' }).waitFor({ timeout: 10_000 });
    await expect(page.locator('#image-error').textContent()).resolves.toBe('The photo is larger than 10 MB.');
    expect(sent).toBe(0);
    await page.close();
  });

  test('when the photo cannot be decoded, the job fails in plain words with what to do, and "Try again" starts a new job from the same files', async () => {
    const page = await browser.context.newPage();
    // A real PNG header (640×480, so the upload checks pass) over pixel data that does not inflate.
    const broken = await makeHugeDeclaredPng(media, { width: 640, height: 480, bytes: 4096, name: 'broken' });
    await page.goto(stack.baseUrl + '/');
    await fillForm(page, { image: broken, audio }, 'Ana Broken');
    await page.getByRole('button', { name: 'Make the video' }).click();
    await page.waitForURL(/\?job=/);
    await page.locator('#job-status', { hasText: 'failed' }).waitFor({ timeout: 30_000 });
    // Plain words and the next step; not the decoder's internals the job's message carries.
    await expect(page.locator('#job-error').textContent()).resolves.toBe('The photo or the voice recording could not be read.');
    await expect(page.locator('#job-next').textContent()).resolves.toBe('What to do: choose another file and send the form again.');
    const failedId = new URL(page.url()).searchParams.get('job')!;
    const stored = await stack.service.store.get(failedId);
    expect(stored?.error?.message).toBeTruthy();
    await expect(page.locator('#job-failure').textContent()).resolves.not.toContain(stored!.error!.message);
    await expect(page.locator('#steps li[data-state="failed"]').count()).resolves.toBe(1);
    await expect(page.getByRole('button', { name: 'Cancel' }).isHidden()).resolves.toBe(true);

    // Try again: a new job (POST /jobs/:id/retry) with the same photo, which fails the same way.
    const retried = page.waitForResponse((r) => r.url().endsWith(`/jobs/${failedId}/retry`));
    await page.getByRole('button', { name: 'Try again' }).click();
    expect((await retried).status()).toBe(202);
    await page.waitForURL((url) => url.searchParams.get('job') !== null && url.searchParams.get('job') !== failedId);
    const retryId = new URL(page.url()).searchParams.get('job')!;
    await page.locator('#job-status', { hasText: 'failed' }).waitFor({ timeout: 30_000 });
    await expect(page.locator('#job-title').textContent()).resolves.toBe('Video for Ana Broken');
    expect((await stack.service.store.get(retryId))?.input.instructorName).toBe('Ana Broken');

    // When the files are no longer kept, Try again goes back to the form with the name filled in.
    const again = await stack.service.store.get(retryId);
    await stack.service.blobs.delete(again!.input.imagePath);
    await page.getByRole('button', { name: 'Try again' }).click();
    await page.waitForURL((url) => url.search === '');
    await expect(page.locator('#form-note').textContent()).resolves.toBe(
      'The files of the earlier video are no longer kept. Choose the photo and the recording again.',
    );
    await expect(page.getByLabel('Instructor name').inputValue()).resolves.toBe('Ana Broken');
    await expect(page.evaluate(`document.activeElement?.id`)).resolves.toBe('image');
    await page.close();
  });
});

describeInBrowser(`the web page with a sign-in token${SKIPPED}`, () => {
  let secured: TestStack;
  const seenAuth: string[] = [];
  beforeAll(async () => {
    secured = await startTestStack({
      overrides: {
        // Stands in for Firebase ID token checks: one good token, everything else refused.
        authenticate: async (req) => {
          const header = req.header('authorization') ?? '';
          seenAuth.push(`${req.method} ${req.path} ${header}`);
          if (header !== 'Bearer good-token') throw new ClientError(401, 'unauthenticated', 'Sign in first');
          return { uid: 'alice', isDefault: false };
        },
      },
    });
  });
  afterAll(async () => {
    await secured?.close();
  });

  test('when localStorage.idToken is set, the upload, the live progress and the video all carry it', async () => {
    const page = await browser.context.newPage();
    await page.goto(secured.baseUrl + '/');
    // Without the token the server refuses, and the page says why.
    await page.locator('#recent-error', { hasText: 'Sign in first' }).waitFor();
    await expect(page.locator('#recent-error').textContent()).resolves.toBe(
      'Could not load recent videos. Sign in first. What to do: sign in again, then reload the page.',
    );
    await page.evaluate(`localStorage.setItem('idToken', 'good-token')`);
    seenAuth.length = 0;
    await page.reload();
    await fillForm(page, { image, audio });
    await page.getByRole('button', { name: 'Make the video' }).click();
    await page.waitForURL(/\?job=/);
    await page.locator('#job-status', { hasText: 'completed' }).waitFor({ timeout: 30_000 });
    await waitInPage(page, `document.getElementById('job-video').readyState >= 1`, 15_000);
    const duration = await page.locator('#job-video').evaluate((v: any) => v.duration as number);
    expect(Math.abs(duration - AUDIO_SECONDS)).toBeLessThan(0.3);
    // The video plays from memory: <video src> cannot send a header.
    await expect(page.locator('#job-video').getAttribute('src')).resolves.toMatch(/^blob:/);

    const paths = seenAuth.map((s) => s.split(' ').slice(0, 2).join(' '));
    expect(paths).toEqual(expect.arrayContaining(['POST /generate-with-tasks', 'GET /jobs', expect.stringMatching(/^GET \/jobs\/.+\/events$/), expect.stringMatching(/^GET \/jobs\/.+\/video$/)]));
    expect(seenAuth.every((s) => s.endsWith('Bearer good-token'))).toBe(true);
    await page.evaluate(`localStorage.removeItem('idToken')`);
    await page.close();
  });
});
