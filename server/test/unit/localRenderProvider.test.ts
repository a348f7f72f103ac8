import { createReadStream, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { LocalBlobStore } from '../../src/adapters/localBlobStore';
import { PermanentError } from '../../src/domain/errors';
import { LocalRenderProvider } from '../../src/local/localRenderProvider';
import type { BlobStore } from '../../src/ports/blobStore';
import type { MediaRef } from '../../src/ports/avatarProvider';
import { waitForVideo } from '../contract/avatarProvider.contract';
import { makeCorruptFile, makeTestAudio, makeTestImage, probe } from '../support/media';

let root: string;
let media: string;
let blobs: LocalBlobStore;
const providers: LocalRenderProvider[] = [];
let n = 0;

function newProvider(options: { workDir?: string; latencyMs?: number; blobs?: BlobStore } = {}): LocalRenderProvider {
  const provider = new LocalRenderProvider({
    blobs: options.blobs ?? blobs,
    workDir: options.workDir ?? path.join(root, `render-${++n}`),
    latencyMs: options.latencyMs,
  });
  providers.push(provider);
  return provider;
}

async function put(file: string, contentType: string): Promise<MediaRef> {
  const key = `uploads/${++n}-${path.basename(file)}`;
  await blobs.putStream(key, createReadStream(file), { contentType });
  return { key, contentType };
}

async function readRecord(workDir: string, videoId: string): Promise<{ state: string; attempts: number; reason: string | null }> {
  return JSON.parse(await fs.readFile(path.join(workDir, 'videos', `${videoId}.json`), 'utf8'));
}

async function until(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

let photo: MediaRef;
let tone: MediaRef;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'local-render-'));
  media = path.join(root, 'media');
  blobs = new LocalBlobStore({ rootDir: path.join(root, 'blobs') });
  photo = await put(await makeTestImage(media, { format: 'jpeg', width: 320, height: 240, name: 'photo' }), 'image/jpeg');
  tone = await put(await makeTestAudio(media, { format: 'wav', seconds: 1, name: 'tone' }), 'audio/wav');
});

afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe('making an avatar from a photo', () => {
  test.each([
    ['a large portrait png', 'png', 2000, 3000, 720, 1080],
    ['an odd-sized webp', 'webp', 641, 481, 640, 480],
    ['a small jpeg', 'jpeg', 64, 48, 64, 48],
  ] as const)('%s becomes a JPEG with even sides fitted to the video size, at most 720p (1280×720, or 720×1280 upright), never upscaled', async (_label, format, w, h, ew, eh) => {
    const workDir = path.join(root, `avatar-${format}`);
    const provider = newProvider({ workDir });
    const image = await put(await makeTestImage(media, { format, width: w, height: h }), `image/${format}`);
    const { avatarId } = await provider.createAvatar(image, `key-${format}`);
    expect(avatarId).toMatch(/^av_[0-9a-f]{16}$/);
    const info = await probe(path.join(workDir, 'avatars', `${avatarId}.jpg`));
    expect(info.streams[0]).toMatchObject({ codecName: 'mjpeg', width: ew, height: eh });
  });

  test('a second call with the same key does no work: the stored photo is untouched', async () => {
    const workDir = path.join(root, 'avatar-again');
    const provider = newProvider({ workDir });
    const { avatarId } = await provider.createAvatar(photo, 'same-key');
    const file = path.join(workDir, 'avatars', `${avatarId}.jpg`);
    const before = (await fs.stat(file)).mtimeMs;
    await new Promise((resolve) => setTimeout(resolve, 20));
    const again = await provider.createAvatar(photo, 'same-key');
    expect(again.avatarId).toBe(avatarId);
    expect((await fs.stat(file)).mtimeMs).toBe(before);
  });

  test('a text file is refused as bad_media even though ffprobe reads text as "tty" video', async () => {
    const provider = newProvider();
    const text = await put(await makeCorruptFile(media, { name: 'notes' }), 'image/jpeg');
    const err = await provider.createAvatar(text, 'text-key').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe('bad_media');
  });

  test('a store without local paths is read through its stream into a temporary copy', async () => {
    // A BlobStore like GCS: no localPath, only openRead.
    const streamingOnly: BlobStore = {
      putStream: () => Promise.reject(new Error('unused')),
      openRead: async (key) => Readable.from(await fs.readFile(blobs.localPath(key))),
      stat: (key) => blobs.stat(key),
      signedReadUrl: async () => null,
      delete: async () => undefined,
    };
    const workDir = path.join(root, 'streaming-only');
    const provider = newProvider({ workDir, blobs: streamingOnly });
    const { avatarId } = await provider.createAvatar(photo, 'stream-key');
    const { videoId } = await provider.createVideo(avatarId, tone, 'stream-video');
    const { final } = await waitForVideo(provider, videoId);
    expect(final.state).toBe('done');
    expect(await fs.readdir(path.join(workDir, 'tmp'))).toEqual([]);
  });
});

