import type { Job } from '../domain/job';
import { isTerminal } from '../domain/job';
import { ConflictError } from '../domain/errors';
import type { JobsDeps } from './createJob';
import { requestCancel, taskName } from './decisions';

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
