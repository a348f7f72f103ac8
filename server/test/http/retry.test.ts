import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeHugeDeclaredPng, makeTestAudio, makeTestImage } from '../support/media';
import { getJob, listFiles, readEvents, startTestStack, upload, waitForJob, type TestStack } from '../support/stack';

// POST /jobs/:id/retry, absolute result.videoUrl, and one event per visible change, against the
// real local stack.

let stack: TestStack;
let media: string;
let image: string;
let audio: string;
let broken: string;
const alice = { 'X-User-Id': 'alice' };
const bob = { 'X-User-Id': 'bob' };

beforeAll(async () => {
  media = await mkdtemp(path.join(os.tmpdir(), 'retry-api-'));
  [image, audio, broken] = await Promise.all([
    makeTestImage(media, { format: 'jpeg', name: 'face' }),
    makeTestAudio(media, { format: 'wav', seconds: 1, name: 'voice' }),
    // A real PNG header (640×480, so the upload checks pass) over pixel data that does not inflate.
    makeHugeDeclaredPng(media, { width: 640, height: 480, bytes: 4096, name: 'broken' }),
  ]);
  stack = await startTestStack({ env: { LOCAL_RENDER_LATENCY_MS: '1200', MAX_ACTIVE_JOBS_PER_USER: '2' } });
});

afterAll(async () => {
  await stack.close();
  await rm(media, { recursive: true, force: true });
});

const post = async (p: string, headers: Record<string, string> = {}) => {
  const res = await fetch(`${stack.baseUrl}${p}`, { method: 'POST', headers });
  return { status: res.status, body: (await res.json()) as any };
};

async function cancelledJob(user: Record<string, string>, name: string): Promise<string> {
  const res = await upload(stack.baseUrl, { image, audio, instructorName: name, instructorBio: 'Teaches' }, user);
  expect(res.status).toBe(202);
  expect((await post(`/jobs/${res.body.jobId}/cancel`, user)).status).toBe(202);
  const job = await waitForJob(stack.baseUrl, res.body.jobId, undefined, 20000, user);
  expect(job.status).toBe('cancelled');
  return job.jobId;
}

