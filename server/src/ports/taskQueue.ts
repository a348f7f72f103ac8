/**
 * TaskQueue: schedules the next pipeline step as an HTTP task aimed at the worker. The body is
 * only `{jobId, stepSeq}`: the job document holds everything else (Cloud Tasks caps a task at
 * 100 KB).
 */

export interface StepTask {
  jobId: string;
  stepSeq: number;
}

export interface EnqueueOptions {
  /**
   * Short, deterministic task id (`<hash(jobId)>-<stepSeq>`); the adapter makes it a full
   * resource name. Creating a name that exists is de-duplicated, not an error.
   */
  name: string;
  /** When the task should run; absent means now. */
  scheduleTime?: Date;
}

export interface EnqueueResult {
  /** False when a task of that name already existed (ALREADY_EXISTS): still a success. */
  created: boolean;
}

export interface TaskQueue {
  enqueue(task: StepTask, options: EnqueueOptions): Promise<EnqueueResult>;
  /** Deletes a pending task by its short name. A task that is gone already is not an error. */
  delete(name: string): Promise<void>;
  /** Answers when the queue is reachable; throws otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
