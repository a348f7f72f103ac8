import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/logger';
import { makeTestAudio, makeTestImage } from '../support/media';
import { listFiles, startTestStack, upload, type TestStack } from '../support/stack';

// Uploads that cannot hurt the service: limits that hold under a burst, bodies that are not
// read past what a valid upload can need, slow clients that cannot hold a socket for ever, and
// nothing left behind by a refused, abandoned or crashed upload.

let media: string;
let image: string;
let audio: string;

beforeAll(async () => {
  media = await mkdtemp(path.join(os.tmpdir(), 'upload-guards-'));
  [image, audio] = await Promise.all([
    makeTestImage(media, { format: 'jpeg', name: 'face' }),
    makeTestAudio(media, { format: 'wav', seconds: 1, name: 'voice' }),
  ]);
});

afterAll(async () => {
  await rm(media, { recursive: true, force: true });
});

/** Every folder under `dir`, relative to it. */
async function listDirs(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
  } catch {
    return [];
  }
}

async function jobsOf(stack: TestStack, user: string): Promise<{ jobId: string; status: string }[]> {
  const res = await fetch(`${stack.baseUrl}/jobs?limit=100`, { headers: { 'X-User-Id': user } });
  return ((await res.json()) as { jobs: { jobId: string; status: string }[] }).jobs;
}

async function eventually(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const BOUNDARY = '----guard-test';
const multipartHead = (user: string, extra: Record<string, string> = {}): string =>
  [
    'POST /generate-with-tasks HTTP/1.1',
    'Host: 127.0.0.1',
    `X-User-Id: ${user}`,
    `Content-Type: multipart/form-data; boundary=${BOUNDARY}`,
    ...Object.entries(extra).map(([k, v]) => `${k}: ${v}`),
    '',
    '',
  ].join('\r\n');
const imagePartHead = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`;
const JPEG_START = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00]);

interface RawOutcome {
  /** Everything the server sent. */
  response: string;
  /** Bytes the server took from us before the connection ended. */
  bytesWritten: number;
  /** Milliseconds from connecting to the connection's end. */
  closedAfterMs: number;
}

/**
 * A raw TCP client: sends `head`, then calls `feed` to send the body its own way, and records
 * what came back and how many bytes the server accepted before it ended the connection.
 */
function rawExchange(
  baseUrl: string,
  head: string,
  feed: (socket: net.Socket, closed: () => boolean) => Promise<void>,
  timeoutMs = 20000,
): Promise<RawOutcome> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(Number(url.port), url.hostname);
    let response = '';
    let ended = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for ${timeoutMs} ms; got: ${response.slice(0, 200)}`));
    }, timeoutMs);
    const finish = (): void => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      resolve({ response, bytesWritten: socket.bytesWritten, closedAfterMs: Date.now() - started });
    };
    socket.on('data', (d) => (response += d.toString('latin1')));
    socket.on('error', () => finish());
    socket.on('close', () => finish());
    socket.on('connect', () => {
      socket.write(head);
      feed(socket, () => ended || socket.destroyed).catch(() => undefined);
    });
  });
}

const statusOf = (raw: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
const bodyOf = (raw: string): any => JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));

describe('the per-user limit holds under a burst', () => {
  let stack: TestStack;

  beforeAll(async () => {
    // The local render takes long enough that no accepted job finishes during the burst.
    stack = await startTestStack({ env: { MAX_ACTIVE_JOBS_PER_USER: '5', LOCAL_RENDER_LATENCY_MS: '60000' } });
  });

  afterAll(async () => {
    await stack.close();
  });

  test('100 simultaneous uploads from one user with a limit of 5 create exactly 5 jobs, answer 429 to the rest and leave no files behind', async () => {
    const user = { 'X-User-Id': 'burst-user' };
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) => upload(stack.baseUrl, { image, audio, instructorName: `burst ${i}` }, user)),
    );
    const accepted = answers.filter((a) => a.status === 202).map((a) => a.body.jobId as string);
    const refused = answers.filter((a) => a.status === 429);
    expect(accepted).toHaveLength(5);
    expect(refused).toHaveLength(95);
    for (const r of refused) {
      expect(r.body).toEqual({ success: false, error: { code: 'too_many_active_jobs', message: expect.stringMatching(/limit is 5/) } });
    }

    expect((await jobsOf(stack, 'burst-user')).map((j) => j.jobId).sort()).toEqual([...accepted].sort());
    // Only the accepted jobs' uploads exist: no file and no folder of a refused one.
    const uploads = path.join(stack.dataDir, 'blobs', 'uploads');
    expect(await listDirs(uploads)).toEqual([...accepted].sort());
    // Each accepted job holds its photo and its recording (and, once its first step ran, the
    // photo prepared from the upload, which lives with the uploads, or that photo's `.part` files,
    // data and sidecar, while it is being written).
    const prepared = /^prepared\.jpg(\.meta\.json)?(\.[0-9a-f-]+\.part)?$/;
    const files = (await listFiles(uploads)).filter((f) => !f.endsWith('.meta.json') && !prepared.test(path.basename(f)));
    expect(files.map((f) => path.dirname(f)).sort()).toEqual([...accepted, ...accepted].sort());
  });
});

