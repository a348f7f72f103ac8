import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CloudTasksClient } from '@google-cloud/tasks';
import { OAuth2Client } from 'google-auth-library';
import { startCloudTasksEmulator, type CloudTasksEmulator } from '../../src/cloudTasksEmulator';
import { TaskTarget, sleep } from '../support/taskTarget';

const PARENT = 'projects/demo/locations/local';
const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;
const ALREADY_EXISTS = 6;

describe('Cloud Tasks emulator: API', () => {
  let emulator: CloudTasksEmulator;
  let client: CloudTasksClient;
  let target: TaskTarget;
  const queue = `${PARENT}/queues/api`;

  beforeAll(async () => {
    emulator = await startCloudTasksEmulator({ dbPath: ':memory:', tombstoneMs: 400 });
    client = new CloudTasksClient({ ...emulator.endpoint });
    target = await new TaskTarget().start();
    await client.createQueue({ parent: PARENT, queue: { name: queue } });
  });
  afterAll(async () => {
    await client.close();
    await emulator.close();
    await target.close();
  });

  const later = () => ({ seconds: Math.floor(Date.now() / 1000) + 600 });

  test('when a task targets a host off this machine, it is refused with INVALID_ARGUMENT; loopback forms are accepted', async () => {
    for (const url of ['https://example.com/x', 'http://10.0.0.1/x', 'http://[::2]/x', 'http://127.0.0.1.example.com/x']) {
      await expect(client.createTask({ parent: queue, task: { httpRequest: { url } } })).rejects.toMatchObject({ code: INVALID_ARGUMENT });
    }
    for (const url of ['http://localhost:1/x', 'http://[::1]:1/x', 'http://127.1.2.3:1/x']) {
      const [task] = await client.createTask({ parent: queue, task: { httpRequest: { url }, scheduleTime: later() } });
      await client.deleteTask({ name: task.name });
    }
  });

  test('when requests are malformed or point at nothing, the codes match the real API', async () => {
    await expect(client.createTask({ parent: 'queues/nope', task: { httpRequest: { url: target.url() } } })).rejects.toMatchObject({ code: INVALID_ARGUMENT });
    await expect(client.createTask({ parent: `${PARENT}/queues/absent`, task: { httpRequest: { url: target.url() } } })).rejects.toMatchObject({ code: NOT_FOUND });
    await expect(client.createTask({ parent: queue, task: { name: `${queue}/tasks/bad name!`, httpRequest: { url: target.url() } } })).rejects.toMatchObject({ code: INVALID_ARGUMENT });
    await expect(client.createTask({ parent: queue, task: { name: `${PARENT}/queues/other/tasks/t1`, httpRequest: { url: target.url() } } })).rejects.toMatchObject({ code: INVALID_ARGUMENT });
    await expect(client.createTask({ parent: queue, task: { httpRequest: { url: target.url(), httpMethod: 'GET', body: Buffer.from('x') } } })).rejects.toMatchObject({ code: INVALID_ARGUMENT });
    // Without the test option, the real 15 s minimum applies.
    await expect(client.createTask({ parent: queue, task: { httpRequest: { url: target.url() }, dispatchDeadline: { seconds: 5 } } })).rejects.toMatchObject({ code: INVALID_ARGUMENT });
    await expect(client.getTask({ name: `${queue}/tasks/missing` })).rejects.toMatchObject({ code: NOT_FOUND });
    await expect(client.deleteTask({ name: `${queue}/tasks/missing` })).rejects.toMatchObject({ code: NOT_FOUND });
    await expect(client.getQueue({ name: `${PARENT}/queues/absent` })).rejects.toMatchObject({ code: NOT_FOUND });
    await expect(client.createQueue({ parent: PARENT, queue: { name: queue } })).rejects.toMatchObject({ code: ALREADY_EXISTS });
  });

  test('when a task name was used recently, it stays taken until the tombstone window ends', async () => {
    const name = `${queue}/tasks/reused`;
    await client.createTask({ parent: queue, task: { name, httpRequest: { url: target.url() }, scheduleTime: later() } });
    await client.deleteTask({ name });
    await expect(client.createTask({ parent: queue, task: { name, httpRequest: { url: target.url() } , scheduleTime: later() } })).rejects.toMatchObject({ code: ALREADY_EXISTS });

    await sleep(500); // tombstoneMs is 400 in this suite
    const [again] = await client.createTask({ parent: queue, task: { name, httpRequest: { url: target.url() }, scheduleTime: later() } });
    expect(again.name).toBe(name);
    await client.deleteTask({ name });
  });

  test('when tasks are read, BASIC leaves the body out and FULL includes it; ListTasks pages', async () => {
    const q = `${PARENT}/queues/listing`;
    await client.createQueue({ parent: PARENT, queue: { name: q } });
    for (let i = 0; i < 3; i++) {
      await client.createTask({ parent: q, task: { name: `${q}/tasks/l${i}`, httpRequest: { url: target.url(), body: Buffer.from(`body-${i}`) }, scheduleTime: later() } });
    }
    const [basic] = await client.getTask({ name: `${q}/tasks/l0` });
    expect(basic.httpRequest?.body?.length ?? 0).toBe(0);
    const [full] = await client.getTask({ name: `${q}/tasks/l0`, responseView: 'FULL' });
    expect(Buffer.from(full.httpRequest!.body as Uint8Array).toString()).toBe('body-0');

    const [firstPage, , response] = await client.listTasks({ parent: q, pageSize: 2 }, { autoPaginate: false });
    expect(firstPage).toHaveLength(2);
    expect(response?.nextPageToken).toBeTruthy();
    const [all] = await client.listTasks({ parent: q });
    expect(all.map((t) => t.name!.split('/').pop()).sort()).toEqual(['l0', 'l1', 'l2']);

    const [purged] = await client.purgeQueue({ name: q });
    expect(purged.purgeTime).toBeTruthy();
    const [afterPurge] = await client.listTasks({ parent: q });
    expect(afterPurge).toHaveLength(0);
  });

  test('when UpdateQueue has a mask, only the masked fields change; without the queue it creates it', async () => {
    const q = `${PARENT}/queues/masked`;
    await client.createQueue({
      parent: PARENT,
      queue: { name: q, rateLimits: { maxDispatchesPerSecond: 10 }, retryConfig: { maxAttempts: 5, minBackoff: { seconds: 2 } } },
    });
    const [updated] = await client.updateQueue({
      queue: { name: q, rateLimits: { maxDispatchesPerSecond: 99 }, retryConfig: { maxAttempts: 2, minBackoff: { seconds: 1 } } },
      updateMask: { paths: ['retry_config.max_attempts'] },
    });
    expect(updated.retryConfig?.maxAttempts).toBe(2);
    expect(Number(updated.retryConfig?.minBackoff?.seconds)).toBe(2);
    expect(updated.rateLimits?.maxDispatchesPerSecond).toBe(10);

    const [camel] = await client.updateQueue({ queue: { name: q, rateLimits: { maxDispatchesPerSecond: 20 } }, updateMask: { paths: ['rateLimits.maxDispatchesPerSecond'] } });
    expect(camel.rateLimits?.maxDispatchesPerSecond).toBe(20);
    expect(camel.retryConfig?.maxAttempts).toBe(2);

    await expect(client.updateQueue({ queue: { name: q }, updateMask: { paths: ['retry_config.nonsense'] } })).rejects.toMatchObject({ code: INVALID_ARGUMENT });

    const [fresh] = await client.updateQueue({ queue: { name: `${PARENT}/queues/upserted`, retryConfig: { maxAttempts: 4 } }, updateMask: { paths: ['retry_config.max_attempts'] } });
    expect(fresh.retryConfig?.maxAttempts).toBe(4);
    const [queues] = await client.listQueues({ parent: PARENT });
    expect(queues.map((x) => x.name)).toEqual(expect.arrayContaining([q, `${PARENT}/queues/upserted`]));
  });

  test('when a task carries an oidcToken, the worker gets a Bearer JWT that google-auth-library verifies with publicCerts()', async () => {
    const email = 'tasks-invoker@demo.iam.gserviceaccount.com';
    const audience = 'https://worker.example.run.app';
    await client.createTask({
      parent: queue,
      task: { name: `${queue}/tasks/oidc-aud`, httpRequest: { url: target.url(), oidcToken: { serviceAccountEmail: email, audience } } },
    });
    await client.createTask({
      parent: queue,
      task: { name: `${queue}/tasks/oidc-url`, httpRequest: { url: target.url('/worker/process-avatar'), oidcToken: { serviceAccountEmail: email } } },
    });
    await target.waitUntil(() => target.forTask('oidc-aud').length === 1 && target.forTask('oidc-url').length === 1);

    const verifier = new OAuth2Client();
    const jwtOf = (id: string) => String(target.forTask(id)[0].headers.authorization).replace(/^Bearer /, '');
    const ticket = await verifier.verifySignedJwtWithCertsAsync(jwtOf('oidc-aud'), emulator.publicCerts(), audience, ['https://accounts.google.com']);
    const payload = ticket.getPayload()!;
    expect(payload.email).toBe(email);
    expect(payload.email_verified).toBe(true);
    expect(payload.aud).toBe(audience);
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(payload.sub).toBeTruthy();

    // Without an audience, Cloud Tasks uses the task URL.
    const byUrl = await verifier.verifySignedJwtWithCertsAsync(jwtOf('oidc-url'), emulator.publicCerts(), target.url('/worker/process-avatar'), ['https://accounts.google.com']);
    expect(byUrl.getPayload()!.aud).toBe(target.url('/worker/process-avatar'));
    // And a wrong audience is rejected.
    await expect(verifier.verifySignedJwtWithCertsAsync(jwtOf('oidc-aud'), emulator.publicCerts(), 'https://someone-else', ['https://accounts.google.com'])).rejects.toThrow();
  });
});

