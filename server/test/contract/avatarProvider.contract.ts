import { createWriteStream, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PermanentError } from '../../src/domain/errors';
import type { AvatarProvider, MediaRef, VideoState } from '../../src/ports/avatarProvider';
import { makeCorruptFile, makeTestAudio, makeTestImage, probe } from '../support/media';

/**
 * The behaviours every AvatarProvider must have, whatever is behind it (ffmpeg, a VisionStory
 * simulator, VisionStory itself). An adapter's contract test calls
 * {@link describeAvatarProviderContract} with a setup that builds a fresh provider and knows how
 * to hand it media.
 */

/** What a setup gives the suite; made fresh for each test. */
export interface AvatarProviderContractSubject {
  provider: AvatarProvider;
  /** Stores a local image file where the provider can read it; returns the reference to pass. */
  putImage(file: string): Promise<MediaRef>;
  /** Stores a local audio file where the provider can read it; returns the reference to pass. */
  putAudio(file: string): Promise<MediaRef>;
  teardown(): Promise<void>;
}

export interface AvatarProviderContractOptions {
  /** How long a short video may take to reach a terminal state. Default 20 s. */
  renderTimeoutMs?: number;
  /** Pause between getVideo calls while waiting. Default 100 ms. */
  pollIntervalMs?: number;
}

const AUDIO_SECONDS = 3;