describe('bodies are not read past what a valid upload can need', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack({ env: { MAX_ACTIVE_JOBS_PER_USER: '100' } });
  });

  afterAll(async () => {
    await stack.close();
  });

  test('a declared Content-Length over the sum of the limits is a 413 before a byte of the body is read', async () => {
    const declared = 2 * 1024 * 1024 * 1024;
    const outcome = await rawExchange(stack.baseUrl, multipartHead('huge-declared', { 'Content-Length': String(declared) }), async () => {
      // Send no body at all: the answer must come from the headers alone.
    });
    expect(statusOf(outcome.response)).toBe(413);
    expect(outcome.response).toMatch(/\r\nconnection: close\r\n/i);
    expect(bodyOf(outcome.response)).toEqual({ success: false, error: { code: 'upload_too_large', message: expect.stringMatching(/2048 MB.*40\.1 MB/) } });
    expect(outcome.closedAfterMs).toBeLessThan(5000);
    expect(await jobsOf(stack, 'huge-declared')).toEqual([]);
  });

  test('a streamed body whose image passes its limit is cut off early: 413, and the server stops reading long before the end', async () => {
    const total = 400 * 1024 * 1024;
    const chunk = Buffer.alloc(256 * 1024, 0x41);
    const outcome = await rawExchange(
      stack.baseUrl,
      multipartHead('streamer', { 'Transfer-Encoding': 'chunked' }),
      async (socket, closed) => {
        const send = (data: Buffer): Promise<boolean> =>
          new Promise((resolve) => {
            if (closed()) return resolve(false);
            socket.write(`${data.length.toString(16)}\r\n`);
            socket.write(data);
            if (socket.write('\r\n')) return resolve(true);
            const onDrain = (): void => {
              socket.off('close', onClose);
              resolve(true);
            };
            const onClose = (): void => {
              socket.off('drain', onDrain);
              resolve(false);
            };
            socket.once('drain', onDrain);
            socket.once('close', onClose);
          });
        await send(Buffer.concat([Buffer.from(imagePartHead), JPEG_START]));
        for (let sent = 0; sent < total && !closed(); sent += chunk.length) {
          if (!(await send(chunk))) break;
        }
      },
      60000,
    );
    expect(statusOf(outcome.response)).toBe(413);
    expect(bodyOf(outcome.response).error.code).toBe('file_too_large');
    // The server reads at most the largest valid body (40 MB and a little) plus what the
    // sockets buffer; a server that read to the end would take all 400 MB.
    expect(outcome.bytesWritten).toBeLessThan(64 * 1024 * 1024);
    await eventually(async () => (await listDirs(path.join(stack.dataDir, 'blobs', 'uploads'))).length === 0);
    expect(await listFiles(path.join(stack.dataDir, 'blobs'))).toEqual([]);
  });

  test('a refused upload of an ordinary size gets its JSON answer, not a reset', async () => {
    const renamed = path.join(media, 'voice-as-image.jpg');
    await writeFile(renamed, await (await import('node:fs/promises')).readFile(audio));
    const res = await upload(stack.baseUrl, { image: renamed, audio, instructorName: 'Kim' }, { 'X-User-Id': 'ordinary' });
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('unsupported_media_type');
    expect(await listDirs(path.join(stack.dataDir, 'blobs', 'uploads'))).toEqual([]);
  });
});

