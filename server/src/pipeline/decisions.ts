import { createHash } from 'node:crypto';
import { isTerminal, type Job, type JobError, type JobInput, type JobRetry, type StepName } from '../domain/job';
import { STEP_LABELS, STEPS, TOTAL_STEPS } from '../domain/steps';
import { humanDuration } from '../time';
import { forecastPollDelaySec, refineWithProgress, type PollScheduleSettings, type RenderForecast } from './pollForecast';

/**
 * The job state machine as pure functions: given a job, the clock and what a step returned,
 * they decide the next document and the next task. No I/O here; runner.ts does the effects.
 */

/** Percent reached when each step starts; polling climbs from 25 towards 90. */
const STEP_START_PERCENT: Record<StepName, number> = {
  'avatar.create': 0,
  'video.create': 15,
  'video.poll': 25,
  'video.store': 90,
  done: 100,
};

export interface PipelineSettings {
  pollScheduleSec: number[];
  pollMaxIntervalSec: number;
  stepLeaseSec: number;
  jobDeadlineSec: number;
  /** The queue's maxAttempts (counts the first attempt); -1 means unlimited. */
  maxAttempts: number;
  /** Provider trouble is retried by the pipeline until this long after the step's first failure. */
  providerRetryWindowSec: number;
  /** Backoff of those retries: doubles from min to max, with jitter, never below Retry-After. */
  providerRetryMinBackoffSec: number;
  providerRetryMaxBackoffSec: number;
  /**
   * Predictive polling: when set, and the job has a render forecast, polls follow the forecast
   * (sparse before the likely end, dense around it); otherwise the fixed schedule above.
   */
  pollForecast?: PollScheduleSettings | null;
}

/** Deterministic task name: hashed prefix (sequential prefixes slow a Cloud Tasks queue). */
export function taskName(jobId: string, stepSeq: number, suffix?: string): string {
  const prefix = createHash('sha256').update(jobId).digest('hex').slice(0, 16);
  return suffix ? `${prefix}-${stepSeq}-${suffix}` : `${prefix}-${stepSeq}`;
}

/** Idempotency key for a provider call: the same job and step always give the same key. */
export function idempotencyKey(jobId: string, step: 'avatar' | 'video'): string {
  return `${jobId}-${step}`;
}

/** Adaptive polling: 5 s, 15 s, 30 s, 60 s, ... then every pollMaxIntervalSec. */
export function pollDelaySec(pollsDone: number, settings: Pick<PipelineSettings, 'pollScheduleSec' | 'pollMaxIntervalSec'>): number {
  return settings.pollScheduleSec[pollsDone] ?? settings.pollMaxIntervalSec;
}

/**
 * Seconds until the next poll of a video still rendering: from the job's render forecast
 * (narrowed by the provider's own percent, when it gives one) when predictive polling is on,
 * else the fixed schedule.
 */
export function nextPollDelaySec(
  provider: Job['provider'],
  now: string,
  providerPercent: number | undefined,
  settings: Pick<PipelineSettings, 'pollScheduleSec' | 'pollMaxIntervalSec' | 'pollForecast'>,
): number {
  if (!settings.pollForecast || !provider.forecast || !provider.requestedAt) return pollDelaySec(provider.polls, settings);
  const elapsedSec = Math.max(0, (Date.parse(now) - Date.parse(provider.requestedAt)) / 1000);
  const forecast = refineWithProgress(provider.forecast, elapsedSec, providerPercent);
  return forecastPollDelaySec(forecast, elapsedSec, settings.pollForecast);
}

/**
 * One learned render: from the request to the middle of the gap between the last poll that
 * found the video unfinished and the one that found it ready (the end is somewhere in there).
 * Null when the job cannot say (no request time, or no audio length).
 */
