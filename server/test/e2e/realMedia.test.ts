import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { ffmpegPath, hasSystemFfmpeg, preferFfmpegBuild } from '../../src/local/ffmpeg';
import { preparedImageKey } from '../../src/domain/blobKeys';
import {
  heifEncoder,
  makeExifRotatedJpeg,
  makeHeic,
  makeHugeDeclaredPng,
  makeTestAudio,
  makeTestImage,
  makeTransparentPng,
  probe,
} from '../support/media';
import { listFiles, startTestStack, upload, waitForJob, type TestStack } from '../support/stack';

// The files a phone really produces, through the whole local stack (upload checks, the photo
// preparation in the pipeline, the local render provider), once with the ffmpeg bundled in
// node_modules and once with the system's (Debian's) where there is one. Clips are 2 s: the
// machine is small.

const CI = process.env.CI === 'true';
const SECONDS = 2;
const haveHeifEnc = heifEncoder() !== null;
const haveSystem = hasSystemFfmpeg();

let media: string;
beforeAll(async () => {
  media = await mkdtemp(path.join(os.tmpdir(), 'real-media-'));
});
afterAll(async () => {
  preferFfmpegBuild('system');
  await rm(media, { recursive: true, force: true });
});

function run(file: string, args: string[]): Promise<{ stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, timeout: 60_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${path.basename(file)} failed: ${stderr.toString().slice(-400)}`)) : resolve({ stdout, stderr: stderr.toString() }),
    );
  });
}

/** Still stretches longer than 1 s that ffmpeg's freezedetect finds in the video. */
async function freezes(video: string): Promise<string[]> {
  const { stderr } = await run(ffmpegPath(), ['-hide_banner', '-i', video, '-vf', 'freezedetect=n=-60dB:d=1', '-an', '-f', 'null', '-']);
  return stderr.split('\n').filter((l) => l.includes('freeze_start'));
}

/** The RGB of one pixel of the frame at `atSec`. */
async function pixel(video: string, atSec: number, x: number, y: number): Promise<[number, number, number]> {
  const { stdout } = await run(ffmpegPath(), ['-v', 'error', '-ss', String(atSec), '-i', video, '-frames:v', '1', '-f', 'image2pipe', '-c:v', 'png', '-']);
  const { data, info } = await sharp(stdout).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const at = (y * info.width + x) * 3;
  return [data[at] as number, data[at + 1] as number, data[at + 2] as number];
}

const builds: Array<['bundled' | 'system', boolean]> = [
  ['bundled', true],
  ['system', haveSystem || CI],
];

describe.each(builds)('phone media with the %s ffmpeg', (build, available) => {
  const maybe = available ? test : test.skip;
  const suffix = available ? '' : ' (skipped: no system ffmpeg on PATH: apt-get install ffmpeg)';
  let stack: TestStack;

  beforeAll(async () => {
    if (!available) return;
    preferFfmpegBuild(build);
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function render(image: string, audio: string, fields: { name?: string; bio?: string } = {}) {
    const res = await upload(stack.baseUrl, { image, audio, instructorName: fields.name ?? 'Kim', instructorBio: fields.bio ?? 'Teacher' });
    expect(res.status).toBe(202);
    const job = await waitForJob(stack.baseUrl, res.body.jobId, undefined, 120_000);
    expect(job.error).toBeNull();
    expect(job.status).toBe('completed');
    const video = path.join(stack.dataDir, 'blobs', 'videos', `${job.jobId}.mp4`);
    return { job, video, info: await probe(video) };
  }

  maybe(`a portrait photo with EXIF orientation 6 becomes an upright video that moves and lasts as long as the voice${suffix}`, async () => {
    const photo = await makeExifRotatedJpeg(media, { width: 640, height: 480, name: `exif6-${build}` });
    const voice = await makeTestAudio(media, { format: 'wav', seconds: SECONDS, name: `voice-${build}` });
    const { video, info } = await render(photo, voice, { name: '김민지 Kim Minji', bio: '서울대학교 물리학과 교수. Teaches physics to first-year students.' });
    const picture = info.streams.find((s) => s.codecType === 'video')!;
    expect(picture.codecName).toBe('h264');
    expect(picture.height).toBeGreaterThan(picture.width!);
    expect(picture.height).toBeLessThanOrEqual(1280);
    expect(Math.min(picture.width!, picture.height!)).toBeLessThanOrEqual(720);
    expect(info.streams.find((s) => s.codecType === 'audio')?.codecName).toBe('aac');
    expect(Math.abs((info.durationSec ?? 0) - SECONDS)).toBeLessThan(0.1);
    expect(await freezes(video)).toEqual([]);
  }, 180_000);

  maybe(`a PNG with transparency is flattened onto white: the hidden colour never shows${suffix}`, async () => {
    const photo = await makeTransparentPng(media, { width: 640, height: 480, hidden: { r: 255, g: 0, b: 0 }, name: `alpha-${build}` });
    const voice = await makeTestAudio(media, { format: 'wav', seconds: SECONDS, name: `voice-alpha-${build}` });
    const { job, video } = await render(photo, voice);
    const prepared = await sharp(path.join(stack.dataDir, 'blobs', preparedImageKey(job.jobId))).raw().toBuffer({ resolveWithObject: true });
    expect([...prepared.data.subarray(0, 3)].every((v) => v >= 250)).toBe(true);
    // In the video too: the top-left corner, after the fade-in, is white-ish, not red.
    const [r, g, b] = await pixel(video, 1, 4, 4);
    expect(Math.min(r, g, b)).toBeGreaterThan(200);
  }, 180_000);

  maybe(`a WebP photo with an M4A recording, and a JPEG with an MP3, both complete${suffix}`, async () => {
    const webp = await makeTestImage(media, { format: 'webp', width: 480, height: 480, name: `photo-${build}` });
    const m4a = await makeTestAudio(media, { format: 'm4a', seconds: SECONDS, name: `voice-m4a-${build}` });
    const jpeg = await makeTestImage(media, { format: 'jpeg', width: 800, height: 600, name: `photo-${build}` });
    const mp3 = await makeTestAudio(media, { format: 'mp3', seconds: SECONDS, name: `voice-mp3-${build}` });
    const first = await render(webp, m4a);
    const second = await render(jpeg, mp3);
    for (const { info } of [first, second]) expect(Math.abs((info.durationSec ?? 0) - SECONDS)).toBeLessThan(0.15);
  }, 240_000);

  const heic = available && (haveHeifEnc || CI) ? test : test.skip;
  const heicSuffix = !available ? suffix : haveHeifEnc || CI ? '' : ' (skipped: heif-enc is not installed: apt-get install libheif-examples)';
  heic(`an iPhone HEIC photo is accepted and the job completes${heicSuffix}`, async () => {
    const photo = await makeHeic(media, { width: 640, height: 480, name: `iphone-${build}` });
    const voice = await makeTestAudio(media, { format: 'wav', seconds: SECONDS, name: `voice-heic-${build}` });
    const { job, info } = await render(photo, voice);
    expect(job.input.imageType).toBe('image/heic');
    expect(info.streams.find((s) => s.codecType === 'video')).toMatchObject({ width: 640, height: 480 });
  }, 180_000);

  maybe(`a 0.3 s recording, a 32×32 photo and a 1 MB PNG declaring 16000×16000 are refused at upload, leaving nothing${suffix}`, async () => {
    const photo = await makeTestImage(media, { format: 'jpeg', width: 640, height: 480, name: `ok-${build}` });
    const voice = await makeTestAudio(media, { format: 'wav', seconds: SECONDS, name: `ok-voice-${build}` });
    const blip = await makeTestAudio(media, { format: 'wav', seconds: 0.3, name: `blip-${build}` });
    const tiny = await makeTestImage(media, { format: 'png', width: 32, height: 32, name: `tiny-${build}` });
    const bomb = await makeHugeDeclaredPng(media, { width: 16000, height: 16000, bytes: 1024 * 1024, name: `bomb-${build}` });

    const jobCount = async () => (await fetch(`${stack.baseUrl}/jobs?limit=50`).then((r) => r.json() as Promise<{ jobs: unknown[] }>)).jobs.length;
    const uploads = async () => (await listFiles(path.join(stack.dataDir, 'blobs'))).filter((f) => f.startsWith('uploads/')).length;
    const before = { jobs: await jobCount(), uploads: await uploads() };

    const short = await upload(stack.baseUrl, { image: photo, audio: blip, instructorName: 'Kim' });
    expect(short.status).toBe(400);
    expect(short.body.error.code).toBe('audio_too_short');
    expect(short.body.error.message).toMatch(/0\.3 s.*at least 1 s/);

    const small = await upload(stack.baseUrl, { image: tiny, audio: voice, instructorName: 'Kim' });
    expect(small.status).toBe(400);
    expect(small.body.error.code).toBe('image_too_small');
    expect(small.body.error.message).toMatch(/32×32/);

    const huge = await upload(stack.baseUrl, { image: bomb, audio: voice, instructorName: 'Kim' });
    expect(huge.status).toBe(400);
    expect(huge.body.error.code).toBe('image_too_large');
    expect(huge.body.error.message).toMatch(/16000×16000.*40 MP/);

    for (const res of [short, small, huge]) expect(res.body.error.message).not.toMatch(/\/tmp|\/work|ffprobe|ffmpeg|sharp|vips/i);
    expect({ jobs: await jobCount(), uploads: await uploads() }).toEqual(before);
  }, 120_000);
});
