import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createApp } from '../../src/http/app';
import { makeTestAudio, makeTestImage } from '../support/media';
import { pauseQueue, resumeQueue, startTestStack, upload, waitForJob, type TestStack } from '../support/stack';

let stack: TestStack;
let media: string;
let image: string;
let audio: string;
const alice = { 'X-User-Id': 'alice' };
const bob = { 'X-User-Id': 'bob' };

beforeAll(async () => {
  media = await mkdtemp(path.join(os.tmpdir(), 'jobs-api-'));
  image = await makeTestImage(media, { format: 'jpeg', name: 'face' });
  audio = await makeTestAudio(media, { format: 'wav', seconds: 1, name: 'voice' });
  // Latency keeps jobs running long enough to look at them mid-flight.
  stack = await startTestStack({ env: { LOCAL_RENDER_LATENCY_MS: '1500', MAX_ACTIVE_JOBS_PER_USER: '3' }, overrides: { heartbeatMs: 100 } });
});

afterAll(async () => {
  await stack.close();
  await rm(media, { recursive: true, force: true });
});

const get = async (p: string, headers: Record<string, string> = {}) => {
  const res = await fetch(`${stack.baseUrl}${p}`, { headers });
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
};

describe('the jobs API', () => {
  const aliceJobs: string[] = [];

  // The jobs wait in a paused queue until the event-stream story lets them go, so the stories
  // before it see them unfinished however slow the machine is.
  beforeAll(async () => {
    await pauseQueue(stack);
    for (const name of ['one', 'two', 'three']) {
      const res = await upload(stack.baseUrl, { image, audio, instructorName: name }, alice);
      expect(res.status).toBe(202);
      aliceJobs.push(res.body.jobId);
      await new Promise((r) => setTimeout(r, 5)); // distinct createdAt
    }
  });

  test('the job carries the length of its recording, measured at upload, for the render forecast', async () => {
    const job = (await get(`/jobs/${aliceJobs[0]}`, alice)).body;
    expect(job.input.audioDurationSec).toBeGreaterThan(0.9);
    expect(job.input.audioDurationSec).toBeLessThan(1.2);
  });

  test('a fourth active job for the same user is refused with 429 and a clear message', async () => {
    const res = await upload(stack.baseUrl, { image, audio, instructorName: 'four' }, alice);
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('too_many_active_jobs');
    expect(res.body.error.message).toMatch(/limit is 3/);
  });

  test("GET /jobs lists the caller's jobs newest first and pages with a cursor", async () => {
    const page1 = await get('/jobs?limit=2', alice);
    expect(page1.status).toBe(200);
    expect(page1.body.jobs.map((j: any) => j.jobId)).toEqual([aliceJobs[2], aliceJobs[1]]);
    expect(page1.body.nextCursor).toEqual(expect.any(String));
    const page2 = await get(`/jobs?limit=2&cursor=${encodeURIComponent(page1.body.nextCursor)}`, alice);
    expect(page2.body.jobs.map((j: any) => j.jobId)).toEqual([aliceJobs[0]]);
    expect(page2.body.nextCursor).toBeNull();
    expect((await get('/jobs', bob)).body.jobs).toEqual([]);
  });

  test('a bad limit or cursor is a 400', async () => {
    expect((await get('/jobs?limit=0', alice)).status).toBe(400);
    const bad = await get('/jobs?cursor=nonsense', alice);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('bad_cursor');
  });

  test("another user's job is a 404 on every route, like a job that does not exist", async () => {
    const id = aliceJobs[0];
    for (const p of [`/jobs/${id}`, `/jobs/${id}/video`, `/jobs/${id}/events`]) {
      const res = await fetch(`${stack.baseUrl}${p}`, { headers: bob });
      expect(res.status).toBe(404);
      expect(((await res.json()) as any).error.code).toBe('job_not_found');
    }
    const cancel = await fetch(`${stack.baseUrl}/jobs/${id}/cancel`, { method: 'POST', headers: bob });
    expect(cancel.status).toBe(404);
    expect((await get('/jobs/00000000-0000-0000-0000-000000000000', alice)).status).toBe(404);
  });

  test('the video of an unfinished job is a 409 saying so', async () => {
    const res = await get(`/jobs/${aliceJobs[2]}/video`, alice);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('video_not_ready');
  });

  afterAll(async () => {
    await resumeQueue(stack);
  });

  test('the event stream sends heartbeats while idle and ends after the terminal state', async () => {
    const res = await fetch(`${stack.baseUrl}/jobs/${aliceJobs[1]}/events`, { headers: alice });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await resumeQueue(stack);
    const text = await res.text(); // returns once the server closes the stream
    expect(text).toMatch(/^: heartbeat /m);
    expect(text).toMatch(/event: end\ndata: \{"jobId":"[^"]+","status":"completed"\}/);
    const jobEvents = text.split('\n\n').filter((b) => b.includes('event: job'));
    expect(jobEvents.length).toBeGreaterThanOrEqual(2);
    // One end, and nothing after it (the job-end hook writes the retention dates right after).
    expect(text.match(/event: end/g)).toHaveLength(1);
    expect(text.trimEnd().split('\n\n').pop()).toMatch(/^event: end/);
    // Every job is done by now; the other lists agree.
    for (const id of aliceJobs) expect((await waitForJob(stack.baseUrl, id, undefined, 20000, alice)).status).toBe('completed');
  });

  test('the event stream of a finished job sends its final snapshot and closes at once', async () => {
    const res = await fetch(`${stack.baseUrl}/jobs/${aliceJobs[0]}/events`, { headers: alice });
    const text = await res.text();
    expect(text.match(/event: job/g)).toHaveLength(1);
    expect(text).toContain('event: end');
  });
});

describe('watching a job by polling', () => {
  const carol = { 'X-User-Id': 'carol' };

  test('GET /jobs/:id carries a strong ETag; the same tag back is a 304 with no body, until the job changes', async () => {
    const created = await upload(stack.baseUrl, { image, audio, instructorName: 'poll' }, carol);
    expect(created.status).toBe(202);
    const first = await fetch(`${stack.baseUrl}/jobs/${created.body.jobId}`, { headers: carol });
    expect(first.status).toBe(200);
    const firstTag = first.headers.get('etag')!;
    expect(firstTag).toMatch(/^"[A-Za-z0-9_-]{16,}"$/); // strong: no W/ prefix
    expect(first.headers.get('cache-control')).toMatch(/no-cache/);
    expect(((await first.json()) as any).status).not.toBe('completed');

    await waitForJob(stack.baseUrl, created.body.jobId, undefined, 20000, carol);
    const changed = await fetch(`${stack.baseUrl}/jobs/${created.body.jobId}`, { headers: { ...carol, 'If-None-Match': firstTag } });
    expect(changed.status).toBe(200);
    const doneTag = changed.headers.get('etag')!;
    expect(doneTag).not.toBe(firstTag);
    expect(((await changed.json()) as any).status).toBe('completed');

    const same = await fetch(`${stack.baseUrl}/jobs/${created.body.jobId}`, { headers: { ...carol, 'If-None-Match': `"other", ${doneTag}` } });
    expect(same.status).toBe(304);
    expect(same.headers.get('etag')).toBe(doneTag);
    expect(await same.text()).toBe('');
    // Another user's tag guess gets nothing but the usual 404.
    const stranger = await fetch(`${stack.baseUrl}/jobs/${created.body.jobId}`, { headers: { ...bob, 'If-None-Match': doneTag } });
    expect(stranger.status).toBe(404);
  });
});

describe('service basics', () => {
  test('GET /health says the store and the queue answer', async () => {
    const res = await get('/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, role: 'all', store: 'ok', queue: 'ok' });
  });

  test('an unknown route is a JSON 404', async () => {
    const res = await get('/nope');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ success: false, error: { code: 'not_found', message: expect.stringContaining('/nope') } });
  });

  test('the api role does not serve the worker route, and the worker role serves no public route', async () => {
    const { service } = stack;
    const deps = {
      store: service.store,
      queue: service.queue,
      blobs: service.blobs,
      pipeline: {} as never,
      jobs: {} as never,
      logger: (await import('../../src/logger')).silentLogger,
      limits: stack.config.limits,
      signedUrlTtlSec: 60,
    };
    const http = await import('node:http');
    const serve = async (role: 'api' | 'worker') => {
      const server = http.createServer(createApp({ ...deps, role }));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      return { server, url: `http://127.0.0.1:${(server.address() as any).port}` };
    };
    const api = await serve('api');
    const worker = await serve('worker');
    try {
      const w = await fetch(`${api.url}/worker/process-avatar`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
      expect(w.status).toBe(404);
      expect((await fetch(`${worker.url}/jobs`)).status).toBe(404);
      expect((await fetch(`${worker.url}/generate-with-tasks`, { method: 'POST' })).status).toBe(404);
      expect((await fetch(`${worker.url}/health`)).status).toBe(200);
      expect((await fetch(`${api.url}/health`)).status).toBe(200);
    } finally {
      api.server.close();
      worker.server.close();
    }
  });
});