describe('rendering a video', () => {
  test('createVideo answers before the render has produced anything, and the render then finishes', async () => {
    const workDir = path.join(root, 'async-render');
    const provider = newProvider({ workDir });
    const { avatarId } = await provider.createAvatar(photo, 'a');
    const { videoId } = await provider.createVideo(avatarId, tone, 'v');
    expect(videoId).toMatch(/^vid_[0-9a-f]{16}$/);
    await expect(fs.access(path.join(workDir, 'videos', `${videoId}.mp4`))).rejects.toThrow();
    const first = await provider.getVideo(videoId);
    expect(['queued', 'running']).toContain(first.state);
    const { final } = await waitForVideo(provider, videoId);
    expect(final).toMatchObject({ state: 'done', providerStatus: 'created', url: `local-render://${videoId}` });
    if (final.state === 'done') expect(final.durationSec).toBeCloseTo(1, 1);
  });

  test('an unknown avatar is refused with avatar_not_found', async () => {
    const provider = newProvider();
    const err = await provider.createVideo('av_0123456789abcdef', tone, 'v').catch((e: unknown) => e);
    expect((err as PermanentError).code).toBe('avatar_not_found');
  });

  test('an unknown video id is video_not_found, for getVideo and openVideo alike', async () => {
    const provider = newProvider();
    await expect(provider.getVideo('vid_0123456789abcdef')).rejects.toMatchObject({ code: 'video_not_found' });
    await expect(provider.openVideo('local-render://vid_0123456789abcdef')).rejects.toMatchObject({ code: 'video_not_found' });
    await expect(provider.openVideo('https://example.com/x.mp4')).rejects.toMatchObject({ code: 'video_not_found' });
  });

  test('audio that is not sound fails the render with a bad_media reason', async () => {
    const workDir = path.join(root, 'bad-audio');
    const provider = newProvider({ workDir });
    const { avatarId } = await provider.createAvatar(photo, 'a');
    const noise = await put(await makeCorruptFile(media, { looksLike: 'wav', name: 'noise' }), 'audio/wav');
    const { videoId } = await provider.createVideo(avatarId, noise, 'v');
    const { final } = await waitForVideo(provider, videoId);
    expect(final).toMatchObject({ state: 'failed', providerStatus: 'failed' });
    if (final.state === 'failed') expect(final.reason).toMatch(/^bad_media: /);
  });

  test('two concurrent createVideo calls with one key render once', async () => {
    const workDir = path.join(root, 'once');
    const provider = newProvider({ workDir });
    const { avatarId } = await provider.createAvatar(photo, 'a');
    const ids = await Promise.all([1, 2, 3].map(() => provider.createVideo(avatarId, tone, 'v')));
    expect(new Set(ids.map((i) => i.videoId)).size).toBe(1);
    const videoId = ids[0]!.videoId;
    await waitForVideo(provider, videoId);
    expect((await readRecord(workDir, videoId)).attempts).toBe(1);
  });
});

