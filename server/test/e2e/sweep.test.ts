import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../src/logger';
import { newJob, taskName } from '../../src/pipeline/decisions';
import { notifyTaskName } from '../../src/pipeline/lifecycle';
import { sweepOverdueJobs } from '../../src/pipeline/sweep';
import type { Job } from '../../src/domain/job';
import { makeTestAudio, makeTestImage } from '../support/media';
import { getJob, pauseQueue, resumeQueue, startTestStack, upload, waitForJob, type TestStack } from '../support/stack';

// Tasks lost outside the worker's sight (deleted, purged, a crash between saving a job and
// creating its task, a restart on another port) and the sweep that makes sure no job stays
// unfinished for ever. Grace here: SWEEP_GRACE 0 + STEP_LEASE 1 = 1 s.

const SHORT = { SWEEP_GRACE: '0', STEP_LEASE: '1', SWEEP_INTERVAL: '0', MAX_ACTIVE_JOBS_PER_USER: '50' };
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

let media: string;
let image: string;
let audio: string;

beforeAll(async () => {
  media = await mkdtemp(path.join(os.tmpdir(), 'sweep-e2e-'));
  image = await makeTestImage(media, { format: 'jpeg', name: 'face' });
  audio = await makeTestAudio(media, { format: 'wav', seconds: 1, name: 'voice' });
});

afterAll(async () => {
  await rm(media, { recursive: true, force: true });
});

async function taskNames(stack: TestStack): Promise<string[]> {
  const [tasks] = await stack.service.queue.client.listTasks({ parent: stack.service.queue.queuePath });
  return tasks.map((t) => String(t.name).split('/').pop()!);
}

/** Makes a job look overdue by a minute, as if the time had passed (the grace here is the 30 s lease). */
async function backdate(stack: TestStack, jobId: string): Promise<void> {
  const past = new Date(Date.now() - 60_000).toISOString();
  await stack.service.store.update(jobId, (j) => ({ ...j, nextRunAt: past }));
}

/** Counts the provider calls that create something, on the stack's own provider object. */
function countCreations(stack: TestStack): { avatars: number; videos: number } {
  const counts = { avatars: 0, videos: 0 };
  const provider = stack.service.provider;
  const createAvatar = provider.createAvatar.bind(provider);
  const createVideo = provider.createVideo.bind(provider);
  provider.createAvatar = async (...args) => {
    counts.avatars += 1;
    return createAvatar(...args);
  };
  provider.createVideo = async (...args) => {
    counts.videos += 1;
    return createVideo(...args);
  };
  return counts;
}

