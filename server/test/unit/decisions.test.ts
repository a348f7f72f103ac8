import {
  applyOutcome,
  clockUtc,
  decideClaim,
  decideProviderRetry,
  decideRescue,
  isLastAttempt,
  isProviderTransient,
  newJob,
  pollDelaySec,
  releaseAfterRetryableError,
  requestCancel,
  taskName,
  type PipelineSettings,
} from '../../src/pipeline/decisions';
import type { Job } from '../../src/domain/job';

const settings: PipelineSettings = {
  pollScheduleSec: [5, 15, 30, 60],
  pollMaxIntervalSec: 60,
  stepLeaseSec: 120,
  jobDeadlineSec: 24 * 3600,
  maxAttempts: 3,
  providerRetryWindowSec: 6 * 3600,
  providerRetryMinBackoffSec: 10,
  providerRetryMaxBackoffSec: 600,
};
const T0 = '2026-01-01T00:00:00.000Z';
const at = (sec: number): string => new Date(Date.parse(T0) + sec * 1000).toISOString();

function fresh(): Job {
  return newJob({
    jobId: 'job-1',
    ownerUid: 'u1',
    providerName: 'test',
    now: T0,
    input: { imagePath: 'i', audioPath: 'a', imageType: 'image/jpeg', audioType: 'audio/wav', instructorName: 'K', instructorBio: '' },
  });
}

/** Claims the job at `sec` and applies an outcome, as one worker request would. */
function step(job: Job, sec: number, outcome: Parameters<typeof applyOutcome>[1]) {
  const claim = decideClaim(job, job.stepSeq, at(sec), settings);
  if (claim.kind !== 'claimed') throw new Error(`expected a claim, got ${claim.kind}`);
  return applyOutcome(claim.job, outcome, at(sec + 1), settings);
}

describe('task names and keys', () => {
  test('the same job and step always give the same task name, with a hashed prefix', () => {
    expect(taskName('job-1', 3)).toBe(taskName('job-1', 3));
    expect(taskName('job-1', 3)).not.toBe(taskName('job-1', 4));
    expect(taskName('job-1', 3)).toMatch(/^[0-9a-f]{16}-3$/);
    expect(taskName('job-1', 3).split('-')[0]).not.toBe(taskName('job-2', 3).split('-')[0]);
    expect(taskName('job-1', 3, 'cancel')).toMatch(/^[0-9a-f]{16}-3-cancel$/);
  });
});

describe('claiming a job for a task', () => {
  test('the task for the current step claims the job and takes a lease', () => {
    const claim = decideClaim(fresh(), 0, T0, settings);
    expect(claim.kind).toBe('claimed');
    expect(claim.job.status).toBe('processing');
    expect(claim.job.leaseUntil).toBe(at(120));
    expect(claim.job.attempts).toBe(1);
  });

  test('claiming a step the previous commit already announced changes only the lease, nothing a watcher sees', () => {
    let t = step(fresh(), 0, { kind: 'avatar_created', avatarId: 'av-1' });
    t = step(t.job, 1, { kind: 'video_requested', videoId: 'vid-1' });
    t = step(t.job, 2, { kind: 'video_pending', providerStatus: 'running' });
    const claim = decideClaim(t.job, t.job.stepSeq, at(10), settings);
    expect(claim.kind).toBe('claimed');
    expect(claim.job.progress).toEqual(t.job.progress);
    expect(claim.job.progress.message).toBe('The provider is making the video (running, check 1)');
    expect(claim.job.status).toBe(t.job.status);
    // After a retryable error the claim does say it is trying again.
    const released = releaseAfterRetryableError(t.job, t.job.stepSeq, 'provider busy', at(11))!;
    expect(decideClaim(released, released.stepSeq, at(12), settings).job.progress.message).toBe('The provider is making the video');
  });

  test('a second delivery while the lease is live is told to come back after it', () => {
    const first = decideClaim(fresh(), 0, T0, settings);
    const second = decideClaim(first.job, 0, at(10), settings);
    expect(second).toMatchObject({ kind: 'leased', retryAfterSec: 110 });
  });

  test('an expired lease (a worker that crashed) can be claimed again', () => {
    const first = decideClaim(fresh(), 0, T0, settings);
    expect(decideClaim(first.job, 0, at(121), settings).kind).toBe('claimed');
  });

  test('an old task is stale, a future one ahead, a finished job finished', () => {
    const t = step(fresh(), 0, { kind: 'avatar_created', avatarId: 'av' });
    expect(decideClaim(t.job, 0, at(5), settings).kind).toBe('stale');
    expect(decideClaim(t.job, 5, at(5), settings).kind).toBe('ahead');
    expect(decideClaim({ ...t.job, status: 'completed' }, 1, at(5), settings).kind).toBe('finished');
  });

  test('a job past its deadline fails with code timeout', () => {
    const claim = decideClaim(fresh(), 0, at(24 * 3600 + 1), settings);
    expect(claim.kind).toBe('timed_out');
    expect(claim.job.status).toBe('failed');
    expect(claim.job.error).toEqual({ code: 'timeout', message: expect.stringContaining('24 h') });
    expect(claim.job.completedAt).toBe(at(24 * 3600 + 1));
  });

  test('a job with cancelRequested is cancelled by the next delivery instead of running', () => {
    const requested = requestCancel(fresh(), at(1))!;
    const claim = decideClaim(requested, 0, at(2), settings);
    expect(claim.kind).toBe('cancelled');
    expect(claim.job.status).toBe('cancelled');
  });

  test('cancelling a finished job changes nothing', () => {
    expect(requestCancel({ ...fresh(), status: 'completed' }, T0)).toBeNull();
  });
});

