import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { probeMedia } from '../../src/adapters/localRender/ffmpeg';
import { startVisionStorySimulator, wavSeconds, type VisionStorySimulator } from '../../standins/visionStorySimulator';
import { makeTestAudio, makeTestImage } from '../support/media';
import { exitOf } from '../support/processes';

/**
 * The simulator speaks raw HTTP here (global fetch), so its answers are checked against the API's
 * documented shapes independently of the provider that reads them.
 */

const KEY = 'sim-key';
let dir: string;
let imageB64: string;
let audioB64: string;
let sim: VisionStorySimulator;

async function api(
  method: string,
  pathAndQuery: string,
  body?: unknown,
  key: string | null = KEY,
  base: string = sim.baseUrl,
): Promise<{ status: number; json: any; headers: Headers }> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (key !== null) headers['X-API-Key'] = key;
  const res = await fetch(`${base}${pathAndQuery}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, headers: res.headers };
}

const inlineImage = (): unknown => ({ inline_data: { mime_type: 'image/png', data: imageB64 } });
const videoBody = (avatarId: string, requestId: string): unknown => ({
  model_id: 'vs_character_v4',
  avatar_id: avatarId,
  aspect_ratio: '9:16',
  resolution: '720p',
  audio_script: { inline_data: { mime_type: 'audio/wav', data: audioB64 } },
  client_request_id: requestId,
});

async function waitForStatus(base: string, videoId: string, wanted: string[], timeoutMs = 20_000): Promise<any> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { json } = await api('GET', `/api/v1/video?video_id=${videoId}`, undefined, KEY, base);
    if (wanted.includes(json.data.status)) return json.data;
    if (Date.now() > until) throw new Error(`video ${videoId} stuck at ${json.data.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vs-sim-'));
  imageB64 = (await fs.readFile(await makeTestImage(dir, { format: 'png', width: 160, height: 120 }))).toString('base64');
  audioB64 = (await fs.readFile(await makeTestAudio(dir, { format: 'wav', seconds: 1 }))).toString('base64');
  sim = await startVisionStorySimulator({ apiKey: KEY, latencyMs: 100, createLatencyMs: 0, render: false });
});

afterAll(async () => {
  await sim.close();
  await fs.rm(dir, { recursive: true, force: true });
});

test('when a request has no X-API-Key, the simulator answers 401 in the API error shape', async () => {
  const res = await api('POST', '/api/v1/avatar', inlineImage(), null);
  expect(res.status).toBe(401);
  expect(res.json).toEqual({ error: { message: expect.any(String), hint: expect.stringContaining('X-API-Key') } });
  expect(sim.calls.unauthorized).toBeGreaterThanOrEqual(1);
});

test('when an avatar and a video are created, the video goes queued → creating → created with a downloadable url', async () => {
  // A render of 2 s: `queued` lasts its first quarter (500 ms), long enough for the first poll
  // to see it on a busy machine (with the suite's 100 ms it lasted 25 ms).
  const flow = await startVisionStorySimulator({ apiKey: KEY, latencyMs: 2000, createLatencyMs: 0, render: false });
  try {
    const avatar = await api('POST', '/api/v1/avatar', inlineImage(), KEY, flow.baseUrl);
    expect(avatar.status).toBe(200);
    const avatarId = avatar.json.data.avatar_id as string;
    expect(avatarId).toMatch(/^\d{19}$/);

    const video = await api('POST', '/api/v1/video', videoBody(avatarId, 'req-flow'), KEY, flow.baseUrl);
    expect(video.status).toBe(200);
    const videoId = video.json.data.video_id as string;

    const seen = new Set<string>();
    const until = Date.now() + 15_000;
    let last: any;
    do {
      last = (await api('GET', `/api/v1/video?video_id=${videoId}`, undefined, KEY, flow.baseUrl)).json.data;
      seen.add(last.status);
      await new Promise((r) => setTimeout(r, 10));
    } while (last.status !== 'created' && Date.now() < until);
    expect([...seen]).toEqual(['queued', 'creating', 'created']);
    const file = await fetch(last.video_url);
    expect(file.status).toBe(200);
    expect((await file.arrayBuffer()).byteLength).toBeGreaterThan(0);
  } finally {
    await flow.close();
  }
});