describe('slow clients cannot hold a socket for ever', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack({
      // The render latency keeps the watched job running for longer than the test watches it.
      env: { HEADERS_TIMEOUT: '1', REQUEST_TIMEOUT: '3', UPLOAD_IDLE_TIMEOUT: '0.7', MAX_ACTIVE_JOBS_PER_USER: '100', LOCAL_RENDER_LATENCY_MS: '30000' },
      overrides: { heartbeatMs: 300 },
    });
  });

  afterAll(async () => {
    await stack.close();
  });

  test('a client trickling its headers a byte at a time is answered 408 and closed after HEADERS_TIMEOUT', async () => {
    const head = multipartHead('trickle-headers', { 'Content-Length': '100' });
    const outcome = await rawExchange(stack.baseUrl, '', async (socket, closed) => {
      for (const byte of head) {
        if (closed()) return;
        socket.write(byte);
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    expect(statusOf(outcome.response)).toBe(408);
    expect(bodyOf(outcome.response).error.code).toBe('request_timeout');
    expect(outcome.closedAfterMs).toBeGreaterThanOrEqual(900);
    expect(outcome.closedAfterMs).toBeLessThan(3000);
  });

  test('an upload that stops sending is answered 408 after UPLOAD_IDLE_TIMEOUT, and its partial file and folder are removed', async () => {
    const outcome = await rawExchange(stack.baseUrl, multipartHead('idle-upload', { 'Content-Length': String(5 * 1024 * 1024) }), async (socket) => {
      socket.write(imagePartHead);
      socket.write(Buffer.concat([JPEG_START, Buffer.alloc(300 * 1024)]));
      // …and then nothing more.
    });
    expect(statusOf(outcome.response)).toBe(408);
    expect(bodyOf(outcome.response).error).toEqual({ code: 'upload_timeout', message: expect.stringMatching(/No upload data/) });
    expect(outcome.closedAfterMs).toBeLessThan(2500);
    await eventually(async () => (await listDirs(path.join(stack.dataDir, 'blobs', 'uploads'))).length === 0);
    expect(await listFiles(path.join(stack.dataDir, 'blobs'))).toEqual([]);
    expect(await jobsOf(stack, 'idle-upload')).toEqual([]);
  });

  test('an upload trickling just fast enough to stay under the idle timeout is stopped at REQUEST_TIMEOUT', async () => {
    const outcome = await rawExchange(stack.baseUrl, multipartHead('trickle-body', { 'Content-Length': String(5 * 1024 * 1024) }), async (socket, closed) => {
      socket.write(imagePartHead);
      socket.write(JPEG_START);
      while (!closed()) {
        socket.write(Buffer.alloc(16));
        await new Promise((r) => setTimeout(r, 200));
      }
    });
    expect(statusOf(outcome.response)).toBe(408);
    expect(outcome.closedAfterMs).toBeGreaterThanOrEqual(2900);
    expect(outcome.closedAfterMs).toBeLessThan(8000);
    await eventually(async () => (await listDirs(path.join(stack.dataDir, 'blobs', 'uploads'))).length === 0);
  });

  test('an event stream outlives REQUEST_TIMEOUT: only receiving the request is timed', async () => {
    const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Kim' }, { 'X-User-Id': 'watcher' });
    expect(res.status).toBe(202);
    const started = Date.now();
    const controller = new AbortController();
    const received: string[] = [];
    const heartbeatsAtMs: number[] = [];
    const reading = fetch(`${stack.baseUrl}/jobs/${res.body.jobId}/events`, { headers: { 'X-User-Id': 'watcher' }, signal: controller.signal }).then(
      async (r) => {
        const reader = r.body!.getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const chunk = Buffer.from(value).toString();
          received.push(chunk);
          for (const _ of chunk.match(/: heartbeat/g) ?? []) heartbeatsAtMs.push(Date.now() - started);
        }
      },
    );
    const outcome = await Promise.race([reading.then(() => 'closed' as const), new Promise((r) => setTimeout(() => r('open'), 4500))]);
    controller.abort();
    await reading.catch(() => undefined);
    const text = received.join('');
    expect(outcome).toBe('open');
    expect(Date.now() - started).toBeGreaterThanOrEqual(4500);
    // Heartbeats (every 300 ms) kept arriving after the 3 s request timeout. Counted loosely:
    // a busy machine may fire the interval late, and missed ticks are not made up.
    expect(heartbeatsAtMs.filter((ms) => ms > 3500).length).toBeGreaterThanOrEqual(1);
    expect(heartbeatsAtMs.length).toBeGreaterThanOrEqual(5);
    expect(text).toMatch(/event: job/);
  });
});