export function renderSampleOf(job: Job, now: string): { renderSec: number; audioSec: number } | null {
  const audioSec = job.input.audioDurationSec;
  if (!job.provider.requestedAt || !audioSec || !(audioSec > 0)) return null;
  const start = Date.parse(job.provider.requestedAt);
  const lastBusy = Date.parse(job.provider.checkedAt ?? job.provider.requestedAt);
  const renderSec = ((lastBusy + Date.parse(now)) / 2 - start) / 1000;
  return renderSec > 0 ? { renderSec, audioSec } : null;
}

function stepNumber(step: StepName): number {
  return step === 'done' ? TOTAL_STEPS : STEPS.indexOf(step) + 1;
}

function addSeconds(iso: string, sec: number): string {
  return new Date(Date.parse(iso) + sec * 1000).toISOString();
}

/** Moves progress forward; never backwards (rule 8). */
function advanceProgress(job: Job, step: StepName, percent: number, message: string): Job['progress'] {
  const current = job.progress;
  const number = Math.max(current.stepNumber, stepNumber(step));
  return {
    currentStep: stepNumber(step) >= current.stepNumber ? step : current.currentStep,
    stepNumber: number,
    totalSteps: TOTAL_STEPS,
    percent: Math.max(current.percent, Math.min(100, Math.round(percent))),
    message,
  };
}

export function newJob(args: { jobId: string; ownerUid: string; input: JobInput; providerName: string; now: string }): Job {
  return {
    jobId: args.jobId,
    ownerUid: args.ownerUid,
    status: 'queued',
    progress: {
      currentStep: 'avatar.create',
      stepNumber: 1,
      totalSteps: TOTAL_STEPS,
      percent: 0,
      message: 'Waiting for a worker',
    },
    input: args.input,
    provider: { name: args.providerName, avatarId: null, videoId: null, providerStatus: null, polls: 0 },
    result: null,
    error: null,
    cancelRequested: false,
    stepSeq: 0,
    leaseUntil: null,
    attempts: 0,
    nextRunAt: args.now,
    retry: null,
    rescues: 0,
    createdAt: args.now,
    updatedAt: args.now,
    completedAt: null,
  };
}

export function failJob(job: Job, error: JobError, now: string): Job {
  return {
    ...job,
    status: 'failed',
    error,
    progress: { ...job.progress, message: error.message },
    leaseUntil: null,
    nextRunAt: null,
    updatedAt: now,
    completedAt: now,
  };
}

export function cancelJob(job: Job, now: string): Job {
  return {
    ...job,
    status: 'cancelled',
    progress: { ...job.progress, message: 'Cancelled' },
    leaseUntil: null,
    nextRunAt: null,
    updatedAt: now,
    completedAt: now,
  };
}

/** What a delivery of task {jobId, stepSeq} may do with the job as it is now. */
export type ClaimDecision =
  | { kind: 'claimed'; job: Job }
  | { kind: 'cancelled'; job: Job }
  | { kind: 'timed_out'; job: Job }
  /** The job is already past this task (a duplicate or an old delivery). */
  | { kind: 'stale'; job: Job }
  /** The job is finished; nothing to do. */
  | { kind: 'finished'; job: Job }
  /** Another worker holds the lease for this very step. */
  | { kind: 'leased'; job: Job; retryAfterSec: number }
  /** The task is ahead of the job (should not happen); ignored. */
  | { kind: 'ahead'; job: Job };

