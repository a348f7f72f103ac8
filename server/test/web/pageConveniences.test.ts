import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { makeHugeDeclaredPng, makeTestAudio, makeTestImage } from '../support/media';
import { pauseQueue, resumeQueue, startTestStack, upload, type TestStack } from '../support/stack';
import { ARTIFACTS, CHROMIUM, launchBrowser, waitInPage } from './browser';

// CI (CI=true; .ci/run installs Chromium) always runs these, and fails without a browser. On a
// newcomer's machine without Chromium they are skipped, saying why, so `npm test` still passes.
const RUN = existsSync(CHROMIUM) || process.env.CI === 'true';
const SKIPPED = RUN ? '' : ' (skipped: Debian Chromium is not installed: apt-get install chromium)';
const describeInBrowser = RUN ? describe : describe.skip;

// The web page's conveniences in headless Chromium against the real local stack, and an
// axe-core audit of each of its states. Code run inside the page is passed as text: this
// project's TypeScript has no DOM library.

const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

let media: string;
let image: string;
let audio: string;
let broken: string;
let stack: TestStack;
let browser: Awaited<ReturnType<typeof launchBrowser>>;

beforeAll(async () => {
  if (!RUN) return;
  media = await mkdtemp(path.join(os.tmpdir(), 'web-more-'));
  [image, audio, broken] = await Promise.all([
    makeTestImage(media, { format: 'jpeg', name: 'face' }),
    makeTestAudio(media, { format: 'wav', seconds: 2, name: 'voice' }),
    // Its header passes the checks at upload; its pixels do not decode, so the job fails.
    makeHugeDeclaredPng(media, { width: 640, height: 480, bytes: 4096, name: 'broken' }),
  ]);
  browser = await launchBrowser();
  // A slow provider: jobs stay in the provider step long enough to watch, estimate and cancel.
  stack = await startTestStack({ env: { LOCAL_RENDER_LATENCY_MS: '4000', MAX_ACTIVE_JOBS_PER_USER: '20' } });
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  if (media) await rm(media, { recursive: true, force: true });
});

interface Violation {
  id: string;
  impact: string;
  help: string;
  nodes: string[];
}

/**
 * axe-core's audit of the page as it is. The script is given through the DevTools protocol,
 * which the page's Content-Security-Policy (scripts from the page's origin only) does not bind.
 */
async function axeViolations(page: Page): Promise<Violation[]> {
  await page.evaluate(AXE_SOURCE);
  return page.evaluate<Violation[]>(`axe.run(document, { resultTypes: ['violations'] }).then((r) =>
    r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) })))`);
}

async function openPage(): Promise<Page> {
  const page = await browser.context.newPage();
  await page.goto(stack.baseUrl + '/');
  await page.locator('#recent-list, #recent-empty').first().waitFor({ state: 'attached' });
  return page;
}

