import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { makeTestAudio, makeTestImage } from '../support/media';
import { startTestStack, upload, type TestStack } from '../support/stack';

// The local stack forced into the cloud's watch mode (WATCH=cloud): the CLI must follow a job by
// polling GET /jobs/:id with If-None-Match, never by holding an event stream open. A recording
// proxy between the CLI and the service shows every request and its status.

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BIN = path.join(ROOT, (JSON.parse(require('node:fs').readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin['avatar-video']!);

interface Seen {
  method: string;
  path: string;
  status: number;
  ifNoneMatch: boolean;
}

async function recordingProxy(target: string): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const upstream = new URL(target);
  const server = http.createServer((req, res) => {
    const out = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        seen.push({ method: req.method!, path: req.url!, status: answer.statusCode!, ifNoneMatch: req.headers['if-none-match'] !== undefined });
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AVATAR_TOKEN: '', AVATAR_API_URL: '', LC_ALL: '', LC_MESSAGES: '', LANG: 'C.UTF-8' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

let work: string;
let image: string;
let audio: string;
let stack: TestStack;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'cli-cloud-watch-'));
  [image, audio, stack] = await Promise.all([
    makeTestImage(work, { format: 'png', name: 'face' }),
    makeTestAudio(work, { format: 'mp3', seconds: 2, name: 'voice' }),
    // Latency keeps the job running across several polls.
    // The worker checks the render every 3 s and the CLI polls every second: between two checks
    // the job does not change, so some of the CLI's polls must be answered 304.
    startTestStack({ env: { WATCH: 'cloud', WATCH_POLL_INTERVAL: '1', LOCAL_RENDER_LATENCY_MS: '4000', POLL_SCHEDULE: '3', POLL_MAX_INTERVAL: '3' } }),
  ]);
});

afterAll(async () => {
  await stack?.close();
  await rm(work, { recursive: true, force: true });
});

describe('following a job where watching must not hold a request open', () => {
  test('GET /config tells the CLI to poll every WATCH_POLL_INTERVAL seconds; the page has no Firestore config, so it streams', async () => {
    const res = await fetch(`${stack.baseUrl}/config`);
    expect(res.status).toBe(200);
    // Besides how to watch, the upload rules and the steps (server/test/http/clientConfig.test.ts).
    expect(await res.json()).toEqual({ success: true, watch: { browser: 'sse', cli: 'poll', pollIntervalSec: 1 }, upload: expect.any(Object), steps: expect.any(Array) });
  });

  test('generate polls GET /jobs/:id with If-None-Match (304s while nothing changes), opens no event stream, and saves the video', async () => {
    const proxy = await recordingProxy(stack.baseUrl);
    try {
      const out = path.join(work, 'polled.mp4');
      const { code, stderr } = await cli(['--image', image, '--audio', audio, '--name', 'Polled', '--out', out, '--server', proxy.url]);
      expect({ code, stderr }).toMatchObject({ code: 0 });
      expect(stderr).toMatch(/^Completed in /m); // polls see fewer of the steps than a stream: the end is what counts
      expect((await readFile(out)).length).toBeGreaterThan(1000);

      expect(proxy.seen.filter((r) => r.path.includes('/events'))).toEqual([]);
      expect(proxy.seen.filter((r) => r.path === '/config')).toHaveLength(1);
      const polls = proxy.seen.filter((r) => r.method === 'GET' && /^\/jobs\/[^/?]+$/.test(r.path));
      expect(polls.length).toBeGreaterThanOrEqual(3);
      expect(polls[0]!.ifNoneMatch).toBe(false);
      expect(polls.slice(1).every((r) => r.ifNoneMatch)).toBe(true);
      expect(polls.filter((r) => r.status === 304).length).toBeGreaterThanOrEqual(1);
      expect(polls.at(-1)!.status).toBe(200); // the completed job, with its body
    } finally {
      await proxy.close();
    }
  });

  test('curl can still follow the job through the event stream', async () => {
    const created = await upload(stack.baseUrl, { image, audio, instructorName: 'Curl' });
    const text = await (await fetch(`${stack.baseUrl}/jobs/${created.body.jobId}/events`)).text();
    expect(text).toMatch(/event: end\ndata: \{"jobId":"[^"]+","status":"completed"\}/);
  });
});
