import sharp from 'sharp';
import { Readable } from 'node:stream';
import { videoKey } from '../../src/domain/blobKeys';
import { PermanentError, RetryableError } from '../../src/domain/errors';
import type { Job } from '../../src/domain/job';
import { silentLogger } from '../../src/logger';
import { advanceJob, type AdvanceResult, type PipelineDeps } from '../../src/pipeline/advanceJob';
import { newJob, requestCancel, taskName } from '../../src/pipeline/decisions';
import { enqueueStep } from '../../src/pipeline/enqueueStep';
import type { StepTask } from '../../src/ports/taskQueue';
import { MemoryBlobStore } from '../fakes/memoryBlobStore';
import { MemoryJobStore } from '../fakes/memoryJobStore';
import { MemoryTaskQueue, type QueuedTask } from '../fakes/memoryTaskQueue';
import { ScriptedAvatarProvider } from '../fakes/scriptedAvatarProvider';
import { PIPELINE_SETTINGS } from '../support/pipelineSettings';

/**
 * advanceJob's branches against the in-memory fakes (each passes its port's contract suite):
 * no network, no disk, no timers. The clock is a variable the stories move by hand, and tasks
 * are handed to the worker when a story says so, as Cloud Tasks would deliver them.
 */

const T0 = Date.parse('2025-03-01T10:00:00.000Z');
const settings = PIPELINE_SETTINGS;

let photo: Buffer;
beforeAll(async () => {
  photo = await sharp({ create: { width: 64, height: 80, channels: 3, background: { r: 200, g: 120, b: 60 } } }).jpeg().toBuffer();
});

