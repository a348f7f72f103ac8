import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { RetryableError } from '../../src/domain/errors';
import { taskName } from '../../src/pipeline/decisions';
import { startVisionStorySimulator, type VisionStorySimulator } from '../../standins/visionStorySimulator';
import { makeTestAudio, makeTestImage, probe } from '../support/media';
import { TASKS_SA, getJob, listFiles, startTestStackBehindFrontEnd, upload, waitForJob, type StackBehindFrontEnd } from '../support/stack';

// A dress rehearsal of production's provider path: PROVIDER=visionstory against the local
// VisionStory simulator, which speaks the provider's HTTP shapes and can inject failures. The
// worker runs as on Cloud Run: every task reaches it through the Cloud Run front-end stand-in.

const API_KEY = 'test-key-not-secret';
let media: string;
let image: string;
let audio: string;
let sim: VisionStorySimulator;
let stack: StackBehindFrontEnd;

beforeAll(async () => {
  media = await mkdtemp(path.join(os.tmpdir(), 'vs-e2e-'));
  image = await makeTestImage(media, { format: 'png', name: 'face' });
  audio = await makeTestAudio(media, { format: 'mp3', seconds: 2, name: 'voice' });
  sim = await startVisionStorySimulator({ apiKey: API_KEY, latencyMs: 400 });
  stack = await startTestStackBehindFrontEnd({
    env: {
      PROVIDER: 'visionstory',
      VISIONSTORY_API_KEY: API_KEY,
      VISIONSTORY_API_BASE: sim.baseUrl,
      VISIONSTORY_TIMEOUT: '5',
      TASK_MAX_ATTEMPTS: '3',
      MAX_ACTIVE_JOBS_PER_USER: '50',
    },
  });
});

afterAll(async () => {
  await stack.close();
  await sim.close();
  await rm(media, { recursive: true, force: true });
});

describe('with the VisionStory provider (simulated)', () => {
  test('a job completes and the provider video is copied into our own store', async () => {
    const before = { ...sim.calls };
    const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Ada' });
    expect(res.status).toBe(202);
    const job = await waitForJob(stack.baseUrl, res.body.jobId);
    expect(job.status).toBe('completed');
    expect(job.provider.name).toBe('visionstory');
    const steps = stack.frontEnd.requests.filter((r) => r.path === '/worker/process-avatar');
    expect(steps.length).toBeGreaterThanOrEqual(4);
    expect(steps.every((r) => r.forwarded && r.forwardedToken?.endsWith('.SIGNATURE_REMOVED_BY_GOOGLE'))).toBe(true);
    expect(sim.calls.createVideo - before.createVideo).toBe(1);
    expect(sim.calls.downloadVideo - before.downloadVideo).toBe(1);
    // The provider's copy can expire now: ours is kept.
    sim.expireVideo(job.provider.videoId!);
    const video = await fetch(`${stack.baseUrl}/jobs/${job.jobId}/video`);
    expect(video.status).toBe(200);
    const file = path.join(media, 'vs.mp4');
    await writeFile(file, Buffer.from(await video.arrayBuffer()));
    const info = await probe(file);
    expect(info.streams.map((s) => s.codecName).sort()).toEqual(['aac', 'h264']);
  });

  test('a passing provider outage (503) is retried by the pipeline and the job still completes', async () => {
    const before = sim.calls.createAvatar;
    sim.inject({ nextStatusCodes: [503] });
    const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Retry' });
    const job = await waitForJob(stack.baseUrl, res.body.jobId);
    expect(job.status).toBe('completed');
    expect(sim.calls.createAvatar - before).toBe(2);
    expect(job.attempts).toBeGreaterThanOrEqual(5); // one extra claim for the retried step
    expect(job.retry).toBeNull(); // cleared when the step succeeded
  });

  test('a provider outage (a 3-minute one, 3 s on these short settings) delays jobs without failing them, and nothing is made twice', async () => {
    const before = { ...sim.calls };
    const headers = { 'X-User-Id': 'outage' };
    sim.inject({ outage: { status: 503, forMs: 3000 } });
    const jobs: string[] = [];
    for (let i = 0; i < 3; i += 1) jobs.push((await upload(stack.baseUrl, { image, audio, instructorName: `Outage ${i}` }, headers)).body.jobId);
    // While the provider is down the job says when it tries again (between tries: while a try
    // runs, the step's own label shows, so a busy machine may first see that).
    const waiting = await waitForJob(stack.baseUrl, jobs[0]!, (j) => j.retry != null && j.progress.message.startsWith('The provider'), 5000, headers);
    expect(waiting.status).toBe('processing');
    expect(waiting.progress.message).toMatch(/^The provider is not answering; retrying at \d\d:\d\d UTC$/);
    expect(waiting.retry).toMatchObject({ step: 'avatar.create', lastError: { code: 'provider_unavailable' } });
    expect(Date.parse(waiting.retry!.nextAt)).toBeGreaterThan(Date.parse(waiting.retry!.since));
    // A second outage while the videos are being made: the status checks ride it out too.
    await waitForJob(stack.baseUrl, jobs[2]!, (j) => j.progress.currentStep === 'video.poll' || j.status !== 'processing', 15000, headers);
    sim.inject({ outage: { status: 502, forMs: 1500 } });
    for (const jobId of jobs) {
      const job = await waitForJob(stack.baseUrl, jobId, undefined, 30000, headers);
      expect(job.status).toBe('completed');
      expect(job.retry).toBeNull();
    }
    expect(sim.calls.avatarsMade - before.avatarsMade).toBe(3);
    expect(sim.calls.videosMade - before.videosMade).toBe(3);
    expect(sim.calls.createAvatar - before.createAvatar).toBeGreaterThan(3); // it was retried
  });

  test('an outage longer than PROVIDER_RETRY_WINDOW fails the job with the last error', async () => {
    const short = await startTestStackBehindFrontEnd({
      env: {
        PROVIDER: 'visionstory',
        VISIONSTORY_API_KEY: API_KEY,
        VISIONSTORY_API_BASE: sim.baseUrl,
        VISIONSTORY_TIMEOUT: '5',
        PROVIDER_RETRY_WINDOW: '1.5',
      },
    });
    try {
      sim.inject({ outage: { status: 500, forMs: 60_000 } });
      const res = await upload(short.baseUrl, { image, audio, instructorName: 'Gone' });
      const job = await waitForJob(short.baseUrl, res.body.jobId, undefined, 15000);
      expect(job.status).toBe('failed');
      expect(job.error?.code).toBe('provider_unavailable');
      expect(job.error?.message).toMatch(/^The provider did not recover within 1.5 s: VisionStory create_avatar answered HTTP 500/);
      expect(job.retry?.count).toBeGreaterThanOrEqual(2);
      expect(Date.parse(job.completedAt!) - Date.parse(job.retry!.since)).toBeGreaterThanOrEqual(1500);
    } finally {
      sim.inject({ outage: null });
      await short.close();
    }
  });

  test('an answer that is not what the API promises fails the job with provider_bad_response', async () => {
    sim.inject({ badResponse: true });
    try {
      const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Bad' });
      const job = await waitForJob(stack.baseUrl, res.body.jobId);
      expect(job.status).toBe('failed');
      expect(job.error?.code).toBe('provider_bad_response');
    } finally {
      sim.inject({ badResponse: false });
    }
  });
});