describe('the pipeline path', () => {
  test('avatar → video → polls → store → completed, each step saving the provider ids and scheduling the next', () => {
    let t = step(fresh(), 0, { kind: 'avatar_created', avatarId: 'av-1' });
    expect(t.job.provider.avatarId).toBe('av-1');
    expect(t.job.progress.currentStep).toBe('video.create');
    expect(t.next).toEqual({ stepSeq: 1, delaySec: 0 });
    expect(t.job.leaseUntil).toBeNull();

    t = step(t.job, 2, { kind: 'video_requested', videoId: 'vid-1' });
    expect(t.job.provider.videoId).toBe('vid-1');
    expect(t.job.progress.currentStep).toBe('video.poll');
    expect(t.next).toEqual({ stepSeq: 2, delaySec: 5 });
    expect(t.job.nextRunAt).toBe(at(3 + 5));

    const delays: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      t = step(t.job, 10 + i * 100, { kind: 'video_pending', providerStatus: 'creating' });
      delays.push(t.next!.delaySec);
    }
    expect(delays).toEqual([15, 30, 60, 60, 60, 60]);
    expect(t.job.provider.polls).toBe(6);

    t = step(t.job, 1000, { kind: 'video_ready', providerStatus: 'created' });
    expect(t.job.progress.currentStep).toBe('video.store');
    expect(t.next).toEqual({ stepSeq: t.job.stepSeq, delaySec: 0 });

    t = step(t.job, 1001, { kind: 'video_stored', videoPath: 'videos/job-1.mp4', videoUrl: '/jobs/job-1/video', durationSec: 3 });
    expect(t.next).toBeNull();
    expect(t.job.status).toBe('completed');
    expect(t.job.result).toEqual({ videoPath: 'videos/job-1.mp4', videoUrl: '/jobs/job-1/video', durationSec: 3 });
    expect(t.job.progress).toMatchObject({ currentStep: 'done', percent: 100, stepNumber: 4, totalSteps: 4 });
    expect(t.job.completedAt).toBe(at(1002));
  });

  test('progress never goes backwards, whatever the provider reports', () => {
    let t = step(fresh(), 0, { kind: 'avatar_created', avatarId: 'a' });
    t = step(t.job, 1, { kind: 'video_requested', videoId: 'v' });
    const seen: number[] = [t.job.progress.percent];
    for (const p of [80, 10, 50, 0, 99]) {
      t = step(t.job, 100 + seen.length * 100, { kind: 'video_pending', providerStatus: 'creating', providerPercent: p });
      seen.push(t.job.progress.percent);
    }
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(Math.max(...seen)).toBeLessThan(90); // the store step still has room to move
  });

  test('a video the provider failed fails the job with its reason', () => {
    let t = step(fresh(), 0, { kind: 'avatar_created', avatarId: 'a' });
    t = step(t.job, 1, { kind: 'video_requested', videoId: 'v' });
    t = step(t.job, 10, { kind: 'video_failed', providerStatus: 'failed', reason: 'face not found' });
    expect(t.next).toBeNull();
    expect(t.job.status).toBe('failed');
    expect(t.job.error).toEqual({ code: 'provider_failed', message: expect.stringContaining('face not found') });
  });
});

