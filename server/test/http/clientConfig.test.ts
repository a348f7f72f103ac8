import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { STEP_LABELS, STEPS } from '../../src/domain/steps';
import { silentLogger } from '../../src/logger';
import { startService, type RunningService } from '../../src/service';
import { FAST_ENV } from '../support/stack';

// GET /config tells every client what an upload must be and which steps a job goes through,
// from the limits this server runs with: clients keep no copies of their own.

let service: RunningService;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'client-config-'));
  const config = loadConfig({ ...FAST_ENV, DATA_DIR: dataDir, IMAGE_MAX_PIXELS: '12000000', AUDIO_MAX_SECONDS: '90' });
  // A server configured with smaller files than the product's defaults.
  config.limits.imageMaxBytes = 3 * 1024 * 1024;
  config.limits.audioMaxBytes = 7 * 1024 * 1024;
  service = await startService(config, silentLogger);
});

afterAll(async () => {
  await service?.close();
  await rm(dataDir, { recursive: true, force: true });
});

interface ClientConfig {
  success: boolean;
  watch: unknown;
  upload: {
    image: { maxBytes: number; types: string[]; extensions: string[]; minShortSidePx: number; maxPixels: number };
    audio: { maxBytes: number; types: string[]; extensions: string[]; minSeconds: number; maxSeconds: number };
    nameMaxChars: number;
    bioMaxChars: number;
  };
  steps: { name: string; label: string }[];
}

test('GET /config serves the upload limits the server is configured with, not the defaults', async () => {
  const res = await fetch(`${service.url}/config`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as ClientConfig;
  expect(body.success).toBe(true);
  expect(body.watch).toEqual({ browser: 'sse', cli: 'sse', pollIntervalSec: 10 });
  expect(body.upload.image).toMatchObject({ maxBytes: 3 * 1024 * 1024, minShortSidePx: 256, maxPixels: 12_000_000 });
  expect(body.upload.audio).toMatchObject({ maxBytes: 7 * 1024 * 1024, minSeconds: 1, maxSeconds: 90 });
  expect(body.upload.nameMaxChars).toBe(100);
  expect(body.upload.bioMaxChars).toBe(1000);
});

test('GET /config lists the accepted types by MIME type and by file extension', async () => {
  const body = (await (await fetch(`${service.url}/config`)).json()) as ClientConfig;
  expect(body.upload.image.types).toEqual(expect.arrayContaining(['image/jpeg', 'image/png', 'image/webp', 'image/heic']));
  expect(body.upload.image.extensions).toEqual(expect.arrayContaining(['jpg', 'jpeg', 'png', 'webp', 'heic']));
  expect(body.upload.audio.types).toEqual(expect.arrayContaining(['audio/wav', 'audio/mpeg', 'audio/mp4', 'audio/aac']));
  expect(body.upload.audio.extensions).toEqual(expect.arrayContaining(['wav', 'mp3', 'm4a', 'aac']));
  expect(body.upload.image.types.some((t) => t.startsWith('audio/'))).toBe(false);
});

test('GET /config names the four steps in order with the labels the job document uses', async () => {
  const body = (await (await fetch(`${service.url}/config`)).json()) as ClientConfig;
  expect(body.steps.map((s) => s.name)).toEqual(['avatar.create', 'video.create', 'video.poll', 'video.store']);
  expect(body.steps).toEqual(STEPS.map((name) => ({ name, label: STEP_LABELS[name] })));
  expect(body.steps.every((s) => s.label.length > 0)).toBe(true);
});

test('the page reads GET /config: the older /web/config.json is gone', async () => {
  expect((await fetch(`${service.url}/web/config.json`)).status).toBe(404);
});

test('the upload route refuses by the configured limit that GET /config announces', async () => {
  const body = (await (await fetch(`${service.url}/config`)).json()) as ClientConfig;
  const tooBig = body.upload.image.maxBytes + body.upload.audio.maxBytes + 1024 * 1024;
  // Declared too large: refused before a byte of the body is sent, naming the configured limits.
  const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request(`${service.url}/generate-with-tasks`, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=x', 'content-length': String(tooBig) },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.flushHeaders();
  });
  expect(answer.status).toBe(413);
  const error = (JSON.parse(answer.text) as { error: { code: string; message: string } }).error;
  expect(error.code).toBe('upload_too_large');
  expect(error.message).toContain('(image 3 MB, audio 7 MB)');
});
