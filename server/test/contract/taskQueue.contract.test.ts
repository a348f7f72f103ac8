import { CloudTasksClient } from '@google-cloud/tasks';
import { CloudTasksQueue, ensureQueue } from '../../src/adapters/cloudTasksQueue';
import { RetryableError, PermanentError } from '../../src/domain/errors';
import { startCloudTasksEmulator, type CloudTasksEmulator } from '../../src/local/cloudTasksEmulator';
import type { TaskQueue } from '../../src/ports/taskQueue';
import { TaskTarget, sleep } from '../local/taskTarget';

/** What the contract needs from an adapter under test: the queue and a view of the worker side. */
interface Harness {
  queue: TaskQueue;
  target: TaskTarget;
  close(): Promise<void>;
}

/**
 * The TaskQueue contract: every adapter must pass it. Deliveries are observed at a local HTTP
 * target standing in for POST /worker/process-avatar.
 */
function describeTaskQueueContract(adapterName: string, makeHarness: () => Promise<Harness>): void {
  describe(`TaskQueue contract: ${adapterName}`, () => {
    let h: Harness;
    let seq = 0;
    const uniqueName = (label: string) => `${label}-${Date.now().toString(36)}-${seq++}`;

    beforeAll(async () => {
      h = await makeHarness();
    });
    afterAll(async () => {
      await h.close();
    });

    test('when a step is enqueued, the worker receives its JSON body with the Cloud Tasks headers', async () => {
      const name = uniqueName('deliver');
      const result = await h.queue.enqueue({ jobId: 'job-1', stepSeq: 3 }, { name });
      expect(result).toEqual({ created: true });

      await h.target.waitUntil(() => h.target.forTask(name).length === 1);
      const [delivery] = h.target.forTask(name);
      expect(delivery.method).toBe('POST');
      expect(delivery.path).toBe('/worker/process-avatar');
      expect(delivery.headers['content-type']).toBe('application/json');
      expect(JSON.parse(delivery.body)).toEqual({ jobId: 'job-1', stepSeq: 3 });
      expect(delivery.headers['x-cloudtasks-queuename']).toBe('contract-queue');
      expect(delivery.headers['x-cloudtasks-taskretrycount']).toBe('0');
      expect(delivery.headers['x-cloudtasks-taskexecutioncount']).toBe('0');
      expect(Number(delivery.headers['x-cloudtasks-tasketa'])).toBeGreaterThan(0);
    });

    test('when a step is scheduled for later, it is not delivered before its time', async () => {
      const name = uniqueName('later');
      const due = new Date(Date.now() + 1200);
      await h.queue.enqueue({ jobId: 'job-2', stepSeq: 1 }, { name, scheduleTime: due });

      await sleep(600);
      expect(h.target.forTask(name)).toHaveLength(0);

      await h.target.waitUntil(() => h.target.forTask(name).length === 1, 4000);
      const [delivery] = h.target.forTask(name);
      expect(delivery.at).toBeGreaterThanOrEqual(due.getTime() - 5);
      // The ETA header carries the schedule time, to the millisecond.
      expect(Number(delivery.headers['x-cloudtasks-tasketa']) * 1000).toBeCloseTo(due.getTime(), -1);
    });

    test('when the same task name is enqueued twice, the second is a no-op and the worker gets one delivery', async () => {
      const name = uniqueName('twice');
      const first = await h.queue.enqueue({ jobId: 'job-3', stepSeq: 1 }, { name, scheduleTime: new Date(Date.now() + 300) });
      const second = await h.queue.enqueue({ jobId: 'job-3', stepSeq: 1 }, { name });
      expect(first.created).toBe(true);
      expect(second.created).toBe(false);

      await h.target.waitUntil(() => h.target.forTask(name).length === 1);
      // Even after it ran, the name stays taken (Cloud Tasks keeps names for about an hour).
      const third = await h.queue.enqueue({ jobId: 'job-3', stepSeq: 1 }, { name });
      expect(third.created).toBe(false);
      await sleep(400);
      expect(h.target.forTask(name)).toHaveLength(1);
    });

    test('when a pending task is deleted, it is never delivered', async () => {
      const name = uniqueName('deleted');
      await h.queue.enqueue({ jobId: 'job-4', stepSeq: 2 }, { name, scheduleTime: new Date(Date.now() + 700) });
      await h.queue.delete(name);

      await sleep(1200);
      expect(h.target.forTask(name)).toHaveLength(0);
    });

    test('when a task that does not exist is deleted, delete still succeeds', async () => {
      await expect(h.queue.delete(uniqueName('never-existed'))).resolves.toBeUndefined();
    });

    test('when the queue is reachable, ping answers', async () => {
      await expect(h.queue.ping()).resolves.toBeUndefined();
    });
  });
}