describe('retries', () => {
  test('the last attempt is recognised from the retry count (maxAttempts counts the first try)', () => {
    expect(isLastAttempt(0, 3)).toBe(false);
    expect(isLastAttempt(1, 3)).toBe(false);
    expect(isLastAttempt(2, 3)).toBe(true);
    expect(isLastAttempt(50, -1)).toBe(false);
  });

  test('a retryable error gives the lease back so the retry can claim at once', () => {
    const claimed = decideClaim(fresh(), 0, T0, settings).job;
    const released = releaseAfterRetryableError(claimed, 0, 'provider busy', at(1))!;
    expect(released.leaseUntil).toBeNull();
    expect(decideClaim(released, 0, at(2), settings).kind).toBe('claimed');
    expect(releaseAfterRetryableError(claimed, 5, 'x', at(1))).toBeNull();
  });

  test('poll delays follow the schedule, then the max interval', () => {
    expect([0, 1, 2, 3, 4, 100].map((n) => pollDelaySec(n, settings))).toEqual([5, 15, 30, 60, 60, 60]);
    expect(pollDelaySec(9, { pollScheduleSec: [1], pollMaxIntervalSec: 120 })).toBe(120);
  });
});

describe('provider trouble is retried in time, not in queue attempts', () => {
  const outage = { code: 'provider_unavailable', message: 'VisionStory avatar answered HTTP 503' };
  const claimedAt = (job: Job, sec: number): Job => {
    const claim = decideClaim(job, job.stepSeq, at(sec), settings);
    if (claim.kind !== 'claimed') throw new Error(`expected a claim, got ${claim.kind}`);
    return claim.job;
  };

  test('the first failure is recorded on the job, which waits with no lease until the retry is due', () => {
    const decision = decideProviderRetry(claimedAt(fresh(), 0), outage, at(1), settings, 0.5);
    expect(decision.kind).toBe('retry');
    if (decision.kind !== 'retry') return;
    expect(decision.attempt).toBe(1);
    expect(decision.delaySec).toBe(7.5); // 10 s backoff: 5 s for sure + half of the other 5
    expect(decision.job.retry).toEqual({ step: 'avatar.create', since: at(1), count: 1, lastError: outage, nextAt: at(8.5) });
    expect(decision.job.nextRunAt).toBe(at(8.5));
    expect(decision.job.leaseUntil).toBeNull();
    expect(decision.job.status).toBe('processing');
    expect(decision.job.stepSeq).toBe(0); // the same step again
    expect(decision.job.progress.message).toBe('The provider is not answering; retrying at 00:00 UTC');
  });

  test('the backoff doubles with jitter up to the maximum and never comes sooner than Retry-After', () => {
    let job = claimedAt(fresh(), 0);
    const ceilings: number[] = [];
    for (let i = 0; i < 9; i += 1) {
      const low = decideProviderRetry(job, outage, at(i * 700), settings, 0);
      const high = decideProviderRetry(job, outage, at(i * 700), settings, 0.999999);
      if (low.kind !== 'retry' || high.kind !== 'retry') throw new Error('expected retries');
      expect(high.delaySec).toBeGreaterThan(low.delaySec);
      expect(low.delaySec).toBeCloseTo(high.delaySec / 2, 3);
      ceilings.push(Math.round(high.delaySec));
      job = low.job;
    }
    expect(ceilings).toEqual([10, 20, 40, 80, 160, 320, 600, 600, 600]);
    const limited = decideProviderRetry(job, { ...outage, code: 'provider_rate_limited', retryAfterSec: 900 }, at(9000), settings, 0);
    expect(limited.kind === 'retry' && limited.delaySec).toBe(900);
  });

  test('past the window since the first failure the job fails with the last error', () => {
    let job = claimedAt(fresh(), 0);
    const first = decideProviderRetry(job, outage, at(100), settings, 0.3);
    if (first.kind !== 'retry') throw new Error('expected a retry');
    job = first.job;
    const inWindow = decideProviderRetry(job, outage, at(100 + 6 * 3600 - 1), settings, 0.3);
    expect(inWindow.kind).toBe('retry');
    expect(inWindow.job.retry?.since).toBe(at(100));
    const last = { code: 'provider_timeout', message: 'VisionStory avatar timed out after 30000 ms' };
    const over = decideProviderRetry(inWindow.job, last, at(100 + 6 * 3600), settings, 0.3);
    expect(over.kind).toBe('give_up');
    expect(over.job.status).toBe('failed');
    expect(over.job.error?.code).toBe('provider_timeout');
    expect(over.job.error?.message).toMatch(/did not recover within 6 h: VisionStory avatar timed out/);
    expect(over.job.nextRunAt).toBeNull();
  });

  test('a status check has its own window: failures of video.poll never spend the budget of video.create', () => {
    let job = claimedAt(fresh(), 0);
    job = applyOutcome(job, { kind: 'avatar_created', avatarId: 'av' }, at(1), settings).job;
    job = claimedAt(job, 2);
    // video.create fails for 5 hours, then succeeds: its record is cleared.
    const failing = decideProviderRetry(job, outage, at(3), settings, 0.5);
    const late = decideProviderRetry(failing.job, outage, at(3 + 5 * 3600), settings, 0.5);
    expect(late.kind).toBe('retry');
    job = claimedAt(late.job, 4 + 5 * 3600);
    job = applyOutcome(job, { kind: 'video_requested', videoId: 'v' }, at(5 + 5 * 3600), settings).job;
    expect(job.retry).toBeNull();
    // The poll now fails: a fresh window, counted from the poll's own first failure.
    job = claimedAt(job, 10 + 5 * 3600);
    const poll = decideProviderRetry(job, outage, at(11 + 5 * 3600), settings, 0.5);
    expect(poll.kind).toBe('retry');
    expect(poll.job.retry).toMatchObject({ step: 'video.poll', since: at(11 + 5 * 3600), count: 1 });
    const stillPolling = decideProviderRetry(poll.job, outage, at(11 + 10 * 3600), settings, 0.5);
    expect(stillPolling.kind).toBe('retry');
  });

  test('only provider trouble is retried by the pipeline; store, queue and storage failures stay with the queue', () => {
    for (const code of ['provider_unavailable', 'provider_timeout', 'provider_rate_limited', 'provider_in_progress', 'render_unavailable']) {
      expect(isProviderTransient(code)).toBe(true);
    }
    for (const code of ['store_unavailable', 'queue_unavailable', 'storage_unavailable', 'internal', 'provider_rejected', 'bad_media']) {
      expect(isProviderTransient(code)).toBe(false);
    }
    expect(clockUtc('2026-01-01T17:05:59.000Z')).toBe('17:05');
  });
});