describe('the sweep rescues jobs whose task was lost', () => {
  let stack: TestStack;
  beforeAll(async () => {
    // The default test lease (30 s), longer than any step here: a lease shorter than the step
    // would itself let a second delivery run the step.
    stack = await startTestStack({ env: { SWEEP_GRACE: '0', SWEEP_INTERVAL: '0', MAX_ACTIVE_JOBS_PER_USER: '50', LOCAL_RENDER_LATENCY_MS: '1500' } });
  });
  afterAll(async () => {
    await stack.close();
  });

  test('a job in processing whose pending task was deleted is rescued with a task of its own name, logged at WARNING, and completes', async () => {
    const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Lost' });
    expect(res.status).toBe(202);
    const jobId: string = res.body.jobId;
    // Wait until the job is polling its video, then lose its task: the queue is paused so the
    // next poll cannot slip through between the listing and the deletion.
    await waitForJob(stack.baseUrl, jobId, (j) => j.progress.currentStep === 'video.poll' && j.leaseUntil === null, 20000);
    await stack.service.queue.client.pauseQueue({ name: stack.service.queue.queuePath });
    const mine = (await taskNames(stack)).filter((n) => n.startsWith(taskName(jobId, 0).split('-')[0]!));
    expect(mine.length).toBeGreaterThanOrEqual(1);
    for (const name of mine) await stack.service.queue.delete(name);
    await stack.service.queue.client.resumeQueue({ name: stack.service.queue.queuePath });

    const stuck = await getJob(stack.baseUrl, jobId);
    expect(stuck.status).toBe('processing');
    expect((await stack.service.sweep()).rescued).toBe(0); // not overdue yet
    await backdate(stack, jobId);

    const lines: any[] = [];
    const logger = createLogger({
      level: 'info',
      destination: new Writable({
        write(chunk, _enc, done) {
          for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
          done();
        },
      }),
    });
    const { store, queue, settings } = stack.service.sweepDeps;
    const result = await sweepOverdueJobs({ store, queue, settings, logger, sweep: { graceSec: 0 } });
    expect(result).toMatchObject({ rescued: 1, timedOut: 0, errors: 0, more: false });
    const warning = lines.find((l) => l.message?.startsWith('sweep: rescued'));
    expect(warning).toMatchObject({ severity: 'WARNING', jobId, stepSeq: stuck.stepSeq, task: taskName(jobId, stuck.stepSeq, 'r1') });

    const done = await waitForJob(stack.baseUrl, jobId, undefined, 30000);
    expect(done.status).toBe('completed');
    expect(done.rescues).toBe(1);
  });

  test('a rescue racing the normal delivery of the same step never calls the provider twice', async () => {
    const counts = countCreations(stack);
    await stack.service.queue.client.pauseQueue({ name: stack.service.queue.queuePath });
    const jobs: string[] = [];
    try {
      for (let i = 0; i < 3; i += 1) {
        const res = await upload(stack.baseUrl, { image, audio, instructorName: `Race ${i}` });
        jobs.push(res.body.jobId);
      }
      for (const jobId of jobs) await backdate(stack, jobId);
      // The step's own task is still there: the rescue is a second task for the same step.
      const result = await stack.service.sweep();
      expect(result.rescued).toBe(3);
      const names = await taskNames(stack);
      for (const jobId of jobs) {
        expect(names).toEqual(expect.arrayContaining([taskName(jobId, 0), taskName(jobId, 0, 'r1')]));
      }
    } finally {
      await stack.service.queue.client.resumeQueue({ name: stack.service.queue.queuePath });
    }
    for (const jobId of jobs) expect((await waitForJob(stack.baseUrl, jobId, undefined, 30000)).status).toBe('completed');
    expect(counts).toEqual({ avatars: 3, videos: 3 });
  });

  test('POST /worker/sweep answers how many jobs it rescued and whether more remain', async () => {
    const res = await fetch(`${stack.baseUrl}/worker/sweep`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true, examined: expect.any(Number), rescued: 0, timedOut: 0, errors: 0, more: false, cursor: null });
    const bad = await fetch(`${stack.baseUrl}/worker/sweep`, { method: 'POST', body: JSON.stringify({ limit: 'all' }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.code).toBe('bad_sweep');
  });
});

describe('a backlog larger than one page', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ env: SHORT });
    await stack.service.queue.client.pauseQueue({ name: stack.service.queue.queuePath });
  });
  afterAll(async () => {
    await stack.close();
  });

  test('is swept page by page within the budget, says more remain, and continues from its cursor; a job past the deadline fails with timeout', async () => {
    const hourAgo = new Date(Date.now() - 3600_000).toISOString();
    const input = { imagePath: 'x', audioPath: 'y', imageType: 'image/jpeg', audioType: 'audio/wav', instructorName: 'B', instructorBio: '' };
    const backlog: Job[] = [];
    for (let i = 0; i < 7; i += 1) {
      const job = newJob({ jobId: `backlog-${i}`, ownerUid: 'sweeper', input, providerName: 'local', now: hourAgo });
      backlog.push(job);
      await stack.service.store.create(job);
    }
    const ancient = newJob({ jobId: 'too-old', ownerUid: 'sweeper', input, providerName: 'local', now: new Date(Date.now() - 25 * 3600_000).toISOString() });
    await stack.service.store.create(ancient);

    const deps = { ...stack.service.sweepDeps, sweep: { graceSec: 0 } };
    // A budget of 0 ms: one page per call, as if the request had run out of time.
    const first = await sweepOverdueJobs(deps, { pageSize: 3, budgetMs: 0 });
    expect(first).toMatchObject({ examined: 3, more: true });
    expect(first.cursor).toEqual(expect.any(String));
    let total = { rescued: first.rescued, timedOut: first.timedOut };
    let next = first;
    let calls = 1;
    while (next.more && calls < 10) {
      next = await sweepOverdueJobs(deps, { pageSize: 3, budgetMs: 0, cursor: next.cursor });
      total = { rescued: total.rescued + next.rescued, timedOut: total.timedOut + next.timedOut };
      calls += 1;
    }
    expect(total).toEqual({ rescued: 7, timedOut: 1 });
    expect(calls).toBe(3);
    expect(next.cursor).toBeNull();

    const names = await taskNames(stack);
    for (const job of backlog) expect(names).toContain(taskName(job.jobId, 0, 'r1'));
    const old = await stack.service.store.get('too-old');
    expect(old).toMatchObject({ status: 'failed', error: { code: 'timeout' }, nextRunAt: null });
    // Swept again at once: nothing is overdue any more, nothing is rescued twice.
    expect((await sweepOverdueJobs(deps)).rescued).toBe(0);
  });
});

