import type { Logger } from 'pino';
import { AppError, RetryableError, PermanentError, describeError } from '../domain/errors';
import type { AvatarProvider } from '../ports/avatarProvider';
import type { BlobStore } from '../ports/blobStore';
import { isTerminal, type Job } from '../domain/job';
import type { JobStore } from '../ports/jobStore';
import type { EnqueueResult, StepTask, TaskQueue } from '../ports/taskQueue';
import { videoKey } from '../domain/blobKeys';
import { preparePhoto } from './prepareMedia';
import {
  applyOutcome,
  decideClaim,
  decideProviderRetry,
  failJob,
  idempotencyKey,
  isLastAttempt,
  isProviderTransient,
  releaseAfterRetryableError,
  renderSampleOf,
  taskName,
  type PipelineSettings,
  type StepOutcome,
} from './decisions';
import { addRenderSample, forecastRender, type RenderForecast } from './pollForecast';

export interface PipelineDeps {
  store: JobStore;
  queue: TaskQueue;
  blobs: BlobStore;
  provider: AvatarProvider;
  settings: PipelineSettings;
  logger: Logger;
  now?: () => Date;
  /** Jitter source for provider retries, in [0, 1); Math.random by default. */
  random?: () => number;
  /**
   * Called after a delivery found or left the job finished (completed, failed, cancelled): the
   * lifecycle hook that queues notifications and stamps retention dates. It must be idempotent.
   */
  onJobEnded?: (jobId: string) => Promise<void>;
  /** Photo preparation limits; default 40 MP and 10 MB. */
  media?: { maxPixels: number; maxBytes: number };
}

/** Facts about this delivery, from the X-CloudTasks-* headers. */
export interface Delivery {
  /** X-CloudTasks-TaskRetryCount: how many times this task was dispatched before. */
  retryCount: number;
  taskName?: string;
}

export type AdvanceResult =
  | 'advanced'
  | 'completed'
  | 'failed'
  | 'cancelled'
  | 'timed_out'
  | 'stale'
  | 'finished'
  | 'not_found'
  | 'ahead'
  | 'deferred'
  /** Provider trouble: the step was scheduled again as a task of its own, later. */
  | 'retrying';

/** The API path that serves a finished video. */
export function videoPath(jobId: string): string {
  return `/jobs/${encodeURIComponent(jobId)}/video`;
}

/**
 * One worker request: claim the job for this task's step, do that one step, commit what it
 * returned and enqueue the next step. Never waits for the provider (rule 1): a video that is
 * not ready yet is a new task scheduled for later.
 *
 * Throws RetryableError when the delivery should be retried (`retryAfterSec`: not before then).
 */
export async function advanceJob(deps: PipelineDeps, task: StepTask, delivery: Delivery): Promise<AdvanceResult> {
  const result = await advanceJobStep(deps, task, delivery);
  // Also on 'finished': if the hook failed on the delivery that ended the job, the queue's
  // retry of that delivery finds the job finished and runs the hook again.
  if (deps.onJobEnded && ENDED_RESULTS.has(result)) await deps.onJobEnded(task.jobId);
  return result;
}

const ENDED_RESULTS = new Set<AdvanceResult>(['completed', 'failed', 'cancelled', 'timed_out', 'finished']);

