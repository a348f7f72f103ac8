import type { Logger } from 'pino';
import { RetryableError, activeJobLimitReached, describeError } from '../domain/errors';
import type { Job, JobInput } from '../domain/job';
import type { JobStore } from '../ports/jobStore';
import type { TaskQueue } from '../ports/taskQueue';
import { failJob, newJob } from './decisions';
import { enqueueStep } from './enqueueStep';

export interface JobsDeps {
  store: JobStore;
  queue: TaskQueue;
  providerName: string;
  logger: Logger;
  maxActiveJobsPerUser: number;
  now?: () => Date;
}

/**
 * Refuses early, before any byte of an upload is stored, when the owner already has the
 * maximum number of jobs running. Only a courtesy: the limit itself is enforced when the job
 * is stored ({@link createJob}), because a burst of uploads all pass this check together.
 */
export async function checkActiveLimit(deps: Pick<JobsDeps, 'store' | 'maxActiveJobsPerUser'>, ownerUid: string): Promise<void> {
  const active = await deps.store.countActiveByOwner(ownerUid);
  if (active >= deps.maxActiveJobsPerUser) throw activeJobLimitReached(active, deps.maxActiveJobsPerUser);
}

/**
 * Stores the job within the owner's active-job limit (one store transaction: a burst cannot
 * pass it), then creates its first task and waits for it (STYLE rule 7): the caller answers
 * 202 only when both exist. If the enqueue fails, the job is deleted (it never started, and
 * must neither show in the owner's list nor count against the limit) and a RetryableError
 * tells the client to try again; the caller removes the uploads.
 */
export async function createJob(deps: JobsDeps, args: { jobId: string; ownerUid: string; input: JobInput }): Promise<Job> {
  const now = (deps.now?.() ?? new Date()).toISOString();
  const job = newJob({ ...args, providerName: deps.providerName, now });
  await deps.store.createWithinLimit(job, deps.maxActiveJobsPerUser);
  try {
    await enqueueStep(deps, job.jobId, 0, 0);
  } catch (err) {
    const { message } = describeError(err);
    deps.logger.error({ message: 'could not enqueue the first task; job removed', jobId: job.jobId, error: message });
    // Should the task exist after all (an answer lost after the create), its delivery finds no
    // job and does nothing. If even the delete fails, fail the job so nothing ever runs it.
    await deps.store.delete(job.jobId).catch(async (deleteErr: unknown) => {
      deps.logger.error({ message: 'could not remove the job; marking it failed', jobId: job.jobId, error: describeError(deleteErr).message });
      await deps.store.update(job.jobId, (current) =>
        failJob(current, { code: 'queue_unavailable', message: 'The job could not be scheduled; please try again' }, now),
      );
    });
    throw new RetryableError('queue_unavailable', 'The job queue is not available; please try again shortly', {
      cause: err,
      retryAfterSec: 5,
    });
  }
  deps.logger.info({ message: 'job created', jobId: job.jobId, ownerUid: job.ownerUid });
  return job;
}
