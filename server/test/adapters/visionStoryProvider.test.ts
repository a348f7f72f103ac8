import { createReadStream, promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { Writable } from 'node:stream';
import pino from 'pino';
import { LocalBlobStore } from '../../src/adapters/localBlobStore';
import { parseRetryAfter, VisionStoryProvider, type VisionStoryProviderOptions } from '../../src/adapters/visionStoryProvider';
import { AppError, RetryableError, PermanentError } from '../../src/domain/errors';
import { startVisionStorySimulator, type VisionStorySimulator } from '../../standins/visionStorySimulator';
import type { BlobStore } from '../../src/ports/blobStore';
import { makeBigFile, makeTestAudio, makeTestImage } from '../support/media';

const API_KEY = 'vs-secret-key-7f3a9c1e';
const IMAGE = { key: 'inputs/photo.png', contentType: 'image/png' };
const AUDIO = { key: 'inputs/voice.mp3', contentType: 'audio/mpeg' };

let dir: string;
let blobs: LocalBlobStore;
let sim: VisionStorySimulator;
let logLines: string[];

/** A real pino logger at debug level whose lines we keep, to prove what does and does not get logged. */
function capturingLogger(): pino.Logger {
  logLines = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  });
  return pino({ level: 'debug' }, sink);
}

function provider(overrides: Partial<VisionStoryProviderOptions> = {}): VisionStoryProvider {
  return new VisionStoryProvider({ apiKey: API_KEY, baseUrl: sim.baseUrl, blobs, logger: capturingLogger(), timeoutMs: 5000, ...overrides });
}

async function caught(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    return err as AppError;
  }
  throw new Error('expected the call to fail');
}

/** A loopback server that answers every request with `handler`; for shapes the simulator never sends. */
async function rawServer(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vs-provider-'));
  blobs = new LocalBlobStore({ rootDir: path.join(dir, 'blobs') });
  const image = await makeTestImage(path.join(dir, 'media'), { format: 'png', width: 64, height: 48 });
  const audio = await makeTestAudio(path.join(dir, 'media'), { format: 'mp3', seconds: 1 });
  await blobs.putStream(IMAGE.key, createReadStream(image), { contentType: IMAGE.contentType });
  await blobs.putStream(AUDIO.key, createReadStream(audio), { contentType: AUDIO.contentType });
  sim = await startVisionStorySimulator({ apiKey: API_KEY, latencyMs: 100, render: false });
});