/** A fresh world: fakes, a clock at T0, and a queued job whose first task is enqueued. */
async function world() {
  let nowMs = T0;
  const now = () => new Date(nowMs);
  const store = new MemoryJobStore();
  const queue = new MemoryTaskQueue({ now });
  const blobs = new MemoryBlobStore();
  const provider = new ScriptedAvatarProvider({ videoBytes: Buffer.from('the finished mp4 bytes') });
  const ended: string[] = [];
  const deps: PipelineDeps = {
    store,
    queue,
    blobs,
    provider,
    settings,
    logger: silentLogger,
    now,
    random: () => 0.5,
    onJobEnded: async (jobId) => {
      ended.push(jobId);
    },
    videoUrl: (jobId) => `/jobs/${jobId}/video`,
  };
  const jobId = 'job-story';
  await blobs.putStream(`uploads/${jobId}/image.jpg`, Readable.from([photo]), { contentType: 'image/jpeg' });
  const input = {
    imagePath: `uploads/${jobId}/image.jpg`,
    audioPath: `uploads/${jobId}/audio.mp3`,
    imageType: 'image/jpeg',
    audioType: 'audio/mpeg',
    instructorName: 'Ada',
    instructorBio: 'Mathematician',
    audioDurationSec: 12,
  };
  await store.create(newJob({ jobId, ownerUid: 'owner-a', input, providerName: provider.name, now: now().toISOString() }));
  await enqueueStep(deps, jobId, 0, 0);

  const job = async (): Promise<Job> => (await store.get(jobId))!;
  return {
    deps,
    store,
    queue,
    blobs,
    provider,
    ended,
    jobId,
    job,
    /** Moves the clock to `ms` after T0. */
    at(ms: number) {
      nowMs = T0 + ms;
    },
    /** Moves the clock forward by `ms`. */
    wait(ms: number) {
      nowMs += ms;
    },
    /** Delivers one queued task as Cloud Tasks would, `retryCount` dispatches after its first. */
    deliver(task: QueuedTask, retryCount = 0): Promise<AdvanceResult> {
      return advanceJob(deps, task.task as StepTask, { retryCount, taskName: `projects/p/locations/l/queues/q/tasks/${task.name}` });
    },
    /** Moves the clock to the soonest pending task and takes it, as its dispatch would. */
    take(): QueuedTask {
      const [soonest] = queue.pending();
      if (!soonest) throw new Error('no task is pending');
      nowMs = Math.max(nowMs, soonest.dueAt.getTime());
      return queue.takeDue()[0]!;
    },
    /** Takes the soonest pending task and delivers it. */
    async next(retryCount = 0): Promise<{ task: QueuedTask; result: AdvanceResult }> {
      const task = this.take();
      return { task, result: await this.deliver(task, retryCount) };
    },
  };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('advanceJob: the happy path', () => {
  test('a job walks avatar → video → polls → store with one task per step, polls 5, 15 and 30 s apart, and keeps the provider’s bytes', async () => {
    const w = await world();
    w.provider.answers.getVideo.push(
      { state: 'queued', providerStatus: 'queued' },
      { state: 'running', providerStatus: 'creating', percent: 50 },
    );
    const results: AdvanceResult[] = [];
    const seqs: number[] = [];
    const percents: number[] = [];
    const gapsSec: number[] = [];
    let last = T0;
    while (w.queue.pending().length > 0) {
      const { task, result } = await w.next();
      results.push(result);
      seqs.push((task.task as StepTask).stepSeq);
      percents.push((await w.job()).progress.percent);
      gapsSec.push((task.dueAt.getTime() - last) / 1000);
      last = task.dueAt.getTime();
    }

    // avatar.create, video.create, poll (queued), poll (running), poll (done), video.store
    expect(results).toEqual(['advanced', 'advanced', 'advanced', 'advanced', 'advanced', 'completed']);
    expect(seqs).toEqual([0, 1, 2, 3, 4, 5]);
    expect(gapsSec).toEqual([0, 0, 5, 15, 30, 0]);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    const job = await w.job();
    expect(job).toMatchObject({ status: 'completed', stepSeq: 6, leaseUntil: null, nextRunAt: null, error: null });
    expect(job.progress).toMatchObject({ currentStep: 'done', percent: 100 });
    expect(job.result).toEqual({ videoPath: videoKey(w.jobId), videoUrl: `/jobs/${w.jobId}/video`, durationSec: 3 });
    expect(w.provider.count('createAvatar')).toBe(1);
    expect(w.provider.count('createVideo')).toBe(1);
    expect(w.provider.count('getVideo')).toBe(4); // three polls, and once more for the URL at the store step
    expect(await readAll(await w.blobs.openRead(videoKey(w.jobId)))).toEqual(Buffer.from('the finished mp4 bytes'));
    // The provider got the prepared photo, not the raw upload.
    expect(w.provider.calls[0]).toMatchObject({ method: 'createAvatar', image: { key: `uploads/${w.jobId}/prepared.jpg`, contentType: 'image/jpeg' } });
    expect(w.ended).toEqual([w.jobId]);
  });
});

describe('advanceJob: stale deliveries', () => {
  test('when the enqueue after a commit fails, the queue’s retry of the same task runs nothing and re-creates the lost next task', async () => {
    const w = await world();
    w.queue.enqueueFailures.push(new RetryableError('queue_unavailable', 'Cloud Tasks did not answer'));
    const [first] = w.queue.takeDue();
    await expect(w.deliver(first!)).rejects.toMatchObject({ code: 'queue_unavailable' });
    expect((await w.job()).stepSeq).toBe(1);
    expect(w.queue.pending()).toEqual([]);

    w.wait(10_000);
    expect(await w.deliver(first!, 1)).toBe('stale');
    expect(w.provider.count('createAvatar')).toBe(1);
    expect(w.queue.pending().map((t) => [t.name, t.task])).toEqual([[taskName(w.jobId, 1), { jobId: w.jobId, stepSeq: 1 }]]);
  });

  test('a duplicate delivery of a step already done answers stale, runs nothing and makes no second next task', async () => {
    const w = await world();
    const { task } = await w.next();
    expect(await w.deliver(task)).toBe('stale');
    expect(await w.deliver(task)).toBe('stale');
    expect(w.provider.count('createAvatar')).toBe(1);
    expect(w.queue.tasks.map((t) => t.name)).toEqual([taskName(w.jobId, 0), taskName(w.jobId, 1)]);
  });

  test('a task for a job that no longer exists is answered not_found and touches nothing', async () => {
    const w = await world();
    const [task] = w.queue.takeDue();
    await w.store.delete(w.jobId);
    expect(await w.deliver(task!)).toBe('not_found');
    expect(w.provider.calls).toEqual([]);
    expect(w.queue.pending()).toEqual([]);
  });
});

describe('advanceJob: a step leased by another worker', () => {
  test('a second delivery while the first runs is sent back to retry after the lease, and the step runs once', async () => {
    const w = await world();
    let release!: () => void;
    w.provider.createAvatarGate = new Promise<void>((resolve) => (release = resolve));
    const [task] = w.queue.takeDue();
    const first = w.deliver(task!);
    while (w.provider.count('createAvatar') === 0) await new Promise((resolve) => setImmediate(resolve));

    w.wait(30_000);
    const second = await w.deliver(task!, 1).catch((err: unknown) => err);
    expect(second).toBeInstanceOf(RetryableError);
    expect(second).toMatchObject({ code: 'step_in_progress', retryAfterSec: 90 });

    release();
    expect(await first).toBe('advanced');
    expect(w.provider.count('createAvatar')).toBe(1);
    expect((await w.job()).stepSeq).toBe(1);
  });

  test('on the queue’s last attempt, a leased step is deferred to a task due just after the lease, made once however often it happens', async () => {
    const w = await world();
    const [task] = w.queue.takeDue();
    // Another worker claimed the step and is still inside its lease.
    const claimed = await w.store.update(w.jobId, (j) => ({ ...j, status: 'processing', leaseUntil: new Date(T0 + 120_000).toISOString(), attempts: 1 }));
    w.at(60_000);
    expect(await w.deliver(task!, settings.maxAttempts - 1)).toBe('deferred');
    expect(await w.deliver(task!, settings.maxAttempts - 1)).toBe('deferred');

    expect(w.provider.calls).toEqual([]);
    const deferred = w.queue.pending();
    expect(deferred.map((t) => t.name)).toEqual([taskName(w.jobId, 0, 'lease1')]);
    expect(deferred[0]!.dueAt.toISOString()).toBe(new Date(Date.parse(claimed.job!.leaseUntil!) + 1000).toISOString());
    expect(deferred[0]!.task).toEqual({ jobId: w.jobId, stepSeq: 0 });
  });
});

describe('advanceJob: cancel and deadline', () => {
  test('a cancel-requested job is cancelled by its cancel task: the pending poll is deleted and the provider is not asked', async () => {
    const w = await world();
    await w.next(); // avatar.create
    await w.next(); // video.create: a poll is now pending 5 s out
    const [poll] = w.queue.pending();
    w.wait(1000);
    const { job } = await w.store.update(w.jobId, (j) => requestCancel(j, new Date(T0 + 1000).toISOString()));
    await w.queue.enqueue({ jobId: w.jobId, stepSeq: job!.stepSeq }, { name: taskName(w.jobId, job!.stepSeq, 'cancel') });
    const getVideoBefore = w.provider.count('getVideo');

    const { task, result } = await w.next();
    expect(task.name).toBe(taskName(w.jobId, job!.stepSeq, 'cancel'));
    expect(result).toBe('cancelled');
    expect(poll!.state).toBe('deleted');
    expect(w.queue.pending()).toEqual([]);
    expect(w.provider.count('getVideo')).toBe(getVideoBefore);
    expect(await w.job()).toMatchObject({ status: 'cancelled', leaseUntil: null, nextRunAt: null });
    expect(w.ended).toEqual([w.jobId]);
  });

  test('when a cancel arrives after a step committed, the stale delivery brings the cancel to the current step at once', async () => {
    const w = await world();
    const { task } = await w.next(); // avatar.create done; video.create pending
    await w.store.update(w.jobId, (j) => requestCancel(j, new Date(T0).toISOString()));
    expect(await w.deliver(task, 1)).toBe('stale');
    expect(w.queue.pending().map((t) => t.name)).toEqual([taskName(w.jobId, 1), taskName(w.jobId, 1, 'cancel')]);
    expect((await w.next()).result).toBe('cancelled');
    expect(w.provider.count('createVideo')).toBe(0);
  });

  test('a job past its deadline fails with timeout at its next delivery, without running the step', async () => {
    const w = await world();
    await w.next();
    w.at(settings.jobDeadlineSec * 1000 + 1000);
    expect((await w.next()).result).toBe('timed_out');
    expect(w.provider.count('createVideo')).toBe(0);
    expect((await w.job()).error).toMatchObject({ code: 'timeout' });
    expect(w.ended).toEqual([w.jobId]);
  });

  test('a delivery for a finished job answers finished and runs the end-of-job hook again (it is idempotent)', async () => {
    const w = await world();
    const [task] = w.queue.takeDue();
    await w.store.update(w.jobId, (j) => ({ ...j, status: 'failed', completedAt: j.createdAt }));
    expect(await w.deliver(task!)).toBe('finished');
    expect(w.provider.calls).toEqual([]);
    expect(w.ended).toEqual([w.jobId]);
  });
});

describe('advanceJob: failures of the step', () => {
  test('a retryable failure of our own storage before the last attempt gives the lease back and asks the queue to retry', async () => {
    const w = await world();
    await w.next();
    await w.next();
    const putStream = jest.spyOn(w.blobs, 'putStream').mockRejectedValueOnce(new RetryableError('storage_unavailable', 'Cloud Storage did not answer'));
    await w.next(); // poll: done
    const task = w.take(); // video.store
    await expect(w.deliver(task, 0)).rejects.toMatchObject({ code: 'storage_unavailable' });
    const waiting = await w.job();
    expect(waiting).toMatchObject({ status: 'processing', leaseUntil: null });
    expect(waiting.progress.message).toBe('Will retry: Cloud Storage did not answer');

    // The queue's retry claims at once (no lease to wait out) and finishes the job.
    expect(await w.deliver(task, 1)).toBe('completed');
    expect(putStream).toHaveBeenCalledTimes(2);
  });

  test('the same failure on the queue’s last attempt fails the job with the attempts counted, so the task never vanishes leaving it stuck', async () => {
    const w = await world();
    await w.next();
    await w.next();
    await w.next();
    jest.spyOn(w.blobs, 'putStream').mockRejectedValue(new RetryableError('storage_unavailable', 'Cloud Storage did not answer'));
    const { result } = await w.next(settings.maxAttempts - 1);
    expect(result).toBe('failed');
    const job = await w.job();
    expect(job.status).toBe('failed');
    expect(job.error).toEqual({ code: 'storage_unavailable', message: `Gave up after ${settings.maxAttempts} attempts: Cloud Storage did not answer` });
    expect(w.queue.pending()).toEqual([]);
    expect(w.ended).toEqual([w.jobId]);
  });

  test('a permanent provider refusal fails the job on the first attempt with the provider’s code', async () => {
    const w = await world();
    await w.next();
    w.provider.answers.createVideo.push(new PermanentError('provider_rejected', 'The audio is not speech'));
    expect((await w.next()).result).toBe('failed');
    expect((await w.job()).error).toEqual({ code: 'provider_rejected', message: 'The audio is not speech' });
    expect(w.queue.pending()).toEqual([]);
  });

  test('a provider outage is retried in time: the queue is answered, the job records the retry, and a task of its own runs after the backoff', async () => {
    const w = await world();
    await w.next();
    w.provider.answers.createVideo.push(new RetryableError('provider_unavailable', 'VisionStory answered 503'));
    const { task, result } = await w.next();
    expect(result).toBe('retrying');

    const waiting = await w.job();
    // random 0.5 with a 10 s minimum backoff: half for sure plus half of the other half.
    const nextAt = new Date(task.dueAt.getTime() + 7500).toISOString();
    expect(waiting.retry).toEqual({
      step: 'video.create',
      since: task.dueAt.toISOString(),
      count: 1,
      lastError: { code: 'provider_unavailable', message: 'VisionStory answered 503' },
      nextAt,
    });
    expect(waiting).toMatchObject({ stepSeq: 1, leaseUntil: null, nextRunAt: nextAt });
    expect(w.queue.pending().map((t) => [t.name, t.dueAt.toISOString()])).toEqual([[taskName(w.jobId, 1, 'p1'), nextAt]]);

    expect((await w.next()).result).toBe('advanced');
    expect(w.provider.count('createVideo')).toBe(2);
    expect(await w.job()).toMatchObject({ stepSeq: 2, retry: null });
  });

  test('a provider that stays down past the retry window fails the job with its last error', async () => {
    const w = await world();
    await w.next();
    w.provider.answers.createVideo.push(...Array.from({ length: 100 }, () => new RetryableError('provider_unavailable', 'VisionStory answered 503')));
    const results: AdvanceResult[] = [];
    while (w.queue.pending().length > 0) results.push((await w.next()).result);

    expect(results[results.length - 1]).toBe('failed');
    expect(results.slice(0, -1).every((r) => r === 'retrying')).toBe(true);
    const job = await w.job();
    expect(job.error?.code).toBe('provider_unavailable');
    expect(job.error?.message).toMatch(/did not recover within 6 h/);
    expect(Date.parse(job.completedAt!) - Date.parse(job.retry!.since)).toBeGreaterThanOrEqual(settings.providerRetryWindowSec * 1000);
  });
});

describe('advanceJob: deliveries ahead of time', () => {
  test('a task that arrives before the job’s nextRunAt runs the step at once: the claim compares stepSeq and lease, not the clock', async () => {
    const w = await world();
    await w.next();
    w.provider.answers.createVideo.push(new RetryableError('provider_unavailable', 'VisionStory answered 503'));
    const { task } = await w.next(); // retrying: nextRunAt 7.5 s out
    expect(Date.parse((await w.job()).nextRunAt!)).toBeGreaterThan(task.dueAt.getTime());
    // A duplicate of the original video.create task, delivered right away.
    expect(await w.deliver(task, 1)).toBe('advanced');
    expect(w.provider.count('createVideo')).toBe(2);
  });
});