async function advanceJobStep(deps: PipelineDeps, task: StepTask, delivery: Delivery): Promise<AdvanceResult> {
  const now = (): string => (deps.now?.() ?? new Date()).toISOString();
  const log = deps.logger.child({ jobId: task.jobId, stepSeq: task.stepSeq });

  // 1. Claim: compare stepSeq and lease and take the lease in one atomic write (rule 3).
  let decision: ReturnType<typeof decideClaim> | undefined;
  const claim = await deps.store.update(task.jobId, (job) => {
    decision = decideClaim(job, task.stepSeq, now(), deps.settings);
    return ['claimed', 'cancelled', 'timed_out'].includes(decision.kind) ? decision.job : null;
  });
  if (!claim.job || !decision) {
    log.warn({ message: 'task for an unknown job ignored' });
    return 'not_found';
  }
  switch (decision.kind) {
    case 'finished':
    case 'ahead':
      return decision.kind;
    case 'stale':
      // A duplicate or an old delivery. If the previous worker committed but its enqueue of
      // the next task failed, that task is re-created here: deterministic names make it safe.
      await ensureNextTask(deps, claim.job, task.stepSeq, log);
      if (claim.job.cancelRequested) {
        // A cancel raced with a commit: bring the cancel to the job's current step now rather
        // than at its next scheduled poll.
        await deps.queue.enqueue(
          { jobId: task.jobId, stepSeq: claim.job.stepSeq },
          { name: taskName(task.jobId, claim.job.stepSeq, 'cancel') },
        );
      }
      return 'stale';
    case 'leased': {
      // Another delivery of this very task is running (or crashed holding the lease).
      if (!isLastAttempt(delivery.retryCount, deps.settings.maxAttempts)) {
        // Ask the queue to come back after the lease; not counted as the step failing.
        throw new RetryableError('step_in_progress', 'Another worker is running this step', {
          retryAfterSec: decision.retryAfterSec,
        });
      }
      // The queue would drop this task after a failing answer. If the lease holder crashed,
      // nothing would ever run the job again: hand the step to a new task due after the lease.
      // Its name is fixed per lease (attempts), so duplicates of this situation make one task.
      const leaseEnds = Date.parse(claim.job.leaseUntil ?? new Date().toISOString());
      await deps.queue.enqueue(task, {
        name: taskName(task.jobId, task.stepSeq, `lease${claim.job.attempts}`),
        scheduleTime: new Date(leaseEnds + 1000),
      });
      log.warn({ message: 'last attempt found the step leased; deferred to a task after the lease' });
      return 'deferred';
    }
    case 'cancelled': {
      // Rule 7: remove the step's pending task (unless this delivery is that task).
      const pending = taskName(task.jobId, task.stepSeq);
      if (!delivery.taskName?.endsWith(`/${pending}`) && delivery.taskName !== pending) await deleteQuietly(deps, pending, log);
      log.info({ message: 'job cancelled' });
      return 'cancelled';
    }
    case 'timed_out':
      log.warn({ message: 'job passed its deadline', error: claim.job.error });
      return 'timed_out';
    case 'claimed':
      break;
  }
  const job = claim.job;

  // 2. Do the step.
  let outcome: StepOutcome;
  try {
    outcome = await runStep(deps, job);
  } catch (err) {
    return handleStepError(deps, job, task, delivery, err, log);
  }

  // 3. Commit what the step returned, only if the job is still ours at this step.
  let transition: ReturnType<typeof applyOutcome> | undefined;
  const committed = await deps.store.update(task.jobId, (current) => {
    if (current.stepSeq !== task.stepSeq || isTerminal(current.status)) return null;
    transition = applyOutcome(current, outcome, now(), deps.settings);
    return transition.job;
  });
  if (!committed.changed || !transition) {
    // The job was cancelled or deleted while its video was being copied: the copy must not outlive it.
    if (outcome.kind === 'video_stored' && (!committed.job || isTerminal(committed.job.status))) {
      await deps.blobs.delete(outcome.videoPath);
    }
    log.warn({ message: 'job moved on while the step ran; result dropped', outcome: outcome.kind });
    return 'stale';
  }
  log.info({
    message: `step ${job.progress.currentStep} done`,
    outcome: outcome.kind,
    status: transition.job.status,
    percent: transition.job.progress.percent,
  });

  if (outcome.kind === 'video_ready') await learnRenderTime(deps, job, now(), log);

  // 4. Enqueue the next step. Awaited: if it fails, the queue retries this task, which finds
  // the job advanced and re-creates the missing task (see 'stale' above).
  if (transition.next) {
    await enqueueStep(deps, task.jobId, transition.next.stepSeq, transition.next.delaySec);
    return 'advanced';
  }
  return transition.job.status === 'completed' ? 'completed' : 'failed';
}

/** The render forecast for a job; a store that cannot answer just means "no history yet". */
async function forecastFor(deps: PipelineDeps, job: Job): Promise<RenderForecast> {
  const stats = await deps.store.getProviderStats(deps.provider.name).catch(() => null);
  return forecastRender(stats, job.input.audioDurationSec);
}