describe('a job the sweep fails past its deadline ends like any other job', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ env: { ...SHORT, WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`, RETENTION_SWEEP_INTERVAL: '0' } });
    // Paused: the notification tasks stay in the queue where the test can see them.
    await stack.service.queue.client.pauseQueue({ name: stack.service.queue.queuePath });
  });
  afterAll(async () => {
    await stack.close();
  });

  test.each([
    ['POST /worker/sweep (Cloud Scheduler)', async (s: TestStack) => (await (await fetch(`${s.baseUrl}/worker/sweep`, { method: 'POST' })).json()) as { timedOut: number }],
    ['the local timer', (s: TestStack) => s.service.sweep()],
  ])('through %s: it gets its retention dates and its webhook notification is queued', async (_how, sweep) => {
    const dayAgo = new Date(Date.now() - 25 * 3600_000).toISOString();
    const input = { imagePath: 'x', audioPath: 'y', imageType: 'image/jpeg', audioType: 'audio/wav', instructorName: 'Late', instructorBio: '', callbackUrl: 'https://hooks.example.com/avatar' };
    const job = newJob({ jobId: `late-${randomBytes(4).toString('hex')}`, ownerUid: 'sweeper', input, providerName: 'local', now: dayAgo });
    await stack.service.store.create(job);

    expect((await sweep(stack)).timedOut).toBe(1);
    const ended = await stack.service.store.get(job.jobId);
    expect(ended).toMatchObject({ status: 'failed', error: { code: 'timeout' } });
    expect(ended!.expireAt).toEqual(expect.any(String));
    expect(Date.parse(ended!.expireAt!)).toBeGreaterThan(Date.now());
    expect(await taskNames(stack)).toContain(notifyTaskName(ended!, 'webhook'));
  });
});

describe('after a crash or a restart', () => {
  test('a queued job whose first task was never created (crash between save and enqueue) is rescued by the start-up sweep', async () => {
    const stack = await startTestStack({ env: SHORT });
    const dataDir = stack.dataDir;
    let restarted: TestStack | undefined;
    try {
      await stack.service.queue.client.pauseQueue({ name: stack.service.queue.queuePath });
      const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Orphan' });
      await stack.service.queue.client.purgeQueue({ name: stack.service.queue.queuePath });
      await stack.service.queue.client.resumeQueue({ name: stack.service.queue.queuePath });
      expect(await taskNames(stack)).toEqual([]);
      await stack.close({ keepData: true });
      await pause(1100);

      restarted = await startTestStack({ env: SHORT, dataDir });
      const job = await waitForJob(restarted.baseUrl, res.body.jobId, undefined, 30000);
      expect(job.status).toBe('completed');
      expect(job.rescues).toBe(1);
    } finally {
      await restarted?.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('a restart on another port re-points queued tasks at the new worker URL and the jobs in flight complete', async () => {
    // No sweep to the rescue here (a grace of an hour): the re-pointing alone must do it.
    // Polls 3 s apart: each job's next poll waits in the queue, holding the old worker URL, when
    // the first stack stops. The renders finish first, so the story is the tasks' URL alone.
    const env = {
      SWEEP_GRACE: '3600',
      SWEEP_INTERVAL: '0',
      STEP_LEASE: '2',
      MAX_ACTIVE_JOBS_PER_USER: '50',
      POLL_SCHEDULE: '3',
      POLL_MAX_INTERVAL: '3',
    };
    const first = await startTestStack({ env });
    let second: TestStack | undefined;
    try {
      const jobs: string[] = [];
      for (let i = 0; i < 3; i += 1) jobs.push((await upload(first.baseUrl, { image, audio, instructorName: `Moved ${i}` })).body.jobId);
      // Once every video is requested, the queue is paused: each job's next poll then waits in the
      // queue, holding the old worker URL, however slowly this machine notices the renders end.
      // (A poll already on its way may still finish a job whose render is done, hence "at least one".)
      for (const deadline = Date.now() + 60_000; ; ) {
        const requested = await Promise.all(jobs.map((id) => first.service.store.get(id)));
        if (requested.every((j) => j?.provider.videoId)) break;
        if (Date.now() > deadline) throw new Error('the videos were not all requested');
        await pause(50);
      }
      await pauseQueue(first);
      for (const jobId of jobs) {
        for (const deadline = Date.now() + 60_000; ; ) {
          const job = await first.service.store.get(jobId);
          const videoId = job?.provider.videoId;
          if (videoId && (await first.service.provider.getVideo(videoId)).state === 'done') break;
          if (Date.now() > deadline) throw new Error(`the render of ${jobId} did not finish`);
          await pause(100);
        }
      }
      // The last video asked for was still rendering when the queue paused: its job is waiting.
      const waiting = await Promise.all(jobs.map((id) => first.service.store.get(id)));
      expect(waiting.filter((j) => j?.status === 'processing').length).toBeGreaterThanOrEqual(1);
      await first.close({ keepData: true });

      second = await startTestStack({ env, dataDir: first.dataDir });
      expect(second.service.port).not.toBe(first.service.port);
      // The paused state was kept with the queue; the tasks were re-pointed as the emulator started.
      const queued = (await second.service.queue.client.listTasks({ parent: second.service.queue.queuePath }))[0];
      expect(queued.length).toBeGreaterThanOrEqual(1);
      for (const task of queued) expect(task.httpRequest?.url).toContain(`:${second.service.port}/`);
      await resumeQueue(second);
      for (const jobId of jobs) {
        const job = await waitForJob(second.baseUrl, jobId, undefined, 90000); // three renders, one at a time, on a busy machine
        expect(job.status).toBe('completed');
        expect(job.rescues).toBe(0);
      }
    } finally {
      await second?.close();
    }
  }, 180_000);
});