test('with a render-time distribution, each video takes k × its audio seconds (here 1 s of WAV at k 0.4: about 400 ms)', async () => {
  const timed = await startVisionStorySimulator({ apiKey: KEY, render: false, renderTime: { kPerAudioSec: 0.4, sigma: 0 } });
  try {
    const avatarId = (await api('POST', '/api/v1/avatar', inlineImage(), KEY, timed.baseUrl)).json.data.avatar_id as string;
    const started = Date.now();
    const videoId = (await api('POST', '/api/v1/video', videoBody(avatarId, 'req-timed'), KEY, timed.baseUrl)).json.data.video_id as string;
    await waitForStatus(timed.baseUrl, videoId, ['created'], 5000);
    const tookMs = Date.now() - started;
    expect(tookMs).toBeGreaterThanOrEqual(390);
    expect(tookMs).toBeLessThan(3000);
  } finally {
    await timed.close();
  }
});

test('the WAV length the simulator reads is the recording length', () => {
  expect(wavSeconds(Buffer.from(audioB64, 'base64'))).toBeCloseTo(1, 2);
  expect(wavSeconds(Buffer.from('not a wav file at all, just some bytes to be long enough'))).toBeNull();
});

test('when the same client_request_id is posted again after the first answered, the same video_id comes back', async () => {
  const avatarId = (await api('POST', '/api/v1/avatar', inlineImage())).json.data.avatar_id;
  const before = sim.calls.createVideo;
  const first = await api('POST', '/api/v1/video', videoBody(avatarId, 'req-same'));
  const second = await api('POST', '/api/v1/video', videoBody(avatarId, 'req-same'));
  const other = await api('POST', '/api/v1/video', videoBody(avatarId, 'req-other'));
  expect(second.json.data.video_id).toBe(first.json.data.video_id);
  expect(other.json.data.video_id).not.toBe(first.json.data.video_id);
  expect(sim.calls.createVideo).toBe(before + 3);
});

test('when the same client_request_id arrives while the first is still being processed, the second gets 409', async () => {
  const slow = await startVisionStorySimulator({ apiKey: KEY, latencyMs: 100, createLatencyMs: 300, render: false });
  try {
    const avatarId = (await api('POST', '/api/v1/avatar', inlineImage(), KEY, slow.baseUrl)).json.data.avatar_id;
    const first = api('POST', '/api/v1/video', videoBody(avatarId, 'req-busy'), KEY, slow.baseUrl);
    await new Promise((r) => setTimeout(r, 50));
    const second = await api('POST', '/api/v1/video', videoBody(avatarId, 'req-busy'), KEY, slow.baseUrl);
    expect(second.status).toBe(409);
    expect(second.json.error.hint).toContain('same client_request_id');
    expect((await first).status).toBe(200);
  } finally {
    await slow.close();
  }
});

test('when failures are injected, the next calls answer them in order, then normal service resumes', async () => {
  sim.inject({ nextStatusCodes: [503, 500], rateLimitBurst: { count: 2, retryAfterSec: 9 } });
  const statuses: number[] = [];
  const retryAfter: Array<string | null> = [];
  for (let i = 0; i < 5; i += 1) {
    const res = await api('GET', '/api/v1/video?video_id=0');
    statuses.push(res.status);
    retryAfter.push(res.headers.get('retry-after'));
  }
  // The burst of 429s comes first, then the queued codes, then the real answer (404: no such video).
  expect(statuses).toEqual([429, 429, 503, 500, 404]);
  expect(retryAfter.slice(0, 2)).toEqual(['9', '9']);
});