/** Relative luminance and contrast ratio, as WCAG 2 defines them. */
function contrast(a: string, b: string): number {
  const lum = (css: string): number => {
    const [r, g, bl] = css.match(/\d+(\.\d+)?/g)!.slice(0, 3).map((x) => {
      const c = Number(x) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

describeInBrowser(`the web page's conveniences${SKIPPED}`, () => {
  test('the empty form, and the form showing its problems, pass axe-core with no violation', async () => {
    const page = await openPage();
    expect(await axeViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Make the video' }).click();
    await page.locator('#name-error').waitFor();
    expect(await axeViolations(page)).toEqual([]);
    await page.close();
  });

  test('a validation message disappears as soon as its field is fixed, without sending again', async () => {
    const page = await openPage();
    await page.getByRole('button', { name: 'Make the video' }).click();
    await expect(page.locator('#name-error').textContent()).resolves.toBe('Enter the instructor’s name.');
    await expect(page.locator('#image-error').isVisible()).resolves.toBe(true);

    await page.getByLabel('Instructor name').pressSequentially('K');
    await expect(page.locator('#name-error').isHidden()).resolves.toBe(true);
    await expect(page.locator('#name').getAttribute('aria-invalid')).resolves.toBe('false');
    // Emptied again while typing: no nagging until the form is sent again.
    await page.getByLabel('Instructor name').fill('');
    await expect(page.locator('#name-error').isHidden()).resolves.toBe(true);
    await page.getByRole('button', { name: 'Make the video' }).click();
    await expect(page.locator('#name-error').isVisible()).resolves.toBe(true);

    await page.getByLabel('Photo').setInputFiles(image);
    await expect(page.locator('#image-error').isHidden()).resolves.toBe(true);
    await expect(page.locator('#audio-error').isVisible()).resolves.toBe(true); // still unfixed
    await page.close();
  });

  test('before sending, the chosen photo is shown and the chosen recording can be played', async () => {
    const page = await openPage();
    await expect(page.locator('#image-preview').isHidden()).resolves.toBe(true);
    await page.getByLabel('Photo').setInputFiles(image);
    await page.getByLabel('Voice recording').setInputFiles(audio);
    const preview = page.locator('#image-preview');
    await preview.waitFor({ state: 'visible' });
    await waitInPage(page, `document.getElementById('image-preview').complete && document.getElementById('image-preview').naturalWidth > 0`);
    await expect(preview.evaluate((img: any) => [img.naturalWidth, img.naturalHeight])).resolves.toEqual([640, 480]);
    await expect(preview.getAttribute('src')).resolves.toMatch(/^blob:/);
    await expect(preview.getAttribute('alt')).resolves.toBe('Preview of the chosen photo');

    const player = page.getByLabel('Listen to the chosen recording');
    await player.waitFor({ state: 'visible' });
    await waitInPage(page, `document.getElementById('audio-preview').readyState >= 1`);
    const duration = await player.evaluate((a: any) => a.duration as number);
    expect(Math.abs(duration - 2)).toBeLessThan(0.1);
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-preview.png'), fullPage: true });
    await page.close();
  });

  test('a photo and a recording dropped onto the form fill its two file fields, and the video is made from them', async () => {
    const page = await openPage();
    const files = {
      image: (await readFile(image)).toString('base64'),
      audio: (await readFile(audio)).toString('base64'),
    };
    const dataTransfer = await page.evaluateHandle(`(() => {
      const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes(${JSON.stringify(files.audio)})], 'dropped-voice.wav', { type: 'audio/wav' }));
      dt.items.add(new File([bytes(${JSON.stringify(files.image)})], 'dropped-face.jpg', { type: 'image/jpeg' }));
      return dt;
    })()`);
    await page.dispatchEvent('#create-form', 'dragover', { dataTransfer });
    await expect(page.locator('#create-form').getAttribute('class')).resolves.toContain('is-dragover');
    await page.dispatchEvent('#create-form', 'drop', { dataTransfer });
    await expect(page.locator('#create-form').getAttribute('class')).resolves.not.toContain('is-dragover');
    await expect(page.locator('#image').evaluate((i: any) => i.files[0]?.name)).resolves.toBe('dropped-face.jpg');
    await expect(page.locator('#audio').evaluate((i: any) => i.files[0]?.name)).resolves.toBe('dropped-voice.wav');
    await page.locator('#image-preview').waitFor({ state: 'visible' });
    await page.locator('#audio-preview').waitFor({ state: 'visible' });

    await page.getByLabel('Instructor name').fill('Dropped');
    await page.getByRole('button', { name: 'Make the video' }).click();
    await page.waitForURL(/\?job=/);
    const jobId = new URL(page.url()).searchParams.get('job')!;
    const job = await stack.service.store.get(jobId);
    expect(job?.input).toMatchObject({ instructorName: 'Dropped', imageType: 'image/jpeg', audioType: 'audio/wav', imageBytes: files.image.length * 0.75 - (files.image.endsWith('==') ? 2 : files.image.endsWith('=') ? 1 : 0) });
    await page.close();
  });

  test('an upload in progress can be stopped: nothing is sent, no job is made, and the form can be sent again', async () => {
    const page = await openPage();
    const user = { 'X-User-Id': 'local-user' };
    const before = ((await (await fetch(`${stack.baseUrl}/jobs?limit=100`, { headers: user })).json()) as any).jobs.length;
    // Hold the request in the browser so the upload stays in progress until stopped.
    let held = false;
    await page.route('**/generate-with-tasks', () => {
      held = true;
    });
    await page.getByLabel('Photo').setInputFiles(image);
    await page.getByLabel('Voice recording').setInputFiles(audio);
    await page.getByLabel('Instructor name').fill('Stopped');
    await page.getByRole('button', { name: 'Make the video' }).click();
    await page.locator('#upload').waitFor({ state: 'visible' });
    await expect(page.locator('#submit').isDisabled()).resolves.toBe(true);
    await page.getByRole('button', { name: 'Stop the upload' }).click();

    await expect(page.locator('#form-note').textContent()).resolves.toBe('The upload was stopped. Nothing was sent; you can send the form again.');
    await expect(page.locator('#upload').isHidden()).resolves.toBe(true);
    await expect(page.locator('#form-error').isHidden()).resolves.toBe(true);
    await expect(page.locator('#submit').isEnabled()).resolves.toBe(true);
    expect(held).toBe(true);
    expect(new URL(page.url()).search).toBe('');
    const after = ((await (await fetch(`${stack.baseUrl}/jobs?limit=100`, { headers: user })).json()) as any).jobs.length;
    expect(after).toBe(before);
    await page.close();
  });

  test('the focus ring stands out at least 3:1 from the card behind it', async () => {
    const page = await openPage();
    await page.getByLabel('Short bio').focus();
    await page.keyboard.press('Tab'); // keyboard focus: :focus-visible on the button
    await expect(page.evaluate(`document.activeElement.id`)).resolves.toBe('submit');
    const ring = await page.evaluate<{ color: string; style: string; width: string; card: string }>(`(() => {
      const s = getComputedStyle(document.activeElement);
      return { color: s.outlineColor, style: s.outlineStyle, width: s.outlineWidth, card: getComputedStyle(document.getElementById('create')).backgroundColor };
    })()`);
    expect(ring.style).toBe('solid');
    expect(parseFloat(ring.width)).toBeGreaterThanOrEqual(2);
    expect(contrast(ring.color, ring.card)).toBeGreaterThanOrEqual(3);
    const page2 = await page.evaluate<string>(`getComputedStyle(document.body).backgroundColor`);
    expect(contrast(ring.color, page2)).toBeGreaterThanOrEqual(3);
    await page.close();
  });

  test('the time left is estimated from the progress over time', async () => {
    const page = await openPage();
    // The estimate itself: 25 % → 35 % in 10 s is 1 %/s, so 65 s left, said as about 2 min.
    const estimates = await page.evaluate<[number | null, number | null, number | null, string, string]>(`import('/web/eta.mjs').then((m) => {
      const t = (k, v) => k + (v ? JSON.stringify(v) : '');
      const two = [{ atMs: 0, percent: 25 }, { atMs: 10000, percent: 35 }];
      return [
        m.estimateRemainingMs(two, 10000),
        m.estimateRemainingMs(two.slice(0, 1), 10000),
        m.estimateRemainingMs([{ atMs: 0, percent: 25 }, { atMs: 10000, percent: 25 }], 10000),
        m.describeRemaining(m.estimateRemainingMs(two, 15000), t),
        m.describeRemaining(null, t),
      ];
    })`);
    expect(estimates).toEqual([65000, null, null, 'eta.minutes{"n":1}', 'eta.estimating']);

    // And on a running job: an estimate appears while the provider works. The job waits in a
    // paused queue until the page is open, so the page sees its whole run on a busy machine too.
    await pauseQueue(stack);
    try {
      const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Eta' });
      await page.goto(`${stack.baseUrl}/?job=${res.body.jobId}`);
      await page.locator('#job-status', { hasText: 'queued' }).waitFor({ timeout: 20_000 });
    } finally {
      await resumeQueue(stack);
    }
    await page.locator('#job-eta', { hasText: /^(about \d+ min|less than a minute)$/ }).waitFor({ timeout: 20_000 });
    await page.locator('#job-status', { hasText: 'completed' }).waitFor({ timeout: 30_000 });
    await expect(page.locator('#job-eta').textContent()).resolves.toBe('–');
    await page.close();
  });

  test('Cancel asks first; a running, a cancelled (offering Try again) and a finished job pass axe-core', async () => {
    const page = await browser.context.newPage();
    const cancels: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'POST' && r.url().endsWith('/cancel')) cancels.push(r.url());
    });
    const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Cancel Me' });
    await page.goto(`${stack.baseUrl}/?job=${res.body.jobId}`);
    await page.locator('#job-status', { hasText: 'processing' }).waitFor({ timeout: 20_000 });
    // The job must still be running when Cancel is accepted, however long the browser work
    // below takes on a busy machine: its next step waits in the paused queue until then.
    await pauseQueue(stack);
    try {
      expect(await axeViolations(page)).toEqual([]);
      await page.screenshot({ path: path.join(ARTIFACTS, 'web-running.png'), fullPage: true });

      // Dismissed: nothing is sent, the job goes on.
      const questions: string[] = [];
      page.once('dialog', (d) => {
        questions.push(d.message());
        void d.dismiss();
      });
      await page.getByRole('button', { name: 'Cancel' }).click();
      await expect(page.getByRole('button', { name: 'Cancel' }).isEnabled()).resolves.toBe(true);
      expect(questions).toEqual(['Cancel this video? The work done so far is lost.']);
      expect(cancels).toEqual([]);

      // Accepted: the cancel is recorded while the job still runs; the worker, let go, ends it.
      page.once('dialog', (d) => void d.accept());
      const answered = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/cancel'));
      await page.getByRole('button', { name: 'Cancel' }).click();
      expect((await answered).ok()).toBe(true);
    } finally {
      await resumeQueue(stack);
    }
    // The job is cancelled, and Try again is offered.
    await page.locator('#job-status', { hasText: 'cancelled' }).waitFor({ timeout: 20_000 });
    expect(cancels).toHaveLength(1);
    await expect(page.locator('#job-error').textContent()).resolves.toBe('This video was cancelled before it was finished.');
    expect(await axeViolations(page)).toEqual([]);

    await page.getByRole('button', { name: 'Try again' }).click();
    await page.waitForURL((url) => url.searchParams.get('job') !== res.body.jobId && url.searchParams.has('job'));
    await page.locator('#job-status', { hasText: 'completed' }).waitFor({ timeout: 30_000 });
    await waitInPage(page, `document.getElementById('job-video').readyState >= 1`, 15_000);
    expect(await axeViolations(page)).toEqual([]);
    await page.close();
  });

  test('a failed job shows plain words and what to do, and passes axe-core', async () => {
    const page = await browser.context.newPage();
    const res = await upload(stack.baseUrl, { image: broken, audio, instructorName: 'Broken' });
    await page.goto(`${stack.baseUrl}/?job=${res.body.jobId}`);
    await page.locator('#job-status', { hasText: 'failed' }).waitFor({ timeout: 20_000 });
    await expect(page.locator('#job-next').textContent()).resolves.toMatch(/^What to do: /);
    await expect(page.getByRole('button', { name: 'Try again' }).isVisible()).resolves.toBe(true);
    expect(await axeViolations(page)).toEqual([]);
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-failed.png'), fullPage: true });
    await page.close();
  });

  test('Delete asks first in the reader\'s language; dismissed keeps the job, accepted deletes it; the download-until date is said in English and Korean', async () => {
    const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Delete Me' });
    const jobId = res.body.jobId as string;

    const english = await browser.context.newPage();
    await english.goto(`${stack.baseUrl}/?job=${jobId}`);
    await english.locator('#job-status', { hasText: 'completed' }).waitFor({ timeout: 30_000 });
    await expect(english.locator('#job-expires').textContent()).resolves.toMatch(/^You can download this video until .+\.$/);
    await expect(english.getByRole('button', { name: 'Delete' }).isVisible()).resolves.toBe(true);
    await english.close();

    const korean = await browser.context.newPage();
    await korean.addInitScript(`Object.defineProperty(navigator, 'languages', { get: () => ['ko-KR', 'ko'] });
      Object.defineProperty(navigator, 'language', { get: () => 'ko-KR' });`);
    const deletes: string[] = [];
    korean.on('request', (r) => {
      if (r.method() === 'DELETE') deletes.push(r.url());
    });
    await korean.goto(`${stack.baseUrl}/?job=${jobId}`);
    await korean.locator('#job-status', { hasText: '완료' }).waitFor({ timeout: 20_000 });
    await expect(korean.locator('#job-expires').textContent()).resolves.toMatch(/^이 영상은 .+까지 내려받을 수 있습니다\.$/);
    expect(await axeViolations(korean)).toEqual([]);

    // Dismissed: nothing is sent, the job stays.
    const questions: string[] = [];
    korean.once('dialog', (d) => {
      questions.push(d.message());
      void d.dismiss();
    });
    await korean.getByRole('button', { name: '삭제' }).click();
    expect(questions).toEqual(['이 영상을 삭제할까요? 사진, 녹음, 영상이 영구히 지워지고, 아직 만드는 중인 영상은 취소됩니다.']);
    expect(deletes).toEqual([]);
    expect((await fetch(`${stack.baseUrl}/jobs/${jobId}`)).status).toBe(200);

    // Accepted: the job is deleted and the page goes back to the form.
    korean.once('dialog', (d) => void d.accept());
    await korean.getByRole('button', { name: '삭제' }).click();
    await korean.waitForURL((url) => !url.searchParams.has('job'));
    expect(deletes).toEqual([`${stack.baseUrl}/jobs/${jobId}`]);
    expect((await fetch(`${stack.baseUrl}/jobs/${jobId}`)).status).toBe(404);
    expect(await axeViolations(korean)).toEqual([]);
    await korean.close();
  });

  test('a browser set to Korean gets the page in Korean, and falls back to English for other languages', async () => {
    const korean = await browser.context.newPage();
    await korean.addInitScript(`Object.defineProperty(navigator, 'languages', { get: () => ['ko-KR', 'ko'] });
      Object.defineProperty(navigator, 'language', { get: () => 'ko-KR' });`);
    await korean.goto(stack.baseUrl + '/');
    await expect(korean.title()).resolves.toBe('아바타 영상');
    await expect(korean.evaluate(`document.documentElement.lang`)).resolves.toBe('ko');
    await expect(korean.getByRole('button', { name: '영상 만들기' }).isVisible()).resolves.toBe(true);
    // The limits come from GET /config, read after the page has loaded.
    await korean.locator('#image-hint', { hasText: 'MB' }).waitFor({ timeout: 10_000 });
    await expect(korean.locator('#image-hint').textContent()).resolves.toBe('JPEG, PNG, WebP 또는 HEIC, 최대 10 MB');
    await korean.getByRole('button', { name: '영상 만들기' }).click();
    await expect(korean.locator('#name-error').textContent()).resolves.toBe('강사 이름을 입력하세요.');
    // A failed job in Korean: the code is translated, and what to do next too.
    const res = await upload(stack.baseUrl, { image: broken, audio, instructorName: 'Broken' });
    await korean.goto(`${stack.baseUrl}/?job=${res.body.jobId}`);
    await korean.locator('#job-status', { hasText: '실패' }).waitFor({ timeout: 20_000 });
    await expect(korean.locator('#job-error').textContent()).resolves.toBe('사진이나 음성 녹음을 읽을 수 없습니다.');
    await expect(korean.locator('#job-next').textContent()).resolves.toBe('다음 할 일: 다른 파일을 선택해 양식을 다시 보내세요.');
    expect(await axeViolations(korean)).toEqual([]);
    await korean.screenshot({ path: path.join(ARTIFACTS, 'web-failed-ko.png'), fullPage: true });
    await korean.close();

    const french = await browser.context.newPage();
    await french.addInitScript(`Object.defineProperty(navigator, 'languages', { get: () => ['fr-FR', 'fr'] });`);
    await french.goto(stack.baseUrl + '/');
    await expect(french.title()).resolves.toBe('Avatar video');
    await expect(french.evaluate(`document.documentElement.lang`)).resolves.toBe('en');
    await french.close();
  });
});