/** Rule 3, 6 and 7: check stepSeq and lease, deadline and cancel, then take the lease. */
export function decideClaim(job: Job, stepSeq: number, now: string, settings: PipelineSettings): ClaimDecision {
  if (isTerminal(job.status)) return { kind: 'finished', job };
  if (stepSeq < job.stepSeq) return { kind: 'stale', job };
  if (stepSeq > job.stepSeq) return { kind: 'ahead', job };
  const nowMs = Date.parse(now);
  if (job.leaseUntil && Date.parse(job.leaseUntil) > nowMs) {
    return { kind: 'leased', job, retryAfterSec: Math.max(1, Math.ceil((Date.parse(job.leaseUntil) - nowMs) / 1000)) };
  }
  if (job.cancelRequested) return { kind: 'cancelled', job: cancelJob(job, now) };
  if (nowMs - Date.parse(job.createdAt) > settings.jobDeadlineSec * 1000) {
    const hours = Math.round((settings.jobDeadlineSec / 3600) * 10) / 10;
    return {
      kind: 'timed_out',
      job: failJob(job, { code: 'timeout', message: `The job did not finish within ${hours} h` }, now),
    };
  }
  const step = job.progress.currentStep;
  // The commit that scheduled this step already said what it is doing (e.g. "check 2" of the
  // provider): keep that message, so the claim changes nothing a watcher sees.
  const message = job.status === 'processing' && job.progress.message.startsWith(STEP_LABELS[step]) ? job.progress.message : STEP_LABELS[step];
  return {
    kind: 'claimed',
    job: {
      ...job,
      status: 'processing',
      leaseUntil: addSeconds(now, settings.stepLeaseSec),
      attempts: job.attempts + 1,
      progress: advanceProgress(job, step, STEP_START_PERCENT[step], message),
      updatedAt: now,
    },
  };
}

/** What a step returned. */
export type StepOutcome =
  | { kind: 'avatar_created'; avatarId: string }
  /** `forecast`: the render time expected, when predictive polling is on. */
  | { kind: 'video_requested'; videoId: string; forecast?: RenderForecast | null }
  | { kind: 'video_pending'; providerStatus: string; providerPercent?: number }
  | { kind: 'video_ready'; providerStatus: string }
  | { kind: 'video_failed'; providerStatus: string; reason: string }
  | { kind: 'video_stored'; videoPath: string; videoUrl: string; durationSec: number | null };

export interface Transition {
  job: Job;
  /** The next task to enqueue, or null when the job is finished. */
  next: { stepSeq: number; delaySec: number } | null;
}

/**
 * Applies a step's outcome: saves what the provider returned in the same write that advances
 * stepSeq (rule 4), releases the lease, and picks the next task and its delay (rule 1).
 */
export function applyOutcome(job: Job, outcome: StepOutcome, now: string, settings: PipelineSettings): Transition {
  const advance = (patch: Partial<Job>, step: StepName, percent: number, message: string, delaySec: number): Transition => {
    const stepSeq = job.stepSeq + 1;
    const next: Job = {
      ...job,
      ...patch,
      status: 'processing',
      stepSeq,
      leaseUntil: null,
      // The step succeeded: its provider trouble, if any, is over.
      retry: null,
      nextRunAt: addSeconds(now, delaySec),
      updatedAt: now,
    };
    next.progress = advanceProgress(next, step, percent, message);
    return { job: next, next: { stepSeq, delaySec } };
  };

  switch (outcome.kind) {
    case 'avatar_created':
      return advance(
        { provider: { ...job.provider, avatarId: outcome.avatarId } },
        'video.create',
        STEP_START_PERCENT['video.create'],
        STEP_LABELS['video.create'],
        0,
      );
    case 'video_requested': {
      const provider = {
        ...job.provider,
        videoId: outcome.videoId,
        providerStatus: 'queued',
        requestedAt: now,
        checkedAt: null,
        forecast: outcome.forecast ?? null,
      };
      const delaySec = nextPollDelaySec(provider, now, undefined, settings);
      return advance(
        { provider },
        'video.poll',
        STEP_START_PERCENT['video.poll'],
        STEP_LABELS['video.poll'],
        delaySec,
      );
    }
    case 'video_pending': {
      const polls = job.provider.polls + 1;
      // Without a percent from the provider, creep towards 85 % so the bar keeps moving.
      const estimated = outcome.providerPercent !== undefined
        ? 25 + (outcome.providerPercent / 100) * 60
        : 85 - 60 * Math.pow(0.85, polls);
      return advance(
        { provider: { ...job.provider, polls, providerStatus: outcome.providerStatus, checkedAt: now } },
        'video.poll',
        estimated,
        `${STEP_LABELS['video.poll']} (${outcome.providerStatus}, check ${polls})`,
        nextPollDelaySec({ ...job.provider, polls }, now, outcome.providerPercent, settings),
      );
    }
    case 'video_ready':
      return advance(
        { provider: { ...job.provider, polls: job.provider.polls + 1, providerStatus: outcome.providerStatus } },
        'video.store',
        STEP_START_PERCENT['video.store'],
        STEP_LABELS['video.store'],
        0,
      );
    case 'video_failed':
      return {
        job: failJob(
          { ...job, provider: { ...job.provider, polls: job.provider.polls + 1, providerStatus: outcome.providerStatus } },
          { code: 'provider_failed', message: `The provider could not make the video: ${outcome.reason}` },
          now,
        ),
        next: null,
      };
    case 'video_stored':
      return {
        job: {
          ...job,
          status: 'completed',
          stepSeq: job.stepSeq + 1,
          result: { videoPath: outcome.videoPath, videoUrl: outcome.videoUrl, durationSec: outcome.durationSec },
          progress: advanceProgress(job, 'done', 100, 'Your video is ready'),
          leaseUntil: null,
          nextRunAt: null,
          updatedAt: now,
          completedAt: now,
        },
        next: null,
      };
  }
}