describe('limiting concurrent renders', () => {
  test('with one render slot, a second video waits queued while the first renders', async () => {
    const workDir = path.join(root, 'one-slot');
    const provider = newProvider({ workDir });
    const long = await put(await makeTestAudio(media, { format: 'wav', seconds: 12, name: 'slot-long' }), 'audio/wav');
    const { avatarId } = await provider.createAvatar(photo, 'a');
    const first = await provider.createVideo(avatarId, long, 'v1');
    const second = await provider.createVideo(avatarId, tone, 'v2');
    await until(async () => (await readRecord(workDir, first.videoId)).state !== 'queued');
    expect(await provider.getVideo(second.videoId)).toMatchObject({ state: 'queued', providerStatus: 'queued' });
    const { final } = await waitForVideo(provider, second.videoId, { timeoutMs: 90_000 });
    expect(final.state).toBe('done');
    expect((await readRecord(workDir, first.videoId)).state).toBe('done');
  }, 120_000);
});

describe('artificial latency', () => {
  test('a finished render reads as creating until latencyMs have passed, then as created', async () => {
    const workDir = path.join(root, 'latency');
    const provider = newProvider({ workDir, latencyMs: 2500 });
    const { avatarId } = await provider.createAvatar(photo, 'a');
    const started = Date.now();
    const { videoId } = await provider.createVideo(avatarId, tone, 'v');
    await until(async () => (await readRecord(workDir, videoId)).state === 'done');
    if (Date.now() - started < 2000) {
      expect(await provider.getVideo(videoId)).toMatchObject({ state: 'running', providerStatus: 'creating' });
    }
    const { final } = await waitForVideo(provider, videoId, { intervalMs: 50 });
    expect(final.state).toBe('done');
    expect(Date.now() - started).toBeGreaterThanOrEqual(2500);
  });
});

describe('restarting the process', () => {
  test('a new instance on the same workDir answers for finished videos and can open them', async () => {
    const workDir = path.join(root, 'restart-done');
    const before = newProvider({ workDir });
    const { avatarId } = await before.createAvatar(photo, 'a');
    const { videoId } = await before.createVideo(avatarId, tone, 'v');
    await waitForVideo(before, videoId);
    await before.close();

    const after = newProvider({ workDir });
    const state = await after.getVideo(videoId);
    expect(state).toMatchObject({ state: 'done', url: `local-render://${videoId}` });
    if (state.state !== 'done') return;
    const chunks: Buffer[] = [];
    for await (const chunk of await after.openVideo(state.url)) chunks.push(chunk as Buffer);
    // An MP4 starts with its ftyp box.
    expect(Buffer.concat(chunks).subarray(4, 8).toString('latin1')).toBe('ftyp');
    expect((await after.createVideo(avatarId, tone, 'v')).videoId).toBe(videoId);
  });

  test('a render cut off by shutdown is restarted by the next instance and finishes', async () => {
    const workDir = path.join(root, 'restart-cut');
    const long = await put(await makeTestAudio(media, { format: 'mp3', seconds: 30, name: 'long' }), 'audio/mpeg');
    const before = newProvider({ workDir });
    const { avatarId } = await before.createAvatar(photo, 'a');
    const { videoId } = await before.createVideo(avatarId, long, 'v');
    // ffmpeg creates its output file as it starts: wait for it, so close() has a process to kill.
    await until(async () => (await fs.readdir(path.join(workDir, 'videos'))).some((f) => f.includes('.part.')));
    expect((await readRecord(workDir, videoId)).state).toBe('running');
    const closing = Date.now();
    await before.close();
    expect(Date.now() - closing).toBeLessThan(3000);
    expect((await readRecord(workDir, videoId)).state).toBe('queued');
    const leftovers = (await fs.readdir(path.join(workDir, 'videos'))).filter((f) => f.endsWith('.mp4'));
    expect(leftovers).toEqual([]);

    const after = newProvider({ workDir });
    const first = await after.getVideo(videoId);
    expect(['queued', 'running']).toContain(first.state);
    const { final } = await waitForVideo(after, videoId, { timeoutMs: 30_000, intervalMs: 200 });
    expect(final.state).toBe('done');
    if (final.state === 'done') expect(final.durationSec).toBeCloseTo(30, 0);
    expect((await readRecord(workDir, videoId)).attempts).toBe(2);
  });
});