test('when badResponse is injected, a 200 answer no longer has the promised fields', async () => {
  sim.inject({ badResponse: true });
  try {
    const res = await api('POST', '/api/v1/avatar', inlineImage());
    expect(res.status).toBe(200);
    expect(res.json.data.avatar_id).toBeUndefined();
  } finally {
    sim.inject({ badResponse: false });
  }
});

test('when an input URL points outside loopback, the simulator refuses to fetch it', async () => {
  const res = await api('POST', '/api/v1/avatar', { img_url: 'https://example.com/face.jpg' });
  expect(res.status).toBe(400);
  expect(res.json.error.message).toContain('loopback');
});

test('when an input URL is on loopback, the simulator downloads it', async () => {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'image/png' });
    res.end(Buffer.from(imageB64, 'base64'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/face.png`;
    const res = await api('POST', '/api/v1/avatar', { img_url: url });
    expect(res.status).toBe(200);
    expect(res.json.data.avatar_id).toMatch(/^\d+$/);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('when the image type is not one VisionStory takes, the avatar is refused with a hint listing the formats', async () => {
  const res = await api('POST', '/api/v1/avatar', { inline_data: { mime_type: 'image/gif', data: imageB64 } });
  expect(res.status).toBe(400);
  expect(res.json.error.hint).toContain('png');
});

test('when rendering is on, a finished video is a real MP4 made from the photo and the audio', async () => {
  const real = await startVisionStorySimulator({ apiKey: KEY, latencyMs: 50 });
  try {
    const avatarId = (await api('POST', '/api/v1/avatar', inlineImage(), KEY, real.baseUrl)).json.data.avatar_id;
    const videoId = (await api('POST', '/api/v1/video', videoBody(avatarId, 'req-real'), KEY, real.baseUrl)).json.data.video_id;
    const done = await waitForStatus(real.baseUrl, videoId, ['created', 'failed']);
    expect(done.status).toBe('created');
    const file = path.join(dir, 'out.mp4');
    await fs.writeFile(file, Buffer.from(await (await fetch(done.video_url)).arrayBuffer()));
    const info = await probeMedia(file);
    expect(info.formatName).toContain('mp4');
    expect(info.streams.map((s) => s.codecType).sort()).toEqual(['audio', 'video']);
    expect(info.durationSec).toBeGreaterThan(0.5);
    expect(info.durationSec).toBeLessThan(2);
  } finally {
    await real.close();
  }
});

describe('visionStorySimulatorMain', () => {
  const main = path.join(__dirname, '../../standins/visionStorySimulatorMain.ts');
  const run = (env: Record<string, string>) =>
    spawn(process.execPath, ['--import', 'tsx', main], {
      env: { PATH: process.env.PATH ?? '', METADATA_SERVER_DETECTION: 'none', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });

  test('when SIM_API_KEY is missing, it exits 2 and names the variable', async () => {
    const child = run({ SIM_PORT: '0' });
    const { code, stderr } = await exitOf(child);
    expect(code).toBe(2);
    expect(stderr).toContain('SIM_API_KEY');
  });

  test('when run alone, it serves the API on the logged address and stops on SIGTERM', async () => {
    const child = run({ SIM_PORT: '0', SIM_API_KEY: 'alone-key', SIM_LATENCY_MS: '100' });
    try {
      const baseUrl = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /"baseUrl":"([^"]+)"/.exec(out);
          if (m) resolve(m[1]);
        });
        child.on('exit', (code) => reject(new Error(`exited ${code} before listening`)));
      });
      const refused = await api('GET', '/api/v1/video?video_id=1', undefined, 'wrong', baseUrl);
      expect(refused.status).toBe(401);
      const unknown = await api('GET', '/api/v1/video?video_id=1', undefined, 'alone-key', baseUrl);
      expect(unknown.status).toBe(404);
      const exited = new Promise<number | null>((r) => child.on('exit', r));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