describe('the sweep rescues jobs whose task was lost', () => {
  const sweep = { ...settings, graceSec: 120 };
  // grace + lease = 240 s

  test('a queued job whose first task never came is rescued after the grace period, with a new task name each time', () => {
    const job = fresh(); // nextRunAt = createdAt = T0
    expect(decideRescue(job, at(240), sweep)).toEqual({ kind: 'skip', reason: 'not_overdue' });
    const first = decideRescue(job, at(241), sweep);
    expect(first.kind).toBe('rescue');
    if (first.kind !== 'rescue') return;
    expect(first.rescue).toBe(1);
    expect(first.job.rescues).toBe(1);
    expect(first.job.nextRunAt).toBe(at(241)); // the next sweep waits a whole grace again
    expect(first.job.stepSeq).toBe(job.stepSeq);
    expect(decideRescue(first.job, at(400), sweep).kind).toBe('skip');
    const second = decideRescue(first.job, at(482), sweep);
    expect(second.kind === 'rescue' && second.rescue).toBe(2);
    expect(taskName('job-1', 0, 'r1')).not.toBe(taskName('job-1', 0, 'r2'));
    expect(taskName('job-1', 0, 'r1')).not.toBe(taskName('job-1', 0));
  });

  test('a job holding a live lease is left alone; finished jobs are never touched', () => {
    const claimed = decideClaim(fresh(), 0, T0, settings).job; // lease until 120 s
    expect(decideRescue({ ...claimed, leaseUntil: at(1000) }, at(500), sweep)).toEqual({ kind: 'skip', reason: 'leased' });
    const crashed = decideRescue(claimed, at(500), sweep); // lease ended long ago
    expect(crashed.kind).toBe('rescue');
    const done = { ...fresh(), status: 'completed' as const };
    expect(decideRescue(done, at(99999), sweep)).toEqual({ kind: 'skip', reason: 'finished' });
  });

  test('a job past JOB_DEADLINE fails with timeout instead of being rescued', () => {
    const decision = decideRescue(fresh(), at(24 * 3600 + 1), sweep);
    expect(decision.kind).toBe('timed_out');
    expect(decision.kind === 'timed_out' && decision.job.error?.code).toBe('timeout');
    expect(decision.kind === 'timed_out' && decision.job.status).toBe('failed');
  });
});
