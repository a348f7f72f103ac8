import path from 'node:path';
import type { Logger } from 'pino';
import { RetryableError, PermanentError, ConflictError, GoneError, activeJobLimitReached, describeError } from '../domain/errors';
import type { BlobStore } from '../ports/blobStore';
import { isTerminal, type Job, type JobInput } from '../domain/job';
import type { JobStore } from '../ports/jobStore';
import type { TaskQueue } from '../ports/taskQueue';
import { failJob, newJob, requestCancel, taskName } from './decisions';
import { uploadKey } from '../domain/blobKeys';
import { enqueueStep } from './runner';

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

/**
 * Rule 7: marks the job for cancelling and sends an immediate task so the worker notices now
 * instead of at the next scheduled poll. The worker deletes the pending task and sets
 * `cancelled`.
 */
export async function cancelJobRequest(deps: JobsDeps, job: Job): Promise<Job> {
  const now = (deps.now?.() ?? new Date()).toISOString();
  const result = await deps.store.update(job.jobId, (current) => requestCancel(current, now));
  const current = result.job ?? job;
  if (!result.changed) {
    if (current.cancelRequested && !isTerminal(current.status)) {
      return current; // already requested: asking twice is fine
    }
    throw new ConflictError('job_finished', `The job is already ${current.status}`);
  }
  await deps.queue.enqueue(
    { jobId: current.jobId, stepSeq: current.stepSeq },
    { name: taskName(current.jobId, current.stepSeq, 'cancel') },
  );
  deps.logger.info({ message: 'cancel requested', jobId: job.jobId });
  return current;
}

/**
 * A new job from a failed or cancelled job's photo and recording. The uploads are copied to the
 * new job's own keys, so whatever later happens to the old job's files (retention, deletion)
 * cannot break the new one. The per-user limit applies as for any new job. Any failure removes
 * the copies made so far: a refused retry leaves nothing behind.
 */
export async function retryJob(deps: JobsDeps, blobs: BlobStore, job: Job, newJobId: string): Promise<Job> {
  if (job.status === 'completed') throw new ConflictError('job_completed', 'The job is completed; there is nothing to retry');
  if (!isTerminal(job.status)) {
    throw new ConflictError('job_running', `The job is still ${job.status}; cancel it or wait for it to finish before retrying`);
  }
  await checkActiveLimit(deps, job.ownerUid);
  const sources = [
    { field: 'image' as const, key: job.input.imagePath },
    { field: 'audio' as const, key: job.input.audioPath },
  ];
  const infos = await Promise.all(sources.map((s) => blobs.stat(s.key)));
  if (infos.some((info) => !info)) {
    throw new GoneError('uploads_gone', 'The photo or the recording of this job is no longer kept; send them again');
  }
  const copied: string[] = [];
  const keys: Record<'image' | 'audio', string> = { image: '', audio: '' };
  try {
    for (const [i, source] of sources.entries()) {
      const ext = path.extname(source.key).slice(1) || 'bin';
      const key = uploadKey(newJobId, source.field, ext);
      copied.push(key);
      const stream = await blobs.openRead(source.key);
      await blobs.putStream(key, stream, { contentType: infos[i]!.contentType ?? undefined, sha256: false });
      keys[source.field] = key;
    }
    return await createJob(deps, {
      jobId: newJobId,
      ownerUid: job.ownerUid,
      input: { ...job.input, imagePath: keys.image, audioPath: keys.audio },
    });
  } catch (err) {
    await Promise.all(copied.map((key) => blobs.delete(key).catch(() => undefined)));
    if (err instanceof PermanentError && err.code === 'not_found') {
      throw new GoneError('uploads_gone', 'The photo or the recording of this job is no longer kept; send them again');
    }
    throw err;
  }
}
