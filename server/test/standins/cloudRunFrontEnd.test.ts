/**
 * The Cloud Run front-end stand-in on its own, between a caller and a recording target: what
 * it refuses (401, 403, 413), what it cuts (504 at the service timeout, the container running
 * on), and what the container receives (the token without its signature, X-CloudTasks-*).
 */
import http from 'node:http';
import { OidcSigner } from '../../src/cloudTasksEmulator';
import { SIGNATURE_REMOVED_BY_GOOGLE, startCloudRunFrontEnd, type CloudRunFrontEnd } from '../../standins/cloudRunFrontEnd';
import { TaskTarget, sleep } from '../support/taskTarget';

const INVOKER = 'avatar-tasks@demo-avatar.iam.gserviceaccount.com';
const signer = new OidcSigner();
let target: TaskTarget;
let frontEnd: CloudRunFrontEnd;

beforeAll(async () => {
  target = await new TaskTarget().start();
  frontEnd = await startCloudRunFrontEnd({
    target: () => `http://127.0.0.1:${target.port}`,
    certs: () => signer.publicCerts(),
    invokers: [INVOKER],
    timeoutMs: 400,
  });
});
afterAll(async () => {
  await frontEnd?.close();
  await target?.close();
});

const path = '/worker/process-avatar';
const post = (headers: Record<string, string>, body = '{}') =>
  fetch(`${frontEnd.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

test('a task from an invoker passes: the container gets the token with SIGNATURE_REMOVED_BY_GOOGLE and the X-CloudTasks headers', async () => {
  const token = signer.sign(INVOKER, `${frontEnd.url}${path}`);
  const before = target.deliveries.length;
  const res = await post({ ...bearer(token), 'x-cloudtasks-taskname': 'abc-0', 'x-cloudtasks-taskretrycount': '2' });
  expect(res.status).toBe(200);
  const delivery = target.deliveries[before]!;
  const [header, payload] = token.split('.');
  expect(delivery.headers.authorization).toBe(`Bearer ${header}.${payload}.${SIGNATURE_REMOVED_BY_GOOGLE}`);
  expect(delivery.headers['x-cloudtasks-taskname']).toBe('abc-0');
  expect(delivery.headers['x-cloudtasks-taskretrycount']).toBe('2');
  expect(delivery.headers['x-forwarded-proto']).toBe('https');
});

test('the service URL is a valid audience with or without a path; the token may come in X-Serverless-Authorization', async () => {
  const before = target.deliveries.length;
  const res = await post({ authorization: 'Bearer callers-own', 'x-serverless-authorization': `Bearer ${signer.sign(INVOKER, frontEnd.url)}` });
  expect(res.status).toBe(200);
  const delivery = target.deliveries[before]!;
  expect(delivery.headers['x-serverless-authorization']).toMatch(new RegExp(`\\.${SIGNATURE_REMOVED_BY_GOOGLE}$`));
  expect(delivery.headers.authorization).toBe('Bearer callers-own');
});

test('no token, or a valid token of an account without run.invoker, is 403 from the front end: the container never sees it', async () => {
  const before = target.deliveries.length;
  expect((await post({})).status).toBe(403);
  const stranger = await post(bearer(signer.sign('someone@other.iam.gserviceaccount.com', `${frontEnd.url}${path}`)));
  expect(stranger.status).toBe(403);
  expect(await stranger.text()).toMatch(/does not have permission/);
  expect(target.deliveries.length).toBe(before);
});

test('a token signed by another key, for another service, or expired, is 401 from the front end', async () => {
  const before = target.deliveries.length;
  expect((await post(bearer(new OidcSigner().sign(INVOKER, `${frontEnd.url}${path}`)))).status).toBe(401);
  expect((await post(bearer(signer.sign(INVOKER, 'https://another-service.a.run.app')))).status).toBe(401);
  expect((await post(bearer(signer.sign(INVOKER, frontEnd.url, Date.now() - 2 * 3600_000)))).status).toBe(401);
  expect((await post(bearer('not-a-jwt'))).status).toBe(401);
  expect(target.deliveries.length).toBe(before);
});

test('an HTTP/1 request over 32 MiB is 413 from the front end, declared or chunked', async () => {
  const frontEnd = await startCloudRunFrontEnd({ target: `http://127.0.0.1:${target.port}`, certs: () => signer.publicCerts(), invokers: [INVOKER] });
  try {
  const before = target.deliveries.length;
  const token = signer.sign(INVOKER, `${frontEnd.url}${path}`);
  const declared = await new Promise<number>((resolve, reject) => {
    const req = http.request(`${frontEnd.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-length': String(33 * 1024 * 1024) },
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.write(Buffer.alloc(1024)); // the rest never comes: the answer does not wait for it
  });
  expect(declared).toBe(413);

  const chunked = await new Promise<number>((resolve) => {
    const req = http.request(`${frontEnd.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => undefined);
    const mib = Buffer.alloc(1024 * 1024);
    let sent = 0;
    const write = (): void => {
      while (sent < 33) {
        sent += 1;
        if (!req.write(mib)) {
          req.once('drain', write);
          return;
        }
      }
      req.end();
    };
    write();
  });
  expect(chunked).toBe(413);
  // The chunked one reached the container before it grew too large, and was cut there.
  await sleep(100);
  expect(target.deliveries.slice(before).every((d) => d.body.length <= 32 * 1024 * 1024)).toBe(true);
  } finally {
    await frontEnd.close();
  }
});

test('a request past the service timeout is cut with 504 while the container keeps running to its own answer', async () => {
  target.answer = () => ({ status: 200, delayMs: 900 });
  try {
    const before = target.deliveries.length;
    const started = Date.now();
    const res = await post(bearer(signer.sign(INVOKER, `${frontEnd.url}${path}`)));
    expect(res.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(900);
    const record = frontEnd.requests.at(-1)!;
    expect(record).toMatchObject({ status: 504, forwarded: true });
    await target.waitUntil(() => record.containerStatus !== undefined, 3000);
    expect(record.containerStatus).toBe(200);
    expect(target.deliveries[before]!.abortedAt).toBeUndefined();
  } finally {
    target.answer = () => ({ status: 200 });
  }
});