afterAll(async () => {
  await sim.close();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('VisionStoryProvider error mapping', () => {
  test('when VisionStory answers 429 with Retry-After, the error is retryable and carries the delay', async () => {
    sim.inject({ rateLimitBurst: { count: 1, retryAfterSec: 42 } });
    const err = await caught(provider().createAvatar(IMAGE, 'job-1:avatar'));
    expect(err).toBeInstanceOf(RetryableError);
    expect(err.code).toBe('provider_rate_limited');
    expect(err.retryAfterSec).toBe(42);
  });

  test('when the same client_request_id is still being processed, the second call is a retryable provider_in_progress', async () => {
    const slow = await startVisionStorySimulator({ apiKey: API_KEY, latencyMs: 100, createLatencyMs: 400, render: false });
    try {
      const p = provider({ baseUrl: slow.baseUrl });
      const { avatarId } = await p.createAvatar(IMAGE, 'job-2:avatar');
      const first = p.createVideo(avatarId, AUDIO, 'job-2:video');
      await new Promise((r) => setTimeout(r, 100));
      const err = await caught(p.createVideo(avatarId, AUDIO, 'job-2:video'));
      expect(err).toBeInstanceOf(RetryableError);
      expect(err.code).toBe('provider_in_progress');
      expect(err.retryAfterSec).toBeGreaterThan(0);
      // Retrying later with the same key finds the same video: one render, not two.
      const { videoId } = await first;
      await expect(p.createVideo(avatarId, AUDIO, 'job-2:video')).resolves.toEqual({ videoId });
    } finally {
      await slow.close();
    }
  });

  test('when VisionStory answers 500, the error is retryable provider_unavailable', async () => {
    sim.inject({ nextStatusCodes: [500] });
    const err = await caught(provider().getVideo('123'));
    expect(err).toBeInstanceOf(RetryableError);
    expect(err.code).toBe('provider_unavailable');
    expect(err.message).toContain('500');
  });

  test('when nothing is listening, the error is retryable provider_unavailable', async () => {
    const gone = await rawServer(() => undefined);
    await gone.close();
    const err = await caught(provider({ baseUrl: gone.url }).getVideo('123'));
    expect(err).toBeInstanceOf(RetryableError);
    expect(err.code).toBe('provider_unavailable');
  });

  test('when VisionStory never answers, the call gives up after timeoutMs with a retryable provider_timeout', async () => {
    const silent = await rawServer(() => undefined); // accepts the request, never responds
    try {
      const started = Date.now();
      const err = await caught(provider({ baseUrl: silent.url, timeoutMs: 300 }).getVideo('123'));
      expect(err).toBeInstanceOf(RetryableError);
      expect(err.code).toBe('provider_timeout');
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await silent.close();
    }
  });

  test('when VisionStory rejects a request with 400 and a hint, the job fails permanently with both', async () => {
    const err = await caught(provider().createVideo('no-such-avatar', AUDIO, 'job-3:video'));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.code).toBe('provider_rejected');
    expect(err.message).toContain('Unknown avatar_id');
    expect(err.message).toContain('Create the avatar first');
  });

  test('when the API key is wrong, the 401 is permanent: retrying cannot fix a key', async () => {
    const err = await caught(provider({ apiKey: 'not-the-key' }).createAvatar(IMAGE, 'job-4:avatar'));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.code).toBe('provider_rejected');
    expect(err.message).toContain('401');
    expect(sim.calls.unauthorized).toBeGreaterThan(0);
  });

  test('when a 200 answer has the wrong shape, the error is a permanent provider_bad_response with the detail for logs', async () => {
    sim.inject({ badResponse: true });
    try {
      const err = await caught(provider().createAvatar(IMAGE, 'job-5:avatar'));
      expect(err).toBeInstanceOf(PermanentError);
      expect(err.code).toBe('provider_bad_response');
      expect(JSON.stringify(err.detail)).toContain('avatar_id');
    } finally {
      sim.inject({ badResponse: false });
    }
  });

  test.each([
    ['not JSON at all', 'text/html', '<html>gateway</html>'],
    ['a created video without its url', 'application/json', JSON.stringify({ data: { status: 'created' } })],
    ['a status the API does not have', 'application/json', JSON.stringify({ data: { status: 'exploded' } })],
    ['a status that is a number', 'application/json', JSON.stringify({ data: { status: 1 } })],
  ])('when a 200 answer is %s, getVideo fails with provider_bad_response and nothing crashes', async (_name, type, body) => {
    const odd = await rawServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': type });
      res.end(body);
    });
    try {
      const err = await caught(provider({ baseUrl: odd.url }).getVideo('123'));
      expect(err).toBeInstanceOf(PermanentError);
      expect(err.code).toBe('provider_bad_response');
    } finally {
      await odd.close();
    }
  });

  test('when an avatar id comes back as a number (19 digits would be silently rounded), createAvatar fails with provider_bad_response', async () => {
    const odd = await rawServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"data":{"avatar_id":4321918387609092991}}');
    });
    try {
      const err = await caught(provider({ baseUrl: odd.url }).createAvatar(IMAGE, 'job-5b:avatar'));
      expect(err).toBeInstanceOf(PermanentError);
      expect(err.code).toBe('provider_bad_response');
    } finally {
      await odd.close();
    }
  });

  test('when a render fails at VisionStory, getVideo reports failed with its reason', async () => {
    const failing = await startVisionStorySimulator({ apiKey: API_KEY, latencyMs: 50, failureRate: 1, render: false });
    try {
      const p = provider({ baseUrl: failing.baseUrl });
      const { avatarId } = await p.createAvatar(IMAGE, 'job-6:avatar');
      const { videoId } = await p.createVideo(avatarId, AUDIO, 'job-6:video');
      await new Promise((r) => setTimeout(r, 80));
      await expect(p.getVideo(videoId)).resolves.toEqual({
        state: 'failed',
        providerStatus: 'failed',
        reason: 'Simulated render failure',
      });
    } finally {
      await failing.close();
    }
  });

  test('when the video is gone after VisionStory kept it 7 days, openVideo fails with provider_video_expired', async () => {
    const p = provider();
    const { avatarId } = await p.createAvatar(IMAGE, 'job-7:avatar');
    const { videoId } = await p.createVideo(avatarId, AUDIO, 'job-7:video');
    await new Promise((r) => setTimeout(r, 150));
    const state = await p.getVideo(videoId);
    if (state.state !== 'done') throw new Error(`expected done, got ${state.state}`);
    sim.expireVideo(videoId);
    const err = await caught(p.openVideo(state.url));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.code).toBe('provider_video_expired');
  });

  test('Retry-After is read both as seconds and as an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('VisionStoryProvider inputs', () => {
  test('when the blob store has no public URLs, the media goes inline as base64 and the simulator accepts it', async () => {
    const p = provider();
    const { avatarId } = await p.createAvatar(IMAGE, 'job-8:avatar');
    expect(avatarId).toMatch(/^\d+$/);
  });

  test('when the blob store can sign URLs, VisionStory is given the URL and fetches the file itself', async () => {
    const image = await fs.readFile(blobs.localPath(IMAGE.key));
    let fetched = 0;
    const cdn = await rawServer((_req, res) => {
      fetched += 1;
      res.writeHead(200, { 'Content-Type': 'image/png' });
      res.end(image);
    });
    try {
      const signing: BlobStore = {
        putStream: (k, s, o) => blobs.putStream(k, s, o),
        openRead: () => Promise.reject(new Error('must not read the bytes when a URL can be signed')),
        stat: (k) => blobs.stat(k),
        delete: (k) => blobs.delete(k),
        signedReadUrl: async (key, ttl) => `${cdn.url}/${key}?ttl=${ttl}`,
      };
      const { avatarId } = await provider({ blobs: signing }).createAvatar(IMAGE, 'job-9:avatar');
      expect(avatarId).toMatch(/^\d+$/);
      expect(fetched).toBe(1);
    } finally {
      await cdn.close();
    }
  });

  test('when an inline image is over VisionStory’s 10 MB limit, it fails as media_too_large before any call', async () => {
    const big = await makeBigFile(path.join(dir, 'media'), 10 * 1024 * 1024 + 1, 'png');
    await blobs.putStream('inputs/big.png', createReadStream(big), { contentType: 'image/png' });
    const before = sim.calls.createAvatar;
    const err = await caught(provider().createAvatar({ key: 'inputs/big.png', contentType: 'image/png' }, 'job-10:avatar'));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.code).toBe('media_too_large');
    expect(sim.calls.createAvatar).toBe(before);
  });

  test('when the same avatar step is retried on this instance, no second avatar is made', async () => {
    const p = provider();
    const before = sim.calls.createAvatar;
    const first = await p.createAvatar(IMAGE, 'job-11:avatar');
    const again = await p.createAvatar(IMAGE, 'job-11:avatar');
    expect(again).toEqual(first);
    expect(sim.calls.createAvatar).toBe(before + 1);
  });
});