describe('Cloud Tasks emulator: persistence', () => {
  let dir: string;
  let target: TaskTarget;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-emulator-'));
    target = await new TaskTarget().start();
  });
  afterAll(async () => {
    await target.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('when the emulator restarts on the same SQLite file, pending tasks and queues survive and are dispatched', async () => {
    const dbPath = path.join(dir, 'tasks.sqlite');
    const queue = `${PARENT}/queues/durable`;
    const first = await startCloudTasksEmulator({ dbPath });
    const firstClient = new CloudTasksClient({ ...first.endpoint });
    await firstClient.createQueue({ parent: PARENT, queue: { name: queue, retryConfig: { maxAttempts: 7 } } });
    const due = Date.now() + 700;
    await firstClient.createTask({
      parent: queue,
      task: { name: `${queue}/tasks/survivor`, httpRequest: { url: target.url(), body: Buffer.from('{"jobId":"j","stepSeq":1}') }, scheduleTime: { seconds: Math.floor(due / 1000), nanos: (due % 1000) * 1e6 } },
    });
    await firstClient.close();
    await first.close();
    expect(target.forTask('survivor')).toHaveLength(0);

    const second = await startCloudTasksEmulator({ dbPath });
    const secondClient = new CloudTasksClient({ ...second.endpoint });
    try {
      const [q] = await secondClient.getQueue({ name: queue });
      expect(q.retryConfig?.maxAttempts).toBe(7);
      await target.waitUntil(() => target.forTask('survivor').length === 1, 4000);
      const [delivery] = target.forTask('survivor');
      expect(delivery.at).toBeGreaterThanOrEqual(due - 5);
      expect(delivery.body).toBe('{"jobId":"j","stepSeq":1}');
    } finally {
      await secondClient.close();
      await second.close();
    }
  });
});
