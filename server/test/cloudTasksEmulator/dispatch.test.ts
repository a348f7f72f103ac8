import { CloudTasksClient, protos } from '@google-cloud/tasks';
import { startCloudTasksEmulator, type CloudTasksEmulator } from '../../src/cloudTasksEmulator';
import { TaskTarget, sleep } from '../support/taskTarget';

type IQueue = protos.google.cloud.tasks.v2.IQueue;

const PARENT = 'projects/demo/locations/local';
const ms = (n: number) => ({ seconds: Math.floor(n / 1000), nanos: (n % 1000) * 1e6 });

describe('Cloud Tasks emulator: dispatch', () => {
  let emulator: CloudTasksEmulator;
  let client: CloudTasksClient;
  let target: TaskTarget;
  let n = 0;

  beforeAll(async () => {
    emulator = await startCloudTasksEmulator({ dbPath: ':memory:', minDispatchDeadlineMs: 100 });
    client = new CloudTasksClient({ ...emulator.endpoint });
    target = await new TaskTarget().start();
  });
  afterAll(async () => {
    await client.close();
    await emulator.close();
    await target.close();
  });
  beforeEach(() => {
    target.answer = () => ({ status: 200 });
  });

  async function makeQueue(settings: Omit<IQueue, 'name'>): Promise<string> {
    const name = `${PARENT}/queues/q${n++}`;
    await client.createQueue({ parent: PARENT, queue: { name, ...settings } });
    return name;
  }

  async function addTask(queue: string, id: string, extra: protos.google.cloud.tasks.v2.ITask = {}): Promise<void> {
    await client.createTask({
      parent: queue,
      task: { name: `${queue}/tasks/${id}`, httpRequest: { url: target.url(`/t/${id}`), httpMethod: 'POST', body: Buffer.from(id) }, ...extra },
    });
  }

  test('when the worker keeps answering 500, the task is retried with growing backoff up to maxAttempts, then deleted', async () => {
    const queue = await makeQueue({ retryConfig: { maxAttempts: 4, minBackoff: ms(100), maxBackoff: ms(5000), maxDoublings: 5 } });
    target.answer = () => ({ status: 500 });
    await addTask(queue, 'always-500');

    await target.waitUntil(() => target.forTask('always-500').length === 4);
    await sleep(900); // longer than the next backoff would be (800 ms)
    const attempts = target.forTask('always-500');
    expect(attempts).toHaveLength(4);
    const gaps = attempts.slice(1).map((d, i) => d.at - attempts[i].at);
    // 100, 200, 400 ms: doubling from minBackoff.
    expect(gaps[0]).toBeGreaterThanOrEqual(90);
    expect(gaps[1]).toBeGreaterThanOrEqual(190);
    expect(gaps[2]).toBeGreaterThanOrEqual(390);
    // Growing, not constant: the third wait (400 ms) is longer than the first (100 ms). Compared
    // across two steps, so that one stall of the machine in the first wait does not undo it.
    expect(gaps[2]).toBeGreaterThan(gaps[0]);
    // Every dispatch counts as a retry; a 5xx answer is not an execution (Cloud Tasks docs).
    expect(attempts.map((d) => d.headers['x-cloudtasks-taskretrycount'])).toEqual(['0', '1', '2', '3']);
    expect(attempts.map((d) => d.headers['x-cloudtasks-taskexecutioncount'])).toEqual(['0', '0', '0', '0']);
    await expect(client.getTask({ name: `${queue}/tasks/always-500` })).rejects.toMatchObject({ code: 5 });
  });

  test('when maxRetryDuration is set, retries go on past maxAttempts until that much time has passed', async () => {
    const queue = await makeQueue({ retryConfig: { maxAttempts: 2, minBackoff: ms(100), maxBackoff: ms(100), maxRetryDuration: ms(600) } });
    target.answer = () => ({ status: 500 });
    await addTask(queue, 'long-retry');

    await target.waitUntil(() => target.forTask('long-retry').length >= 5, 3000);
    await sleep(500);
    const attempts = target.forTask('long-retry');
    // Both limits must be reached: 2 attempts AND 600 ms since the first one. The check runs
    // when an attempt fails, so the last attempt starts within one backoff (100 ms) of the limit.
    expect(attempts.length).toBeGreaterThanOrEqual(5);
    expect(attempts.length).toBeLessThanOrEqual(8);
    expect(attempts[attempts.length - 1].at - attempts[0].at).toBeGreaterThanOrEqual(480);
    await expect(client.getTask({ name: `${queue}/tasks/long-retry` })).rejects.toMatchObject({ code: 5 });
  });

  test('when the worker answers 4xx and then 200, the execution count follows the answered attempts and the task is done', async () => {
    const queue = await makeQueue({ retryConfig: { maxAttempts: 5, minBackoff: ms(50), maxBackoff: ms(50) } });
    let calls = 0;
    target.answer = (d) => (d.headers['x-cloudtasks-taskname'] === 'two-404s' && ++calls <= 2 ? { status: 404 } : { status: 200 });
    await addTask(queue, 'two-404s');

    await target.waitUntil(() => target.forTask('two-404s').length === 3);
    await sleep(200);
    const attempts = target.forTask('two-404s');
    expect(attempts).toHaveLength(3);
    expect(attempts.map((d) => d.headers['x-cloudtasks-taskretrycount'])).toEqual(['0', '1', '2']);
    expect(attempts.map((d) => d.headers['x-cloudtasks-taskexecutioncount'])).toEqual(['0', '1', '2']);
    expect(attempts[1].headers['x-cloudtasks-taskpreviousresponse']).toBe('404');
    await expect(client.getTask({ name: `${queue}/tasks/two-404s` })).rejects.toMatchObject({ code: 5 });
  });

  test('when the worker is slower than the dispatch deadline, the request is aborted and counts as a failed attempt', async () => {
    const queue = await makeQueue({ retryConfig: { maxAttempts: 3, minBackoff: ms(50), maxBackoff: ms(50) } });
    let calls = 0;
    target.answer = (d) => (d.headers['x-cloudtasks-taskname'] === 'slow' && ++calls === 1 ? { status: 200, delayMs: 2000 } : { status: 200 });
    await addTask(queue, 'slow', { dispatchDeadline: ms(300) });

    await target.waitUntil(() => target.forTask('slow').length === 2, 3000);
    const [first, second] = target.forTask('slow');
    expect(first.abortedAt).toBeDefined();
    const cutAfter = first.abortedAt! - first.at;
    expect(cutAfter).toBeGreaterThanOrEqual(280);
    expect(cutAfter).toBeLessThan(1000);
    // The timed-out attempt got no response: a retry, not an execution.
    expect(second.headers['x-cloudtasks-taskretrycount']).toBe('1');
    expect(second.headers['x-cloudtasks-taskexecutioncount']).toBe('0');
  });

  test('when the worker answers 503 with Retry-After, the retry waits that long; a 500 with Retry-After uses the queue backoff', async () => {
    const queue = await makeQueue({ retryConfig: { maxAttempts: 3, minBackoff: ms(50), maxBackoff: ms(100) } });
    const seen = new Map<string, number>();
    target.answer = (d) => {
      const id = String(d.headers['x-cloudtasks-taskname']);
      const count = (seen.get(id) ?? 0) + 1;
      seen.set(id, count);
      if (count > 1) return { status: 200 };
      return { status: id === 'busy-503' ? 503 : 500, headers: { 'Retry-After': '1' } };
    };
    await addTask(queue, 'busy-503');
    await addTask(queue, 'plain-500');

    await target.waitUntil(() => target.forTask('busy-503').length === 2 && target.forTask('plain-500').length === 2, 4000);
    const [a1, a2] = target.forTask('busy-503');
    const [b1, b2] = target.forTask('plain-500');
    expect(a2.at - a1.at).toBeGreaterThanOrEqual(980);
    expect(b2.at - b1.at).toBeLessThan(500);
  });

  test('when maxConcurrentDispatches is 2, the worker never sees more than 2 requests at once', async () => {
    const queue = await makeQueue({ rateLimits: { maxConcurrentDispatches: 2 } });
    target.maxInFlight = 0;
    target.answer = () => ({ status: 200, delayMs: 150 });
    for (let i = 0; i < 6; i++) await addTask(queue, `conc-${i}`);

    await target.waitUntil(() => [0, 1, 2, 3, 4, 5].every((i) => target.forTask(`conc-${i}`).length === 1), 4000);
    await target.waitUntil(() => target.inFlight === 0);
    expect(target.maxInFlight).toBe(2);
  });

  test('when maxDispatchesPerSecond is 5 with a burst of 1, six tasks are spread over about a second', async () => {
    const queue = await makeQueue({ rateLimits: { maxDispatchesPerSecond: 5, maxBurstSize: 1 } });
    for (let i = 0; i < 6; i++) await addTask(queue, `rate-${i}`);

    await target.waitUntil(() => [0, 1, 2, 3, 4, 5].every((i) => target.forTask(`rate-${i}`).length === 1), 5000);
    const times = [0, 1, 2, 3, 4, 5].map((i) => target.forTask(`rate-${i}`)[0].at).sort((x, y) => x - y);
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    // 200 ms per token; a dispatch the timer made late may leave the next gap shorter, so the
    // figure that holds on a busy machine is the total below (five tokens: about a second).
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(100);
    expect(times[5] - times[0]).toBeGreaterThanOrEqual(900);
    expect(times[5] - times[0]).toBeLessThan(2500);
  });

  test('when a queue is paused, nothing is dispatched until it is resumed', async () => {
    const queue = await makeQueue({});
    await client.pauseQueue({ name: queue });
    await addTask(queue, 'paused');
    await sleep(400);
    expect(target.forTask('paused')).toHaveLength(0);

    const [resumed] = await client.resumeQueue({ name: queue });
    expect(resumed.state).toBe('RUNNING');
    await target.waitUntil(() => target.forTask('paused').length === 1);
  });

  test('when close is called during a slow dispatch, it returns within a second', async () => {
    const own = await startCloudTasksEmulator({ dbPath: ':memory:' });
    const ownClient = new CloudTasksClient({ ...own.endpoint });
    const queue = `${PARENT}/queues/closing`;
    await ownClient.createQueue({ parent: PARENT, queue: { name: queue } });
    target.answer = () => ({ status: 200, delayMs: 5000 });
    await ownClient.createTask({ parent: queue, task: { name: `${queue}/tasks/hang`, httpRequest: { url: target.url() } } });
    await target.waitUntil(() => target.forTask('hang').length === 1);
    await ownClient.close();

    const started = Date.now();
    await own.close();
    expect(Date.now() - started).toBeLessThan(1000);
    await target.waitUntil(() => target.forTask('hang')[0].abortedAt !== undefined, 1000);
  });
});
