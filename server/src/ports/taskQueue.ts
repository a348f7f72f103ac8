/**
 * TaskQueue: schedules the next pipeline step as an HTTP task aimed at the worker. The body is
 * only `{jobId, stepSeq}`: the job document holds everything else (Cloud Tasks caps a task at
 * 100 KB).
 */

export interface StepTask {
  jobId: string;
  stepSeq: number;
}

/**
 * Telling the user that a job ended: one task per channel, so a slow or failing push service
 * or webhook receiver is retried by the queue and never delays or fails the job itself.
 */
export interface NotifyTask {
  kind: 'notify';
  channel: 'push' | 'webhook';
  jobId: string;
}

/** Every body the worker route accepts. */
export type WorkerTask = StepTask | NotifyTask;

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
  enqueue(task: WorkerTask, options: EnqueueOptions): Promise<EnqueueResult>;
  /** Deletes a pending task by its short name. A task that is gone already is not an error. */
  delete(name: string): Promise<void>;
  /** Answers when the queue is reachable; throws otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