describe('VisionStoryProvider secrecy', () => {
  test('the API key appears in no log line and no error, whatever goes wrong', async () => {
    const logger = capturingLogger();
    // Calls that answer get a timeout no busy machine reaches; only the silent server times out.
    const p = new VisionStoryProvider({ apiKey: API_KEY, baseUrl: sim.baseUrl, blobs, logger, timeoutMs: 5000 });
    const silent = await rawServer(() => undefined);
    const pSilent = new VisionStoryProvider({ apiKey: API_KEY, baseUrl: silent.url, blobs, logger, timeoutMs: 200 });
    const errors: unknown[] = [];
    const attempt = async (call: Promise<unknown>): Promise<void> => {
      try {
        await call;
      } catch (err) {
        errors.push(err);
        // What the worker will do with it: log the whole error through pino's serializer.
        logger.error({ message: 'step failed', err });
      }
    };
    try {
      sim.inject({ nextStatusCodes: [500, 400], rateLimitBurst: { count: 1, retryAfterSec: 1 } });
      await attempt(p.createAvatar(IMAGE, 'job-12:a')); // 429
      await attempt(p.createAvatar(IMAGE, 'job-12:b')); // 500
      await attempt(p.getVideo('1')); // 400
      sim.inject({ badResponse: true });
      await attempt(p.createAvatar(IMAGE, 'job-12:c'));
      sim.inject({ badResponse: false });
      await attempt(pSilent.getVideo('1')); // timeout
      await attempt(p.createVideo('missing', AUDIO, 'job-12:v')); // 400 with hint
      await p.createAvatar(IMAGE, 'job-12:ok'); // a success logs too
    } finally {
      await silent.close();
    }
    expect(errors).toHaveLength(6);
    expect(logLines.length).toBeGreaterThan(6);
    for (const line of logLines) expect(line).not.toContain(API_KEY);
    for (const err of errors) {
      const e = err as AppError;
      expect(e).toBeInstanceOf(AppError);
      expect(e.message).not.toContain(API_KEY);
      expect(JSON.stringify(e.detail ?? null)).not.toContain(API_KEY);
      // console.error and other serializers walk `cause`: an AxiosError there would hold the key.
      expect(inspect(e, { depth: 8 })).not.toContain(API_KEY);
    }
  });
});
