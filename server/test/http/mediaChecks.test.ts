import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LocalBlobStore } from '../../src/adapters/localBlobStore';
import { DEFAULT_UPLOAD_LIMITS } from '../../src/domain/uploadRules';
import { checkUploadedMedia, startMediaCheck } from '../../src/http/mediaChecks';
import type { StoredUpload } from '../../src/http/upload';
import { makeTestAudio, makeTestImage } from '../support/media';

// The upload's media checks, started as each file is stored (the photo's runs while the
// recording still arrives) and awaited once the form is read.

const limits = DEFAULT_UPLOAD_LIMITS.media;
let dir: string;
let blobs: LocalBlobStore;
let goodImage: StoredUpload;
let smallImage: StoredUpload;
let goodAudio: StoredUpload;
let shortAudio: StoredUpload;

async function store(file: string, key: string, field: 'image' | 'audio', mime: string): Promise<StoredUpload> {
  const { bytes } = await blobs.putStream(key, createReadStream(file), { contentType: mime });
  return { field, key, mime, bytes };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'media-checks-'));
  blobs = new LocalBlobStore({ rootDir: path.join(dir, 'blobs') });
  const media = path.join(dir, 'media');
  const [face, tiny, voice, blip] = await Promise.all([
    makeTestImage(media, { format: 'jpeg', width: 640, height: 480, name: 'face' }),
    makeTestImage(media, { format: 'jpeg', width: 64, height: 64, name: 'tiny' }),
    makeTestAudio(media, { format: 'wav', seconds: 2, name: 'voice' }),
    makeTestAudio(media, { format: 'wav', seconds: 0.2, name: 'blip' }),
  ]);
  goodImage = await store(face, 'uploads/j/image.jpg', 'image', 'image/jpeg');
  smallImage = await store(tiny, 'uploads/j/tiny.jpg', 'image', 'image/jpeg');
  goodAudio = await store(voice, 'uploads/j/audio.wav', 'audio', 'audio/wav');
  shortAudio = await store(blip, 'uploads/j/blip.wav', 'audio', 'audio/wav');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('checks started early answer the recording length, as checks made at the end do', async () => {
  const started = { image: startMediaCheck(blobs, goodImage, limits), audio: startMediaCheck(blobs, goodAudio, limits) };
  const early = await checkUploadedMedia(blobs, { image: goodImage, audio: goodAudio }, limits, undefined, started);
  const late = await checkUploadedMedia(blobs, { image: goodImage, audio: goodAudio }, limits);
  expect(early.audioDurationSec).toBeCloseTo(2, 1);
  expect(early).toEqual(late);
});

test('a check already started is awaited, not made again', async () => {
  // The started "check" says the tiny photo is fine: had it been checked again, it would be refused.
  const started = { image: Promise.resolve(undefined), audio: startMediaCheck(blobs, goodAudio, limits) };
  await expect(checkUploadedMedia(blobs, { image: smallImage, audio: goodAudio }, limits, undefined, started)).resolves.toEqual({
    audioDurationSec: expect.any(Number),
  });
});

test("the photo's refusal is said first, even when the recording's check failed before it", async () => {
  const audio = startMediaCheck(blobs, shortAudio, limits);
  await expect(audio).rejects.toMatchObject({ code: 'audio_too_short' });
  const image = startMediaCheck(blobs, smallImage, limits);
  await expect(checkUploadedMedia(blobs, { image: smallImage, audio: shortAudio }, limits, undefined, { image, audio })).rejects.toMatchObject({
    code: 'image_too_small',
  });
});

test('a started check nobody awaits (the upload was refused for another reason) is no unhandled rejection', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    startMediaCheck(blobs, smallImage, limits);
    startMediaCheck(blobs, { ...goodAudio, key: 'uploads/j/removed.wav' }, limits);
    await new Promise((r) => setTimeout(r, 300));
    expect(unhandled).toEqual([]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test("a WAV's length comes from the first bytes the upload kept, with no read of the stored file", async () => {
  const { readFile } = await import('node:fs/promises');
  const whole = await readFile(blobs.localPath(goodAudio.key));
  // The same recording's first bytes, for a key that holds no file: reading it would fail.
  const kept: StoredUpload = { ...goodAudio, key: 'uploads/j/not-there.wav', head: whole.subarray(0, 4096) };
  const { audioDurationSec } = await checkUploadedMedia(blobs, { image: goodImage, audio: kept }, limits);
  expect(audioDurationSec).toBeCloseTo(2, 2);
  // Without the kept bytes the file is read, and there is none.
  await expect(checkUploadedMedia(blobs, { image: goodImage, audio: { ...kept, head: undefined } }, limits)).rejects.toMatchObject({
    code: 'unreadable_audio',
  });
});
