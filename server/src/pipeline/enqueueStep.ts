import type { EnqueueResult, TaskQueue } from '../ports/taskQueue';
import { taskName } from './decisions';

/** Creates the task for `stepSeq`; an existing task of that name counts as success (rule 2). */
export async function enqueueStep(
  deps: { queue: TaskQueue; now?: () => Date },
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