const PARENT = { project: 'demo-project', location: 'us-central1' };

describeTaskQueueContract('CloudTasksQueue → local Cloud Tasks emulator', async () => {
  const target = await new TaskTarget().start();
  const emulator = await startCloudTasksEmulator({ dbPath: ':memory:' });
  const queue = new CloudTasksQueue({
    ...PARENT,
    queue: 'contract-queue',
    workerUrl: target.url(),
    clientOptions: emulator.endpoint,
  });
  await ensureQueue(queue, { retryConfig: { maxAttempts: 3, minBackoff: { seconds: 0, nanos: 100e6 } } });
  return {
    queue,
    target,
    async close() {
      await queue.close();
      await emulator.close();
      await target.close();
    },
  };
});

describe('CloudTasksQueue specifics', () => {
  let emulator: CloudTasksEmulator;
  let target: TaskTarget;

  beforeAll(async () => {
    target = await new TaskTarget().start();
    emulator = await startCloudTasksEmulator({ dbPath: ':memory:' });
  });
  afterAll(async () => {
    await emulator.close();
    await target.close();
  });

  test('when ensureQueue runs twice, it creates the queue and then updates only the given settings', async () => {
    const queue = new CloudTasksQueue({ ...PARENT, queue: 'ensured', workerUrl: target.url(), clientOptions: emulator.endpoint });
    try {
      const created = await ensureQueue(queue, { retryConfig: { maxAttempts: 7 }, rateLimits: { maxConcurrentDispatches: 3 } });
      expect(created.retryConfig?.maxAttempts).toBe(7);
      const updated = await ensureQueue(queue, { retryConfig: { maxAttempts: 9 } });
      expect(updated.retryConfig?.maxAttempts).toBe(9);
      expect(updated.rateLimits?.maxConcurrentDispatches).toBe(3);

      // A bare client works too, given the queue path.
      const client = new CloudTasksClient({ ...emulator.endpoint });
      const viaClient = await ensureQueue(client, { queuePath: queue.queuePath, rateLimits: { maxConcurrentDispatches: 4 } });
      expect(viaClient.rateLimits?.maxConcurrentDispatches).toBe(4);
      await client.close();
    } finally {
      await queue.close();
    }
  });

  test('when the queue does not exist, enqueue and ping fail with a permanent error', async () => {
    const queue = new CloudTasksQueue({ ...PARENT, queue: 'missing', workerUrl: target.url(), clientOptions: emulator.endpoint });
    try {
      await expect(queue.enqueue({ jobId: 'j', stepSeq: 0 }, { name: 'x-0' })).rejects.toBeInstanceOf(PermanentError);
      await expect(queue.ping()).rejects.toBeInstanceOf(PermanentError);
    } finally {
      await queue.close();
    }
  });

  test('when Cloud Tasks cannot be reached, enqueue fails with a retryable queue_unavailable error', async () => {
    const dead = await startCloudTasksEmulator({ dbPath: ':memory:' });
    const endpoint = dead.endpoint;
    await dead.close();
    const queue = new CloudTasksQueue({ ...PARENT, queue: 'q', workerUrl: target.url(), clientOptions: endpoint });
    try {
      const err = await queue.enqueue({ jobId: 'j', stepSeq: 0 }, { name: 'x-1' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RetryableError);
      expect((err as RetryableError).code).toBe('queue_unavailable');
    } finally {
      await queue.close();
    }
  });

  test('when the worker URL is not on this machine, the emulator refuses the task as a permanent error', async () => {
    const queue = new CloudTasksQueue({ ...PARENT, queue: 'remote', workerUrl: 'https://worker.example.com/worker/process-avatar', clientOptions: emulator.endpoint });
    try {
      await ensureQueue(queue, {});
      const err = await queue.enqueue({ jobId: 'j', stepSeq: 0 }, { name: 'x-2' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PermanentError);
      expect((err as Error).message).toMatch(/loopback/);
    } finally {
      await queue.close();
    }
  });
});