describe('what the worker answers the queue (deliveries made by hand on a paused queue)', () => {
  const deliver = (body: unknown, retryCount = 0) =>
    // Through the front end, with a token as Cloud Tasks mints it for the tasks account.
    fetch(stack.workerUrl, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${stack.service.emulator!.signIdToken(TASKS_SA, stack.workerUrl)}`,
        'content-type': 'application/json',
        'x-cloudtasks-taskretrycount': String(retryCount),
      },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    await stack.service.queue.client.pauseQueue({ name: stack.service.queue.queuePath });
  });
  afterAll(async () => {
    await stack.service.queue.client.resumeQueue({ name: stack.service.queue.queuePath });
  });

  test('a rate-limited provider is retried by the pipeline as a task of its own after Retry-After; the queue gets 200', async () => {
    const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Slow' });
    sim.inject({ rateLimitBurst: { count: 1, retryAfterSec: 7 } });
    const sent = Date.now();
    const answer = await deliver({ jobId: res.body.jobId, stepSeq: 0 });
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as any).result).toBe('retrying');
    const job = await getJob(stack.baseUrl, res.body.jobId);
    expect(job.status).toBe('processing');
    expect(job.leaseUntil).toBeNull();
    expect(job.stepSeq).toBe(0);
    expect(job.retry).toMatchObject({ step: 'avatar.create', count: 1, lastError: { code: 'provider_rate_limited' } });
    expect(Date.parse(job.retry!.nextAt)).toBeGreaterThanOrEqual(sent + 7000);
    expect(job.nextRunAt).toBe(job.retry!.nextAt);
    const [tasks] = await stack.service.queue.client.listTasks({ parent: stack.service.queue.queuePath });
    const retryTask = tasks.find((t) => t.name?.endsWith(`/tasks/${taskName(res.body.jobId, 0, 'p1')}`));
    expect(retryTask).toBeDefined();
    expect(Number(retryTask!.scheduleTime!.seconds) * 1000).toBeGreaterThanOrEqual(sent + 6000);
  });

  test('a provider 5xx on the queue\'s last attempt is still retried by the pipeline, not counted against the queue', async () => {
    const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Down' });
    sim.inject({ nextStatusCodes: [502] });
    const answer = await deliver({ jobId: res.body.jobId, stepSeq: 0 }, 2); // maxAttempts 3: the third
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as any).result).toBe('retrying');
    const job = await getJob(stack.baseUrl, res.body.jobId);
    expect(job.status).toBe('processing');
    expect(job.retry?.lastError.code).toBe('provider_unavailable');
  });

  test('a failure that is not the provider\'s (storage) is left to the queue: 503, and on its last attempt the job fails', async () => {
    const provider = stack.service.provider;
    const real = provider.createAvatar;
    provider.createAvatar = async () => {
      throw new RetryableError('storage_unavailable', 'Cloud Storage did not answer');
    };
    try {
      const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Last' });
      const early = await deliver({ jobId: res.body.jobId, stepSeq: 0 }, 0);
      expect(early.status).toBe(503);
      expect(((await early.json()) as any).error.code).toBe('storage_unavailable');
      const answer = await deliver({ jobId: res.body.jobId, stepSeq: 0 }, 2); // maxAttempts 3: this is the third
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as any).result).toBe('failed');
      const job = await getJob(stack.baseUrl, res.body.jobId);
      expect(job.status).toBe('failed');
      expect(job.error).toEqual({ code: 'storage_unavailable', message: expect.stringMatching(/^Gave up after 3 attempts/) });
    } finally {
      provider.createAvatar = real;
    }
  });

  test('a duplicate of a task that already ran answers 200 and calls the provider no more', async () => {
    const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Dup' });
    const first = await deliver({ jobId: res.body.jobId, stepSeq: 0 });
    expect(((await first.json()) as any).result).toBe('advanced');
    const before = sim.calls.createAvatar;
    const again = await deliver({ jobId: res.body.jobId, stepSeq: 0 });
    expect(again.status).toBe(200);
    expect(((await again.json()) as any).result).toBe('stale');
    expect(sim.calls.createAvatar).toBe(before);
  });

  test('a last attempt that finds the step leased (its holder may have crashed) hands the step to a task due after the lease', async () => {
    const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Stranded' });
    // A worker took the lease and died: nothing will answer for this step until the lease ends.
    const leaseUntil = new Date(Date.now() + 60_000).toISOString();
    await stack.service.store.update(res.body.jobId, (j) => ({ ...j, leaseUntil, attempts: j.attempts + 1 }));
    const early = await deliver({ jobId: res.body.jobId, stepSeq: 0 }, 0);
    expect(early.status).toBe(429); // not the last attempt: come back later
    const last = await deliver({ jobId: res.body.jobId, stepSeq: 0 }, 2);
    expect(last.status).toBe(200);
    expect(((await last.json()) as any).result).toBe('deferred');
    const [tasks] = await stack.service.queue.client.listTasks({ parent: stack.service.queue.queuePath });
    const prefix = taskName(res.body.jobId, 0).split('-')[0];
    const deferred = tasks.filter((t) => t.name?.includes(`/tasks/${prefix}-0-lease`));
    expect(deferred).toHaveLength(1);
    const due = Number(deferred[0]!.scheduleTime!.seconds) * 1000;
    expect(due).toBeGreaterThanOrEqual(Date.parse(leaseUntil));
    expect(due).toBeLessThanOrEqual(Date.parse(leaseUntil) + 2000);
    // A second last-attempt delivery in the same situation does not make another task.
    await deliver({ jobId: res.body.jobId, stepSeq: 0 }, 2);
    const [after] = await stack.service.queue.client.listTasks({ parent: stack.service.queue.queuePath });
    expect(after.filter((t) => t.name?.includes(`/tasks/${prefix}-0-lease`))).toHaveLength(1);
  });

  test('a task for an unknown job is acknowledged and ignored; a malformed body is a 400', async () => {
    const unknown = await deliver({ jobId: 'no-such-job', stepSeq: 0 });
    expect(unknown.status).toBe(200);
    expect(((await unknown.json()) as any).result).toBe('not_found');
    const bad = await deliver({ job: 'x' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.code).toBe('bad_task');
  });
});

describe('when the queue is down', () => {
  test('an upload gets 503, the job that never started is removed with its files, and does not show in the list', async () => {
    await stack.service.emulator!.close();
    const headers = { 'X-User-Id': 'queue-down' };
    const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Nobody runs me' }, headers);
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('queue_unavailable');
    const list = (await (await fetch(`${stack.baseUrl}/jobs`, { headers })).json()) as any;
    expect(list.jobs).toEqual([]);
    const uploads = (await listFiles(path.join(stack.dataDir, 'blobs', 'uploads'))).map((f) => f.split(path.sep)[0]);
    const jobsInStore = await Promise.all([...new Set(uploads)].map((id) => stack.service.store.get(id!)));
    // Every upload folder left belongs to a job that exists (earlier tests' jobs), none to this one.
    expect(jobsInStore.filter((j) => j === null)).toEqual([]);
  });
});
