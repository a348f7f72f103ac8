import type { EnqueueOptions, EnqueueResult, TaskQueue, WorkerTask } from '../../src/ports/taskQueue';

/** One task the queue accepted. */
export interface QueuedTask {
  name: string;
  task: WorkerTask;
  /** When it is due; the enqueue time when none was given (Cloud Tasks runs it at once). */
  dueAt: Date;
  /** Whether enqueue was given a scheduleTime. */
  scheduled: boolean;
  state: 'pending' | 'dispatched' | 'deleted';
}

/**
 * TaskQueue in memory, for tests of the pipeline without Cloud Tasks. Named tasks behave as
 * Cloud Tasks names them: a name that is pending, or that ran or was deleted within the last
 * hour, is refused by Cloud Tasks (ALREADY_EXISTS), which the real adapter reports as
 * `{created: false}`; so does this one. Nothing is delivered by itself: a test takes the due
 * tasks with {@link takeDue} and hands them to the worker code, so it decides when time passes.
 * It passes the TaskQueue contract suite (server/test/contract/memoryTaskQueue.contract.test.ts).
 */
export class MemoryTaskQueue implements TaskQueue {
  /** Every task accepted, in the order of creation. */
  readonly tasks: QueuedTask[] = [];
  /** Failures to answer the next enqueue calls with, in order (a queue outage). */
  readonly enqueueFailures: Error[] = [];
  private readonly now: () => Date;
  private readonly nameReservedMs: number;
  /** When each used name becomes free again (pending names are taken regardless). */
  private readonly releasedAt = new Map<string, number>();
  private closed = false;

  constructor(options: { now?: () => Date; nameReservedMs?: number } = {}) {
    this.now = options.now ?? (() => new Date());
    this.nameReservedMs = options.nameReservedMs ?? 3_600_000;
  }

  async enqueue(task: WorkerTask, options: EnqueueOptions): Promise<EnqueueResult> {
    const failure = this.enqueueFailures.shift();
    if (failure) throw failure;
    const nowMs = this.now().getTime();
    if (this.pendingNamed(options.name) || (this.releasedAt.get(options.name) ?? -Infinity) > nowMs) return { created: false };
    this.tasks.push({
      name: options.name,
      task: structuredClone(task),
      dueAt: options.scheduleTime ? new Date(options.scheduleTime) : new Date(nowMs),
      scheduled: options.scheduleTime !== undefined,
      state: 'pending',
    });
    return { created: true };
  }

  async delete(name: string): Promise<void> {
    const task = this.pendingNamed(name);
    if (!task) return;
    task.state = 'deleted';
    this.releasedAt.set(name, this.now().getTime() + this.nameReservedMs);
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error('the queue is closed');
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Tasks not yet delivered or deleted, soonest first. */
  pending(): QueuedTask[] {
    return this.tasks.filter((t) => t.state === 'pending').sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime());
  }

  /** Hands out the pending tasks due at `at` (default: now), soonest first, as a dispatch would. */
  takeDue(at: Date = this.now()): QueuedTask[] {
    const due = this.pending().filter((t) => t.dueAt.getTime() <= at.getTime());
    for (const task of due) {
      task.state = 'dispatched';
      this.releasedAt.set(task.name, at.getTime() + this.nameReservedMs);
    }
    return due;
  }

  private pendingNamed(name: string): QueuedTask | undefined {
    return this.tasks.find((t) => t.name === name && t.state === 'pending');
  }
}