/**
 * Adds a finished render to the provider's stats. Learning is a bonus: a failure here is
 * logged and never fails the step (the video is ready and the job moves on).
 */
async function learnRenderTime(deps: PipelineDeps, job: Job, now: string, log: Logger): Promise<void> {
  const sample = renderSampleOf(job, now);
  if (!sample) return;
  try {
    await deps.store.updateProviderStats(deps.provider.name, (current) => addRenderSample(current, deps.provider.name, sample, now));
  } catch (err) {
    log.warn({ message: 'could not record the render time', error: (err as Error).message });
  }
}

async function runStep(deps: PipelineDeps, job: Job): Promise<StepOutcome> {
  const { provider } = deps;
  switch (job.progress.currentStep) {
    case 'avatar.create': {
      // Every provider gets the same prepared JPEG, never the raw upload.
      const photo = await preparePhoto(
        { blobs: deps.blobs, logger: deps.logger, maxPixels: 40_000_000, maxBytes: 10 * 1024 * 1024, ...deps.media },
        job.jobId,
        { key: job.input.imagePath, contentType: job.input.imageType },
      );
      const { avatarId } = await provider.createAvatar(photo, idempotencyKey(job.jobId, 'avatar'));
      return { kind: 'avatar_created', avatarId };
    }
    case 'video.create': {
      if (!job.provider.avatarId) throw new PermanentError('internal', 'No avatar id at the video step');
      const { videoId } = await provider.createVideo(
        job.provider.avatarId,
        { key: job.input.audioPath, contentType: job.input.audioType },
        idempotencyKey(job.jobId, 'video'),
        { instructorName: job.input.instructorName, instructorBio: job.input.instructorBio },
      );
      // Predictive polling: the render time to expect, from what this provider's past renders took.
      const forecast = deps.settings.pollForecast ? await forecastFor(deps, job) : null;
      return { kind: 'video_requested', videoId, forecast };
    }
    case 'video.poll': {
      if (!job.provider.videoId) throw new PermanentError('internal', 'No video id at the poll step');
      const video = await provider.getVideo(job.provider.videoId);
      switch (video.state) {
        case 'queued':
          return { kind: 'video_pending', providerStatus: video.providerStatus };
        case 'running':
          return { kind: 'video_pending', providerStatus: video.providerStatus, providerPercent: video.percent };
        case 'done':
          return { kind: 'video_ready', providerStatus: video.providerStatus };
        case 'failed':
          return { kind: 'video_failed', providerStatus: video.providerStatus, reason: video.reason };
      }
      break;
    }
    case 'video.store': {
      // Rule 9: copy the result into our own store; providers delete their files after days.
      // The URL is asked for again here because provider URLs may be signed and short-lived.
      if (!job.provider.videoId) throw new PermanentError('internal', 'No video id at the store step');
      const video = await provider.getVideo(job.provider.videoId);
      if (video.state !== 'done') throw new RetryableError('video_not_ready', `Video is ${video.providerStatus}`);
      const stream = await provider.openVideo(video.url);
      await deps.blobs.putStream(videoKey(job.jobId), stream, { contentType: 'video/mp4' });
      return {
        kind: 'video_stored',
        videoPath: videoKey(job.jobId),
        videoUrl: videoPath(job.jobId),
        durationSec: video.durationSec ?? null,
      };
    }
    case 'done':
      break;
  }
  throw new PermanentError('internal', `Nothing to do at step ${job.progress.currentStep}`);
}