describe('retrying a job', () => {
  test('a cancelled job retried becomes a new job with copies of its files, which finishes even after the old files are deleted', async () => {
    const oldId = await cancelledJob(alice, 'Kim Retry');
    const old = await getJob(stack.baseUrl, oldId, alice);

    const res = await post(`/jobs/${oldId}/retry`, alice);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({
      success: true,
      jobId: expect.any(String),
      statusUrl: `${stack.baseUrl}/jobs/${res.body.jobId}`,
      eventsUrl: `${stack.baseUrl}/jobs/${res.body.jobId}/events`,
      retriedFrom: oldId,
    });
    expect(res.body.jobId).not.toBe(oldId);

    const fresh = await getJob(stack.baseUrl, res.body.jobId, alice);
    expect(fresh.input).toMatchObject({ instructorName: 'Kim Retry', instructorBio: 'Teaches', imageType: 'image/jpeg', audioType: 'audio/wav' });
    expect(fresh.input.imagePath).toBe(`uploads/${fresh.jobId}/image.jpg`);
    expect(fresh.input.audioPath).toBe(`uploads/${fresh.jobId}/audio.wav`);
    // The old job's files can go (retention): the new job has its own copies.
    await stack.service.blobs.delete(old.input.imagePath);
    await stack.service.blobs.delete(old.input.audioPath);

    const done = await waitForJob(stack.baseUrl, fresh.jobId, undefined, 30000, alice);
    expect(done.status).toBe('completed');
    // The old job is untouched.
    expect((await getJob(stack.baseUrl, oldId, alice)).status).toBe('cancelled');
  });

  test('a failed job can be retried; the retry fails the same way with a bad photo', async () => {
    const res = await upload(stack.baseUrl, { image: broken, audio, instructorName: 'Broken' }, alice);
    const failed = await waitForJob(stack.baseUrl, res.body.jobId, undefined, 20000, alice);
    expect(failed.status).toBe('failed');
    const retry = await post(`/jobs/${failed.jobId}/retry`, alice);
    expect(retry.status).toBe(202);
    const again = await waitForJob(stack.baseUrl, retry.body.jobId, undefined, 20000, alice);
    expect(again.status).toBe('failed');
    expect(again.error?.code).toBe(failed.error?.code);
  });

  test("another user's job is a 404, and nothing is created", async () => {
    const oldId = await cancelledJob(alice, 'Not Bob');
    const res = await post(`/jobs/${oldId}/retry`, bob);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('job_not_found');
    const bobs = await fetch(`${stack.baseUrl}/jobs`, { headers: bob });
    expect(((await bobs.json()) as any).jobs).toEqual([]);
  });

  test('a running job is a 409, and so is a completed one', async () => {
    const running = await upload(stack.baseUrl, { image, audio, instructorName: 'Running' }, bob);
    const conflict = await post(`/jobs/${running.body.jobId}/retry`, bob);
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('job_running');
    const completed = await waitForJob(stack.baseUrl, running.body.jobId, undefined, 30000, bob);
    expect(completed.status).toBe('completed');
    const again = await post(`/jobs/${running.body.jobId}/retry`, bob);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('job_completed');
  });

  test('a job whose uploads are gone is a 410 that says to send them again, and leaves no file behind', async () => {
    const oldId = await cancelledJob(alice, 'Gone');
    const old = await getJob(stack.baseUrl, oldId, alice);
    await stack.service.blobs.delete(old.input.audioPath);
    const before = await listFiles(path.join(stack.dataDir, 'blobs'));
    const res = await post(`/jobs/${oldId}/retry`, alice);
    expect(res.status).toBe(410);
    expect(res.body.error).toEqual({ code: 'uploads_gone', message: expect.stringMatching(/send them again/) });
    expect(await listFiles(path.join(stack.dataDir, 'blobs'))).toEqual(before);
  });

  test('the per-user limit applies to a retry', async () => {
    const oldId = await cancelledJob({ 'X-User-Id': 'carol' }, 'Carol');
    const carol = { 'X-User-Id': 'carol' };
    const running = await Promise.all([1, 2].map((i) => upload(stack.baseUrl, { image, audio, instructorName: `c${i}` }, carol)));
    expect(running.map((r) => r.status)).toEqual([202, 202]);
    const res = await post(`/jobs/${oldId}/retry`, carol);
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('too_many_active_jobs');
    for (const r of running) await waitForJob(stack.baseUrl, r.body.jobId, undefined, 30000, carol);
  });
});

describe('what clients see of a job', () => {
  test('each pipeline change arrives once on the event stream, and result.videoUrl is absolute everywhere', async () => {
    const dave = { 'X-User-Id': 'dave' };
    const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Dave' }, dave);
    const events = await readEvents(res.body.eventsUrl, dave);
    const jobs = events.filter((e) => e.event === 'job').map((e) => e.data);
    expect(jobs.at(-1).status).toBe('completed');
    // What a watcher can see: no two events in a row may look the same.
    const visible = jobs.map((j) => JSON.stringify([j.status, j.progress, j.provider, j.result, j.error, j.cancelRequested]));
    const repeats = visible.filter((v, i) => i > 0 && v === visible[i - 1]);
    expect(repeats).toEqual([]);
    // Steps: queued, avatar, video, polls..., store, done: far fewer than two per step.
    const steps = jobs.map((j) => j.progress.currentStep);
    expect(steps.filter((s) => s === 'video.create')).toHaveLength(1);
    expect(steps.filter((s) => s === 'video.store')).toHaveLength(1);

    const videoUrl = `${stack.baseUrl}/jobs/${res.body.jobId}/video`;
    expect(jobs.at(-1).result.videoUrl).toBe(videoUrl);
    expect((await getJob(stack.baseUrl, res.body.jobId, dave)).result?.videoUrl).toBe(videoUrl);
    const list = (await (await fetch(`${stack.baseUrl}/jobs`, { headers: dave })).json()) as any;
    expect(list.jobs[0].result.videoUrl).toBe(videoUrl);
    expect((await fetch(videoUrl, { headers: dave })).status).toBe(200);
    // The stored document keeps the path (the Flutter app resolves it against its API base).
    expect((await stack.service.store.get(res.body.jobId))?.result?.videoUrl).toBe(`/jobs/${res.body.jobId}/video`);
  });
});