describe('an aborted upload is the client\'s doing, not a server error', () => {
  test("it is logged at info as 'client aborted the upload', with no error line and no stack", async () => {
    const lines: any[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const stack = await startTestStack({ env: { MAX_ACTIVE_JOBS_PER_USER: '100' }, logger: createLogger({ level: 'info', destination: sink }) });
    try {
      await rawExchange(stack.baseUrl, multipartHead('leaver', { 'Content-Length': String(20 * 1024 * 1024) }), async (socket) => {
        socket.write(imagePartHead);
        socket.write(Buffer.concat([JPEG_START, Buffer.alloc(1024 * 1024)]));
        await new Promise((r) => setTimeout(r, 300));
        socket.destroy();
      });
      await eventually(async () => lines.some((l) => l.message === 'client aborted the upload'));
      await eventually(async () => (await listDirs(path.join(stack.dataDir, 'blobs', 'uploads'))).length === 0);
      const aborted = lines.find((l) => l.message === 'client aborted the upload');
      expect(aborted.severity).toBe('INFO');
      expect(lines.filter((l) => l.severity === 'ERROR' || l.severity === 'CRITICAL')).toEqual([]);
      expect(lines.some((l) => 'stack' in l)).toBe(false);
    } finally {
      await stack.close();
    }
  });
});

describe('nothing is left behind', () => {
  test('partial files of writes cut short by a crash, and the folders they leave empty, are removed at start-up', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'crash-leftovers-'));
    const blobs = path.join(dataDir, 'blobs');
    await mkdir(path.join(blobs, 'uploads', 'crashed-job'), { recursive: true });
    await writeFile(path.join(blobs, 'uploads', 'crashed-job', 'image.jpg.0b1c.part'), Buffer.alloc(1024));
    await mkdir(path.join(blobs, 'uploads', 'kept-job'), { recursive: true });
    await writeFile(path.join(blobs, 'uploads', 'kept-job', 'image.jpg'), Buffer.alloc(10));
    await mkdir(path.join(blobs, 'videos'), { recursive: true });
    await writeFile(path.join(blobs, 'videos', 'v.mp4.77aa.part'), Buffer.alloc(10));
    const longAgo = new Date(Date.now() - 3600_000);
    for (const p of ['uploads/crashed-job', 'uploads/crashed-job/image.jpg.0b1c.part', 'videos/v.mp4.77aa.part']) await utimes(path.join(blobs, p), longAgo, longAgo);

    const stack = await startTestStack({ dataDir });
    try {
      expect(await listFiles(blobs)).toEqual(['uploads/kept-job/image.jpg']);
      expect(await listDirs(blobs)).toEqual(['uploads', 'uploads/kept-job', 'videos']);
    } finally {
      await stack.close();
    }
  });

  test('a job refused with 503 because its first task could not be created is not in the list and leaves no upload', async () => {
    const stack = await startTestStack({ env: { MAX_ACTIVE_JOBS_PER_USER: '1' } });
    try {
      // The queue goes away: creating the first task fails.
      await stack.service.emulator!.close();
      const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Kim' }, { 'X-User-Id': 'unlucky' });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('queue_unavailable');
      expect(await jobsOf(stack, 'unlucky')).toEqual([]);
      expect(await listDirs(path.join(stack.dataDir, 'blobs', 'uploads'))).toEqual([]);
      expect(await listFiles(path.join(stack.dataDir, 'blobs'))).toEqual([]);
      // …and it does not hold the user's only place: the next try is not refused with 429.
      const again = await upload(stack.baseUrl, { image, audio, instructorName: 'Kim' }, { 'X-User-Id': 'unlucky' });
      expect(again.status).toBe(503);
    } finally {
      await stack.close();
    }
  }, 60000);
});
