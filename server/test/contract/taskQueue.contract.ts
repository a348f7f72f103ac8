import type { TaskQueue } from '../../src/ports/taskQueue';

/** A task as the worker side received it. */
export interface ReceivedTask {
  /** The task body (the JSON the worker parses). */
  body: unknown;
  /** When it arrived (ms since the epoch). */
  at: number;
  /** When the queue said it was due (ms since the epoch). */
  etaMs: number;
}

/** What the contract needs from an adapter under test: the queue and a view of the worker side. */
export interface TaskQueueHarness {
  queue: TaskQueue;
  /** What the worker side has received for the task named `name`, in order. */
  received(name: string): ReceivedTask[];
  /** Resolves once `predicate` holds; rejects after `timeoutMs` (default 5 s). */
  waitUntil(predicate: () => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The TaskQueue contract: every adapter must pass it, and so must the in-memory fake the
 * pipeline's unit tests use, so the fake cannot drift from Cloud Tasks.
 */
export function describeTaskQueueContract(adapterName: string, makeHarness: () => Promise<TaskQueueHarness>): void {
  describe(`TaskQueue contract: ${adapterName}`, () => {
    let h: TaskQueueHarness;
    let seq = 0;
    const uniqueName = (label: string) => `${label}-${Date.now().toString(36)}-${seq++}`;

    beforeAll(async () => {
      h = await makeHarness();
    });
    afterAll(async () => {
      await h.close();
    });

    test('when a step is enqueued, the worker receives its body once, due now', async () => {
      const name = uniqueName('deliver');
      const before = Date.now();
      const result = await h.queue.enqueue({ jobId: 'job-1', stepSeq: 3 }, { name });
      expect(result).toEqual({ created: true });

      await h.waitUntil(() => h.received(name).length === 1);
      const [delivery] = h.received(name);
      expect(delivery.body).toEqual({ jobId: 'job-1', stepSeq: 3 });
      expect(delivery.etaMs).toBeGreaterThan(0);
      expect(delivery.etaMs).toBeGreaterThanOrEqual(before - 1000);
      expect(delivery.etaMs).toBeLessThanOrEqual(delivery.at + 1000);
    });

    test('when a step is scheduled for later, it is not delivered before its time', async () => {
      const name = uniqueName('later');
      const due = new Date(Date.now() + 1200);
      await h.queue.enqueue({ jobId: 'job-2', stepSeq: 1 }, { name, scheduleTime: due });

      await sleep(600);
      expect(h.received(name)).toHaveLength(0);

      await h.waitUntil(() => h.received(name).length === 1, 4000);
      const [delivery] = h.received(name);
      expect(delivery.at).toBeGreaterThanOrEqual(due.getTime() - 5);
      // The ETA carries the schedule time, to the millisecond.
      expect(delivery.etaMs).toBeCloseTo(due.getTime(), -1);
    });

    test('when the same task name is enqueued twice, the second is a no-op and the worker gets one delivery', async () => {
      const name = uniqueName('twice');
      const first = await h.queue.enqueue({ jobId: 'job-3', stepSeq: 1 }, { name, scheduleTime: new Date(Date.now() + 300) });
      const second = await h.queue.enqueue({ jobId: 'job-3', stepSeq: 1 }, { name });
      expect(first.created).toBe(true);
      expect(second.created).toBe(false);

      await h.waitUntil(() => h.received(name).length === 1);
      // Even after it ran, the name stays taken (Cloud Tasks keeps names for about an hour).
      const third = await h.queue.enqueue({ jobId: 'job-3', stepSeq: 1 }, { name });
      expect(third.created).toBe(false);
      await sleep(400);
      expect(h.received(name)).toHaveLength(1);
    });

    test('when a pending task is deleted, it is never delivered, and its name stays taken', async () => {
      const name = uniqueName('deleted');
      await h.queue.enqueue({ jobId: 'job-4', stepSeq: 2 }, { name, scheduleTime: new Date(Date.now() + 700) });
      await h.queue.delete(name);

      await sleep(1200);
      expect(h.received(name)).toHaveLength(0);
      expect(await h.queue.enqueue({ jobId: 'job-4', stepSeq: 2 }, { name })).toEqual({ created: false });
    });

    test('when a task that does not exist is deleted, delete still succeeds', async () => {
      await expect(h.queue.delete(uniqueName('never-existed'))).resolves.toBeUndefined();
    });

    test('when the queue is reachable, ping answers', async () => {
      await expect(h.queue.ping()).resolves.toBeUndefined();
    });
  });
}