/**
 * Codes of provider trouble that passes (network, timeout, 5xx, 429, 409 "same key in
 * progress", a render that could not run, a video not ready for download yet). The pipeline
 * retries these itself, in time; every other retryable failure (store, queue, blob storage)
 * is left to the queue's retries.
 */
export const PROVIDER_TRANSIENT_CODES: ReadonlySet<string> = new Set([
  'provider_unavailable',
  'provider_timeout',
  'provider_rate_limited',
  'provider_in_progress',
  'render_unavailable',
  'video_not_ready',
]);

export function isProviderTransient(code: string): boolean {
  return PROVIDER_TRANSIENT_CODES.has(code);
}

/** HH:MM in UTC, for messages; clients that want local time format `retry.nextAt`. */
export function clockUtc(iso: string): string {
  return iso.slice(11, 16);
}

/** What the pipeline does about a transient provider failure of the job's current step. */
export type ProviderRetryDecision =
  /** Try the step again at `delaySec` from now, as task `attempt` of this step's retries. */
  | { kind: 'retry'; job: Job; delaySec: number; attempt: number }
  /** The retry window has passed since the step's first failure: the job fails with the last error. */
  | { kind: 'give_up'; job: Job };

/**
 * Retries measured in time, not in queue attempts: records the failure on the job and picks the
 * next try with exponential backoff and jitter (`random` in [0, 1)), never sooner than the
 * provider's Retry-After, until `providerRetryWindowSec` has passed since this step first
 * failed. The record belongs to one step: a different step starts its own window.
 */
export function decideProviderRetry(
  job: Job,
  error: JobError & { retryAfterSec?: number },
  now: string,
  settings: PipelineSettings,
  random: number,
): ProviderRetryDecision {
  const step = job.progress.currentStep;
  const previous = job.retry && job.retry.step === step ? job.retry : null;
  const since = previous?.since ?? now;
  const count = (previous?.count ?? 0) + 1;
  const lastError = { code: error.code, message: error.message };
  const elapsedSec = (Date.parse(now) - Date.parse(since)) / 1000;
  if (elapsedSec >= settings.providerRetryWindowSec) {
    return {
      kind: 'give_up',
      job: failJob(
        { ...job, retry: { step, since, count, lastError, nextAt: now } },
        { code: error.code, message: `The provider did not recover within ${humanDuration(settings.providerRetryWindowSec)}: ${error.message}` },
        now,
      ),
    };
  }
  const ceiling = Math.min(
    settings.providerRetryMaxBackoffSec,
    settings.providerRetryMinBackoffSec * Math.pow(2, Math.min(count - 1, 30)),
  );
  // "Equal jitter": half the backoff for sure, the other half random, so a crowd of jobs hit
  // by the same outage does not come back in one burst.
  const jittered = ceiling / 2 + (ceiling / 2) * Math.min(Math.max(random, 0), 1);
  const delaySec = Math.max(jittered, error.retryAfterSec ?? 0);
  const nextAt = addSeconds(now, delaySec);
  const retry: JobRetry = { step, since, count, lastError, nextAt };
  return {
    kind: 'retry',
    delaySec,
    attempt: count,
    job: {
      ...job,
      retry,
      leaseUntil: null,
      nextRunAt: nextAt,
      progress: { ...job.progress, message: `The provider is not answering; retrying at ${clockUtc(nextAt)} UTC` },
      updatedAt: now,
    },
  };
}

