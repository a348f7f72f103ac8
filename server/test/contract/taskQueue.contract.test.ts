import { CloudTasksClient } from '@google-cloud/tasks';
import { CloudTasksQueue, ensureQueue } from '../../src/adapters/cloudTasksQueue';
import { RetryableError, PermanentError } from '../../src/domain/errors';
import { startCloudTasksEmulator, type CloudTasksEmulator } from '../../src/cloudTasksEmulator';
import { TaskTarget, type Delivery } from '../support/taskTarget';
import { describeTaskQueueContract, type ReceivedTask } from './taskQueue.contract';

const PARENT = { project: 'demo-project', location: 'us-central1' };

/** An HTTP delivery as the contract sees it: the body, and the ETA from X-CloudTasks-TaskETA. */
function receivedTask(delivery: Delivery): ReceivedTask {
  return { body: JSON.parse(delivery.body), at: delivery.at, etaMs: Number(delivery.headers['x-cloudtasks-tasketa']) * 1000 };
}

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
    received: (name) => target.forTask(name).map(receivedTask),
    waitUntil: (predicate, timeoutMs) => target.waitUntil(predicate, timeoutMs),
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

  test('when a step is enqueued, the worker receives it as a JSON POST with the Cloud Tasks headers', async () => {
    const queue = new CloudTasksQueue({ ...PARENT, queue: 'contract-queue', workerUrl: target.url(), clientOptions: emulator.endpoint });
    try {
      await ensureQueue(queue, {});
      await queue.enqueue({ jobId: 'job-1', stepSeq: 3 }, { name: 'headers-1' });
      await target.waitUntil(() => target.forTask('headers-1').length === 1);
      const [delivery] = target.forTask('headers-1');
      expect(delivery.method).toBe('POST');
      expect(delivery.path).toBe('/worker/process-avatar');
      expect(delivery.headers['content-type']).toBe('application/json');
      expect(JSON.parse(delivery.body)).toEqual({ jobId: 'job-1', stepSeq: 3 });
      expect(delivery.headers['x-cloudtasks-queuename']).toBe('contract-queue');
      expect(delivery.headers['x-cloudtasks-taskretrycount']).toBe('0');
      expect(delivery.headers['x-cloudtasks-taskexecutioncount']).toBe('0');
      expect(Number(delivery.headers['x-cloudtasks-tasketa'])).toBeGreaterThan(0);
    } finally {
      await queue.close();
    }
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