/** Polls getVideo until done or failed, failing the test after `timeoutMs`. */
export async function waitForVideo(
  provider: AvatarProvider,
  videoId: string,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<{ final: VideoState; seen: VideoState[] }> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  const seen: VideoState[] = [];
  for (;;) {
    const state = await provider.getVideo(videoId);
    seen.push(state);
    if (state.state === 'done' || state.state === 'failed') return { final: state, seen };
    if (Date.now() > deadline) {
      throw new Error(`video ${videoId} still ${state.state} (${state.providerStatus}) after ${options.timeoutMs ?? 20_000} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to reject, but it resolved');
}

export function describeAvatarProviderContract(
  adapterName: string,
  setup: () => Promise<AvatarProviderContractSubject>,
  options: AvatarProviderContractOptions = {},
): void {
  const renderTimeoutMs = options.renderTimeoutMs ?? 20_000;
  const wait = (provider: AvatarProvider, videoId: string) =>
    waitForVideo(provider, videoId, { timeoutMs: renderTimeoutMs, intervalMs: options.pollIntervalMs ?? 100 });

  describe(`AvatarProvider contract: ${adapterName}`, () => {
    let mediaDir: string;
    let photo: string;
    let tone: string;
    let toneSeconds: number;
    let subject: AvatarProviderContractSubject;

    beforeAll(async () => {
      mediaDir = await fs.mkdtemp(path.join(os.tmpdir(), 'provider-contract-'));
      photo = await makeTestImage(mediaDir, { format: 'jpeg', width: 480, height: 640, name: 'photo' });
      tone = await makeTestAudio(mediaDir, { format: 'm4a', seconds: AUDIO_SECONDS, name: 'voice' });
      toneSeconds = (await probe(tone)).durationSec as number;
    });

    afterAll(async () => {
      await fs.rm(mediaDir, { recursive: true, force: true });
    });

    beforeEach(async () => {
      subject = await setup();
    });

    afterEach(async () => {
      await subject.teardown();
    });

    test('the same idempotency key gives the same avatar id, another key another id', async () => {
      const image = await subject.putImage(photo);
      const first = await subject.provider.createAvatar(image, 'job-1:avatar');
      const again = await subject.provider.createAvatar(image, 'job-1:avatar');
      const other = await subject.provider.createAvatar(image, 'job-2:avatar');
      expect(typeof first.avatarId).toBe('string');
      expect(first.avatarId.length).toBeGreaterThan(0);
      expect(again.avatarId).toBe(first.avatarId);
      expect(other.avatarId).not.toBe(first.avatarId);
    });

    test('a photo plus a voice becomes a playable MP4: H.264 video, AAC audio as long as the voice', async () => {
      const { avatarId } = await subject.provider.createAvatar(await subject.putImage(photo), 'job-3:avatar');
      const { videoId } = await subject.provider.createVideo(avatarId, await subject.putAudio(tone), 'job-3:video');

      const { final, seen } = await wait(subject.provider, videoId);
      for (const state of seen) expect(typeof state.providerStatus).toBe('string');
      expect(final.state).toBe('done');
      if (final.state !== 'done') return;
      expect(final.url.length).toBeGreaterThan(0);
      if (final.durationSec != null) expect(Math.abs(final.durationSec - toneSeconds)).toBeLessThan(0.3);

      const out = path.join(mediaDir, `${videoId}.mp4`);
      await pipeline(await subject.provider.openVideo(final.url), createWriteStream(out));
      const info = await probe(out);
      expect(info.formatName).toContain('mp4');
      const video = info.streams.find((s) => s.codecType === 'video');
      const audio = info.streams.find((s) => s.codecType === 'audio');
      expect(video?.codecName).toBe('h264');
      expect(audio?.codecName).toBe('aac');
      expect(Math.abs((audio?.durationSec ?? 0) - toneSeconds)).toBeLessThan(0.3);
    });

    test('the same video key twice gives one video id, and asking again after it is done still gives it', async () => {
      const { avatarId } = await subject.provider.createAvatar(await subject.putImage(photo), 'job-4:avatar');
      const audio = await subject.putAudio(tone);
      const [a, b] = await Promise.all([
        subject.provider.createVideo(avatarId, audio, 'job-4:video'),
        subject.provider.createVideo(avatarId, audio, 'job-4:video'),
      ]);
      expect(b.videoId).toBe(a.videoId);
      const { final } = await wait(subject.provider, a.videoId);
      expect(final.state).toBe('done');
      const later = await subject.provider.createVideo(avatarId, audio, 'job-4:video');
      expect(later.videoId).toBe(a.videoId);
      const other = await subject.provider.createVideo(avatarId, audio, 'job-5:video');
      expect(other.videoId).not.toBe(a.videoId);
    });

    test('a file that only looks like a JPEG is refused as an avatar with a PermanentError', async () => {
      const fake = await makeCorruptFile(mediaDir, { looksLike: 'jpeg', name: 'fake-photo' });
      const err = await rejection(subject.provider.createAvatar(await subject.putImage(fake), 'job-6:avatar'));
      expect(err).toBeInstanceOf(PermanentError);
    });

    test('asking for a video id the provider never made is a PermanentError', async () => {
      const err = await rejection(subject.provider.getVideo('vid_never_made_0000'));
      expect(err).toBeInstanceOf(PermanentError);
    });

    test('a video for an avatar the provider never made is refused with a PermanentError', async () => {
      const err = await rejection(subject.provider.createVideo('av_never_made_0000', await subject.putAudio(tone), 'job-7:video'));
      expect(err).toBeInstanceOf(PermanentError);
    });

    test('audio that is not sound ends the video as failed with a reason (or is refused up front)', async () => {
      const { avatarId } = await subject.provider.createAvatar(await subject.putImage(photo), 'job-8:avatar');
      const noise = await makeCorruptFile(mediaDir, { looksLike: 'mp3', name: 'not-a-voice' });
      let videoId: string;
      try {
        ({ videoId } = await subject.provider.createVideo(avatarId, await subject.putAudio(noise), 'job-8:video'));
      } catch (err) {
        expect(err).toBeInstanceOf(PermanentError);
        return;
      }
      const { final } = await wait(subject.provider, videoId);
      expect(final.state).toBe('failed');
      if (final.state === 'failed') expect(final.reason.length).toBeGreaterThan(0);
    });
  });
}