/** Settings of the sweep that rescues jobs whose task was lost. */
export interface SweepSettings {
  /** How far past its nextRunAt a job must be before it is rescued (plus the step lease). */
  graceSec: number;
}

/** What the sweep does with one overdue job. */
export type RescueDecision =
  | { kind: 'rescue'; job: Job; rescue: number }
  | { kind: 'timed_out'; job: Job }
  /** Finished, leased, or not overdue any more (someone moved it since the query). */
  | { kind: 'skip'; reason: 'finished' | 'leased' | 'not_overdue' };

/**
 * The sweep's decision for a job the overdue query returned, re-checked inside the store's
 * atomic update: a job past JOB_DEADLINE fails with `timeout`; one with no live lease and a
 * nextRunAt more than the grace period (plus the step lease) ago gets a rescue: the counter
 * that names the rescue task goes up, and nextRunAt moves to now so the next sweep waits a
 * whole grace period before rescuing it again.
 */
export function decideRescue(job: Job, now: string, settings: PipelineSettings & SweepSettings): RescueDecision {
  if (isTerminal(job.status)) return { kind: 'skip', reason: 'finished' };
  const nowMs = Date.parse(now);
  if (job.leaseUntil && Date.parse(job.leaseUntil) > nowMs) return { kind: 'skip', reason: 'leased' };
  const dueMs = Date.parse(job.nextRunAt ?? job.createdAt);
  if (nowMs - dueMs <= sweepGraceSec(settings) * 1000) return { kind: 'skip', reason: 'not_overdue' };
  if (nowMs - Date.parse(job.createdAt) > settings.jobDeadlineSec * 1000) {
    const hours = Math.round((settings.jobDeadlineSec / 3600) * 10) / 10;
    return { kind: 'timed_out', job: failJob(job, { code: 'timeout', message: `The job did not finish within ${hours} h` }, now) };
  }
  const rescue = (job.rescues ?? 0) + 1;
  return { kind: 'rescue', rescue, job: { ...job, rescues: rescue, nextRunAt: now, updatedAt: now } };
}

/** The whole grace: SWEEP_GRACE plus the step lease, so a step still running is never rescued. */
export function sweepGraceSec(settings: Pick<PipelineSettings, 'stepLeaseSec'> & SweepSettings): number {
  return settings.graceSec + settings.stepLeaseSec;
}

/** A retryable failure: give the lease back so the retry can claim at once. */
export function releaseAfterRetryableError(job: Job, stepSeq: number, message: string, now: string): Job | null {
  if (job.stepSeq !== stepSeq || isTerminal(job.status)) return null;
  return {
    ...job,
    leaseUntil: null,
    progress: { ...job.progress, message: `Will retry: ${message}` },
    updatedAt: now,
  };
}

/** Rule 5's last clause: is this the queue's last attempt at the task? */
export function isLastAttempt(retryCount: number, maxAttempts: number): boolean {
  return maxAttempts > 0 && retryCount + 1 >= maxAttempts;
}

/** Sets cancelRequested unless the job has already finished. */
export function requestCancel(job: Job, now: string): Job | null {
  if (isTerminal(job.status) || job.cancelRequested) return null;
  return { ...job, cancelRequested: true, progress: { ...job.progress, message: 'Cancelling' }, updatedAt: now };
}