async function handleStepError(
  deps: PipelineDeps,
  job: Job,
  task: StepTask,
  delivery: Delivery,
  err: unknown,
  log: Logger,
): Promise<AdvanceResult> {
  const now = (deps.now?.() ?? new Date()).toISOString();
  const { code, message } = describeError(err);
  const retryable = err instanceof RetryableError || !(err instanceof AppError);
  const last = isLastAttempt(delivery.retryCount, deps.settings.maxAttempts);
  log.warn({
    message: `step ${job.progress.currentStep} failed`,
    error: { code, message, detail: err instanceof AppError ? err.detail : undefined },
    retryable,
    retryCount: delivery.retryCount,
    lastAttempt: last,
  });

  if (retryable && isProviderTransient(code)) return retryProviderStep(deps, job, task, err, log);

  if (retryable && !last) {
    await deps.store.update(task.jobId, (current) => releaseAfterRetryableError(current, task.stepSeq, message, now));
    throw err instanceof RetryableError ? err : new RetryableError(code, message, { cause: err });
  }
  // Permanent, or the queue's last attempt: the task must not vanish leaving the job stuck.
  const error = retryable ? { code, message: `Gave up after ${delivery.retryCount + 1} attempts: ${message}` } : { code, message };
  await deps.store.update(task.jobId, (current) =>
    current.stepSeq === task.stepSeq && !isTerminal(current.status) ? failJob(current, error, now) : null,
  );
  return 'failed';
}

/**
 * Retries in time, not in queue attempts: the failure is recorded on the job, which waits with
 * no lease and nextRunAt at the retry time, and the same step is scheduled again as a task with
 * a name of its own (`-p<count>`); the queue gets 200, so its attempts are kept for failures of
 * our own infrastructure. Past the retry window the job fails with the last error.
 */
async function retryProviderStep(deps: PipelineDeps, job: Job, task: StepTask, err: unknown, log: Logger): Promise<AdvanceResult> {
  const now = (deps.now?.() ?? new Date()).toISOString();
  const { code, message } = describeError(err);
  const retryAfterSec = err instanceof AppError ? err.retryAfterSec : undefined;
  const random = (deps.random ?? Math.random)();
  let decision: ReturnType<typeof decideProviderRetry> | undefined;
  const result = await deps.store.update(task.jobId, (current) => {
    if (current.stepSeq !== task.stepSeq || isTerminal(current.status)) return null;
    decision = decideProviderRetry(current, { code, message, retryAfterSec }, now, deps.settings, random);
    return decision.job;
  });
  if (!result.changed || !decision) return 'stale';
  if (decision.kind === 'give_up') {
    log.warn({ message: 'the provider did not recover within the retry window; job failed', error: result.job?.error });
    return 'failed';
  }
  const nowMs = Date.parse(now);
  await deps.queue.enqueue(task, {
    name: taskName(task.jobId, task.stepSeq, `p${decision.attempt}`),
    scheduleTime: new Date(nowMs + decision.delaySec * 1000),
  });
  log.warn({
    message: `provider trouble at ${job.progress.currentStep}; retrying at ${decision.job.retry?.nextAt}`,
    error: { code, message },
    retry: decision.attempt,
    delaySec: Math.round(decision.delaySec * 10) / 10,
  });
  return 'retrying';
}

/** Creates the task for `stepSeq`; an existing task of that name counts as success (rule 2). */
export async function enqueueStep(
  deps: Pick<PipelineDeps, 'queue' | 'now'>,
  jobId: string,
  stepSeq: number,
  delaySec: number,
): Promise<EnqueueResult> {
  const nowMs = (deps.now?.() ?? new Date()).getTime();
  return deps.queue.enqueue(
    { jobId, stepSeq },
    { name: taskName(jobId, stepSeq), scheduleTime: delaySec > 0 ? new Date(nowMs + delaySec * 1000) : undefined },
  );
}

async function ensureNextTask(deps: PipelineDeps, job: Job, deliveredSeq: number, log: Logger): Promise<void> {
  if (isTerminal(job.status) || job.stepSeq !== deliveredSeq + 1) return;
  const nowMs = (deps.now?.() ?? new Date()).getTime();
  if (job.leaseUntil && Date.parse(job.leaseUntil) > nowMs) return;
  const delaySec = job.nextRunAt ? Math.max(0, (Date.parse(job.nextRunAt) - nowMs) / 1000) : 0;
  const { created } = await enqueueStep(deps, job.jobId, job.stepSeq, delaySec);
  if (created) log.warn({ message: 're-created a next task that was missing', nextStepSeq: job.stepSeq });
}

async function deleteQuietly(deps: PipelineDeps, name: string, log: Logger): Promise<void> {
  try {
    await deps.queue.delete(name);
  } catch (err) {
    log.warn({ message: 'could not delete a pending task', task: name, error: describeError(err) });
  }
}
