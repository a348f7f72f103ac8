import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeTestAudio, makeTestImage } from '../support/media';
import { startTestStack, upload, waitForJob, type TestStack } from '../support/stack';

// Security headers on every answer: nothing is sniffed, nothing is framed, the API's answers
// run nothing, the page runs only its own files, and a finished video is cached privately.

let stack: TestStack;
let media: string;
const user = { 'X-User-Id': 'headers-user' };

beforeAll(async () => {
  media = await mkdtemp(path.join(os.tmpdir(), 'security-headers-'));
  stack = await startTestStack();
});

afterAll(async () => {
  await stack.close();
  await rm(media, { recursive: true, force: true });
});

function expectBaseHeaders(headers: Headers): void {
  expect(headers.get('x-content-type-options')).toBe('nosniff');
  expect(headers.get('x-frame-options')).toBe('DENY');
  expect(headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
  expect(headers.get('x-powered-by')).toBeNull();
}

test.each([
  ['the health check', '/health', 200],
  ['a job list', '/jobs', 200],
  ['an unknown job', '/jobs/00000000-0000-0000-0000-000000000000', 404],
  ['an unknown route', '/nowhere', 404],
])('%s answers with nosniff, framing refused and a policy that allows nothing', async (_name, p, status) => {
  const res = await fetch(`${stack.baseUrl}${p}`, { headers: user });
  expect(res.status).toBe(status);
  expectBaseHeaders(res.headers);
  expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
});

test('the web page may run only its own script and styles: no inline code, no other origin', async () => {
  const res = await fetch(`${stack.baseUrl}/`);
  expect(res.status).toBe(200);
  expectBaseHeaders(res.headers);
  const csp = res.headers.get('content-security-policy')!;
  expect(csp).toMatch(/default-src 'self'/);
  expect(csp).toMatch(/script-src 'self'(;|$)/);
  expect(csp).toMatch(/style-src 'self'(;|$)/);
  expect(csp).toMatch(/object-src 'none'/);
  expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
  // The page itself keeps to that policy: its script and styles are files of this origin.
  const html = await res.text();
  expect(html).toMatch(/<script type="module" src="\/web\/app\.js"><\/script>/);
  expect(html).not.toMatch(/<script>|<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=/i);
});

test('a finished video is cached privately for a while; the error before it is not', async () => {
  const [image, audio] = await Promise.all([
    makeTestImage(media, { format: 'jpeg', name: 'face' }),
    makeTestAudio(media, { format: 'wav', seconds: 1, name: 'voice' }),
  ]);
  const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Kim' }, user);
  expect(res.status).toBe(202);
  const early = await fetch(`${stack.baseUrl}/jobs/${res.body.jobId}/video`, { headers: user });
  if (early.status === 409) expect(early.headers.get('cache-control')).toBeNull();
  await early.arrayBuffer();
  await waitForJob(stack.baseUrl, res.body.jobId, undefined, 60000, user);
  const video = await fetch(`${stack.baseUrl}/jobs/${res.body.jobId}/video`, { headers: user });
  expect(video.status).toBe(200);
  expect(video.headers.get('cache-control')).toBe('private, max-age=3600');
  expectBaseHeaders(video.headers);
  expect((await video.arrayBuffer()).byteLength).toBeGreaterThan(1000);
}, 90000);
