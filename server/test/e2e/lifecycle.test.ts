import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startFcmStandIn, type FcmStandIn } from '../../standins/fcmStandIn';
import { FcmNotifier } from '../../src/adapters/fcmNotifier';
import { makeTestAudio, makeTestImage } from '../support/media';
import { getJob, listFiles, startTestStack, upload, waitForJob, type TestStack } from '../support/stack';
import { taskName } from '../../src/pipeline/decisions';

// A job's life after its last step, on the real local stack: the signed webhook and the push
// are their own Cloud Tasks, retried by the emulator; delete and the retention sweep leave
// nothing behind.

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
let media: string;
let image: string;
let audio: string;

beforeAll(async () => {
  media = await mkdtemp(path.join(os.tmpdir(), 'lifecycle-media-'));
  image = await makeTestImage(media, { format: 'jpeg', name: 'face' });
  audio = await makeTestAudio(media, { format: 'wav', seconds: 1, name: 'voice' });
});
afterAll(async () => {
  await rm(media, { recursive: true, force: true });
});

/** Verifies a Standard Webhooks delivery the way a receiver would, from the spec alone. */
function verifySignature(secret: string, headers: http.IncomingHttpHeaders, body: string): boolean {
  const id = String(headers['webhook-id']);
  const timestamp = Number(headers['webhook-timestamp']);
  if (!Number.isInteger(timestamp) || Math.abs(Date.now() / 1000 - timestamp) > 300) return false;
  const key = Buffer.from(secret.split('_')[1]!, 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return String(headers['webhook-signature'])
    .split(' ')
    .some((sig) => sig === `v1,${expected}`);
}

interface Receiver {
  url: string;
  requests: { headers: http.IncomingHttpHeaders; body: string; status: number }[];
  close(): Promise<void>;
}

/** A webhook receiver on loopback that answers 503 to its first `downFor` requests. */
async function startReceiver(downFor: number): Promise<Receiver> {
  const requests: Receiver['requests'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = requests.length < downFor ? 503 : 200;
      requests.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/avatar`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function until(predicate: () => boolean | Promise<boolean>, ms = 20000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('when a job ends, the user is told', () => {
  let stack: TestStack;
  let fcm: FcmStandIn;
  beforeAll(async () => {
    fcm = await startFcmStandIn();
    stack = await startTestStack({
      env: { WEBHOOK_SECRET: SECRET, TASK_MAX_ATTEMPTS: '5', RETENTION_SWEEP_INTERVAL: '0' },
      overrides: { notifier: new FcmNotifier({ projectId: 'demo-project', baseUrl: fcm.url, getAccessToken: async () => 'token-1' }) },
    });
  });
  afterAll(async () => {
    await stack.close();
    await fcm.close();
  });

  test('a webhook receiver down for the first two attempts still gets exactly one valid signed delivery', async () => {
    const receiver = await startReceiver(2);
    try {
      const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Kim', extra: { callbackUrl: receiver.url } });
      expect(res.status).toBe(202);
      const job = await waitForJob(stack.baseUrl, res.body.jobId);
      expect(job.status).toBe('completed');
      await until(() => receiver.requests.length >= 3);
      await new Promise((r) => setTimeout(r, 1500)); // room for a wrong extra delivery
      expect(receiver.requests.map((r) => r.status)).toEqual([503, 503, 200]);
      const accepted = receiver.requests[2]!;
      expect(verifySignature(SECRET, accepted.headers, accepted.body)).toBe(true);
      expect(verifySignature(`whsec_${randomBytes(32).toString('base64')}`, accepted.headers, accepted.body)).toBe(false);
      // One event: the same webhook-id on every attempt, so a receiver can drop duplicates.
      expect(new Set(receiver.requests.map((r) => r.headers['webhook-id'])).size).toBe(1);
      const payload = JSON.parse(accepted.body);
      expect(payload).toMatchObject({ type: 'job.completed', data: { jobId: job.jobId, status: 'completed', input: { instructorName: 'Kim' } } });
    } finally {
      await receiver.close();
    }
  });

  test('push: both devices are notified with the instructor and a link; a token FCM calls unregistered is forgotten', async () => {
    const user = 'push-user';
    const good = `good-${randomBytes(24).toString('hex')}`;
    const gone = `gone-${randomBytes(24).toString('hex')}`;
    fcm.unregistered.add(gone);
    for (const [token, platform] of [[good, 'android'], [gone, 'ios']]) {
      const reg = await fetch(`${stack.baseUrl}/devices`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': user },
        body: JSON.stringify({ token, platform }),
      });
      expect(reg.status).toBe(204);
    }
    expect((await stack.service.devices.listByOwner(user)).map((d) => d.token).sort()).toEqual([gone, good].sort());
    fcm.failNext = 1; // FCM is down at first: the push task is retried, the job is not held up

    const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Ada Lovelace' }, { 'x-user-id': user });
    const job = await waitForJob(stack.baseUrl, res.body.jobId, undefined, 30000, { 'x-user-id': user });
    expect(job.status).toBe('completed');

    await until(() => fcm.sent.some((s) => s.message.token === good));
    const toGood = fcm.sent.find((s) => s.message.token === good)!;
    expect(toGood.project).toBe('demo-project');
    expect(toGood.authorization).toBe('Bearer token-1');
    expect(toGood.message.notification.title).toBe('Your video is ready');
    expect(toGood.message.notification.body).toContain('Ada Lovelace');
    expect(toGood.message.data).toMatchObject({ jobId: job.jobId, link: `/jobs/${job.jobId}`, status: 'completed' });
    await until(async () => (await stack.service.devices.listByOwner(user)).length === 1);
    expect((await stack.service.devices.listByOwner(user)).map((d) => d.token)).toEqual([good]);
  });

  test('POST /devices refuses a body that is not a token and a platform, with a JSON 400', async () => {
    const res = await fetch(`${stack.baseUrl}/devices`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: 'x', platform: 'android' }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ success: false, error: { code: 'bad_device' } });
  });

  test('the finished job says until when its video can be downloaded, and when the document goes', async () => {
    const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Kim' });
    await waitForJob(stack.baseUrl, res.body.jobId);
    let job = await getJob(stack.baseUrl, res.body.jobId);
    await until(async () => Boolean((job = await getJob(stack.baseUrl, res.body.jobId)).expireAt));
    const ended = Date.parse(job.completedAt!);
    expect(Date.parse(job.result!.expiresAt!) - ended).toBe(30 * 24 * 3600 * 1000);
    expect(Date.parse(job.expireAt!) - ended).toBe(90 * 24 * 3600 * 1000);
  });
});

describe('callback URLs are checked at upload (no server-side request forgery)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({
      // Renders never finish during these tests: an accepted public URL is never called (no
      // network beyond loopback in tests).
      env: { WEBHOOK_SECRET: SECRET, RETENTION_SWEEP_INTERVAL: '0', LOCAL_RENDER_LATENCY_MS: '600000' },
      overrides: {
        // The cloud's policy on the local stack; a name that resolves inside the network.
        callbackPolicy: { allowLoopbackAndHttp: false },
        resolveHost: async (host) =>
          host === 'hooks.internal.example.com' ? [{ address: '10.1.2.3', family: 4 }] : [{ address: '93.184.215.14', family: 4 }],
      },
    });
  });
  afterAll(async () => stack.close());

  test.each([
    ['a loopback address, in cloud mode', 'https://127.0.0.1/hook'],
    ['a host name that resolves to 10.x', 'https://hooks.internal.example.com/hook'],
    ['the metadata server (link-local)', 'https://169.254.169.254/computeMetadata/v1/'],
    ['plain http, in cloud mode', 'http://hooks.example.com/hook'],
    ['an IPv4-mapped IPv6 private address', 'https://[::ffff:10.0.0.1]/hook'],
  ])('%s is refused with 400 and leaves no job and no file', async (_name, callbackUrl) => {
    const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Kim', extra: { callbackUrl } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ success: false, error: { code: 'bad_callback_url' } });
    expect(await listFiles(path.join(stack.dataDir, 'blobs'))).toEqual([]);
    const list = (await (await fetch(`${stack.baseUrl}/jobs`)).json()) as { jobs: unknown[] };
    expect(list.jobs).toEqual([]);
  });

  test('a public https callback URL is accepted', async () => {
    const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Kim', extra: { callbackUrl: 'https://hooks.example.com/avatar' } });
    expect(res.body).toMatchObject({ success: true });
    expect(res.status).toBe(202);
    expect((await getJob(stack.baseUrl, res.body.jobId)).input.callbackUrl).toBe('https://hooks.example.com/avatar');
  });
});

describe('delete and retention', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({
      // Uploads are due about 8.6 s after the job ends; videos and documents much later.
      env: { LOCAL_RENDER_LATENCY_MS: '4000', UPLOAD_RETENTION_DAYS: '0.0001', RETENTION_SWEEP_INTERVAL: '0' },
    });
  });
  afterAll(async () => stack.close());

  async function pendingTasks(): Promise<string[]> {
    const [tasks] = await stack.service.queue.client.listTasks({ parent: stack.service.queue.queuePath });
    return tasks.map((t) => String(t.name));
  }

  test("deleting a running job cancels it and leaves no file and no task behind; another user's delete is a 404", async () => {
    const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Kim' });
    const jobId = res.body.jobId as string;
    await waitForJob(stack.baseUrl, jobId, (j) => j.progress.currentStep === 'video.poll');
    expect((await listFiles(path.join(stack.dataDir, 'blobs'))).some((f) => f.includes(jobId))).toBe(true);
    expect(await listFiles(path.join(stack.dataDir, 'render', 'videos'))).not.toEqual([]);

    const other = await fetch(`${stack.baseUrl}/jobs/${jobId}`, { method: 'DELETE', headers: { 'x-user-id': 'someone-else' } });
    expect(other.status).toBe(404);
    expect((await getJob(stack.baseUrl, jobId)).status).toBe('processing');

    const del = await fetch(`${stack.baseUrl}/jobs/${jobId}`, { method: 'DELETE' });
    expect(del.status).toBe(204);
    expect((await fetch(`${stack.baseUrl}/jobs/${jobId}`)).status).toBe(404);
    expect((await fetch(`${stack.baseUrl}/jobs/${jobId}`, { method: 'DELETE' })).status).toBe(404);
    expect(await pendingTasks()).toEqual([]);
    expect((await listFiles(path.join(stack.dataDir, 'blobs'))).filter((f) => f.includes(jobId))).toEqual([]);
    // The provider's copies (the local renderer's avatar, record and video) are gone too.
    expect(await listFiles(path.join(stack.dataDir, 'render', 'videos'))).toEqual([]);
    expect(await listFiles(path.join(stack.dataDir, 'render', 'avatars'))).toEqual([]);
    // Still nothing after any in-flight step would have finished.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await listFiles(path.join(stack.dataDir, 'blobs'))).filter((f) => f.includes(jobId))).toEqual([]);
    expect(await pendingTasks()).toEqual([]);
  });

  test("deleting a job whose step waits in a sweep rescue task and a provider retry task leaves neither behind", async () => {
    const queuePath = stack.service.queue.queuePath;
    await stack.service.queue.client.pauseQueue({ name: queuePath });
    try {
      const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Kim' });
      const jobId = res.body.jobId as string;
      // As if the sweep had rescued the step twice and the provider had failed it three times:
      // the counters on the job and the tasks named after them.
      const now = new Date().toISOString();
      const job = (await stack.service.store.update(jobId, (j) => ({
        ...j,
        rescues: 2,
        retry: { step: 'avatar.create', since: now, count: 3, lastError: { code: 'provider_unavailable', message: 'down' }, nextAt: now },
      }))).job!;
      const later = new Date(Date.now() + 600_000);
      for (const suffix of ['r2', 'p3']) {
        await stack.service.queue.enqueue({ jobId, stepSeq: job.stepSeq }, { name: taskName(jobId, job.stepSeq, suffix), scheduleTime: later });
      }
      const mine = (await pendingTasks()).filter((n) => n.includes(taskName(jobId, job.stepSeq)));
      expect(mine).toHaveLength(3);

      expect((await fetch(`${stack.baseUrl}/jobs/${jobId}`, { method: 'DELETE' })).status).toBe(204);
      expect(await pendingTasks()).toEqual([]);
    } finally {
      await stack.service.queue.client.resumeQueue({ name: queuePath });
    }
  });

  test('an expired upload is gone after the sweep; the video stays until its own retention', async () => {
    const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Kim' });
    const job = await waitForJob(stack.baseUrl, res.body.jobId);
    expect(job.status).toBe('completed');
    const blobsDir = path.join(stack.dataDir, 'blobs');
    const mine = async () => (await listFiles(blobsDir)).filter((f) => f.includes(job.jobId) && !f.endsWith('.meta.json')).sort();
    // The photo, the recording, the photo prepared from it, the video.
    expect(await mine()).toHaveLength(4);

    // Uploads are kept 0.0001 days (8.64 s) after the job ends: long enough for this check to
    // come first on a busy machine.
    expect((await stack.service.sweepRetention()).uploads).toBe(0); // not due yet
    expect(await mine()).toHaveLength(4);
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(job.completedAt!) + 9000 - Date.now())));
    expect(await stack.service.sweepRetention()).toEqual({ uploads: 3, videos: 0, jobs: 0 });
    expect(await mine()).toEqual([path.join('videos', `${job.jobId}.mp4`)]);
    // videoUrl is absolute (the server's public URL); resolved against the stack either way.
    expect((await fetch(new URL(job.result!.videoUrl, stack.baseUrl))).status).toBe(200);
  });
});
