import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeTestAudio, makeTestImage } from '../support/media';
import { getJob, startTestStackBehindFrontEnd, upload, type StackBehindFrontEnd } from '../support/stack';

// Why the worker must know it runs on Cloud Run: behind Google's front end the token arrives
// with its signature removed, so a worker that verifies signatures (the check off Cloud Run)
// refuses every task, and the job never leaves its first step.

let media: string;
let stack: StackBehindFrontEnd;

beforeAll(async () => {
  media = await mkdtemp(path.join(os.tmpdir(), 'behind-front-end-'));
  stack = await startTestStackBehindFrontEnd({ onCloudRun: false, env: { TASK_MAX_ATTEMPTS: '3' } });
});
afterAll(async () => {
  await stack?.close();
  await rm(media, { recursive: true, force: true });
});

test('behind the Cloud Run front end, a worker that verifies signatures (not in Cloud Run mode) refuses every task with 401', async () => {
  const image = await makeTestImage(media, { format: 'png', width: 320, height: 320 });
  const audio = await makeTestAudio(media, { format: 'wav', seconds: 1 });
  const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Refused' });
  expect(res.status).toBe(202);

  const steps = () => stack.frontEnd.requests.filter((r) => r.path === '/worker/process-avatar' && r.status !== 0);
  const deadline = Date.now() + 15000;
  while (steps().length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));

  // Every answered attempt: the front end let it through (the token is good); the worker refused each one.
  expect(steps().length).toBeGreaterThanOrEqual(3);
  for (const step of steps()) {
    expect(step).toMatchObject({ forwarded: true, containerStatus: 401, status: 401 });
    expect(step.forwardedToken).toMatch(/\.SIGNATURE_REMOVED_BY_GOOGLE$/);
  }
  const job = await getJob(stack.baseUrl, res.body.jobId);
  expect(job.stepSeq).toBe(0);
  expect(job.status).not.toBe('completed');
});
