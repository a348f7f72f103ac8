import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FfmpegError, findOnPath, ffmpegPath, ffprobePath, probeMedia, runFfmpeg } from '../../../src/adapters/localRender/ffmpeg';
import { makeBigFile, makeCorruptFile, makeTestAudio, makeTestImage } from '../../support/media';

let dir: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ffmpeg-test-'));
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('finding the binaries', () => {
  test('ffmpeg and ffprobe resolve to executable files even without a system ffmpeg', async () => {
    for (const bin of [ffmpegPath(), ffprobePath()]) {
      expect(path.isAbsolute(bin)).toBe(true);
      await expect(fs.access(bin, fs.constants.X_OK)).resolves.toBeUndefined();
    }
  });

  test('a PATH lookup finds an executable in a listed directory and skips the others', async () => {
    const bin = path.join(dir, 'pathbin');
    await fs.mkdir(bin, { recursive: true });
    await fs.writeFile(path.join(bin, 'fake-tool'), '#!/bin/sh\n', { mode: 0o755 });
    await fs.writeFile(path.join(bin, 'not-executable'), 'x', { mode: 0o644 });
    const searchPath = ['/nonexistent-dir', bin].join(path.delimiter);
    expect(findOnPath('fake-tool', searchPath)).toBe(path.join(bin, 'fake-tool'));
    expect(findOnPath('not-executable', searchPath)).toBeNull();
    expect(findOnPath('fake-tool', undefined)).toBeNull();
  });
});

describe('test media generated with ffmpeg', () => {
  test.each([
    ['jpeg', 'mjpeg'],
    ['png', 'png'],
    ['webp', 'webp'],
  ] as const)('a %s test image probes as a %s picture of the asked size', async (format, codec) => {
    const file = await makeTestImage(dir, { format, width: 320, height: 240 });
    const info = await probeMedia(file);
    expect(info.streams).toHaveLength(1);
    expect(info.streams[0]).toMatchObject({ codecType: 'video', codecName: codec, width: 320, height: 240 });
  });

  test.each([
    ['wav', 'pcm_s16le'],
    ['mp3', 'mp3'],
    ['m4a', 'aac'],
  ] as const)('a 2 s %s tone probes as %s audio lasting about 2 s', async (format, codec) => {
    const file = await makeTestAudio(dir, { format, seconds: 2 });
    const info = await probeMedia(file);
    expect(info.streams[0]).toMatchObject({ codecType: 'audio', codecName: codec });
    expect(info.durationSec).toBeGreaterThan(1.9);
    expect(info.durationSec).toBeLessThan(2.15);
  });

  test('a big jpeg has exactly the asked size and starts with the JPEG magic bytes', async () => {
    const file = await makeBigFile(dir, 3 * 1024 * 1024, 'jpeg');
    const stat = await fs.stat(file);
    expect(stat.size).toBe(3 * 1024 * 1024);
    const head = (await fs.readFile(file)).subarray(0, 3);
    expect([...head]).toEqual([0xff, 0xd8, 0xff]);
  });

  test('a big wav stays a readable WAV whose header matches its size', async () => {
    const bytes = 2 * 1024 * 1024;
    const file = await makeBigFile(dir, bytes, 'wav');
    const buf = await fs.readFile(file);
    expect(buf.length).toBe(bytes);
    expect(buf.subarray(0, 4).toString('latin1')).toBe('RIFF');
    expect(buf.readUInt32LE(4)).toBe(bytes - 8);
    const info = await probeMedia(file);
    // 44.1 kHz mono 16-bit: about 88 KB per second.
    expect(info.durationSec).toBeGreaterThan(20);
  });

  test('a corrupt jpeg looks like one by its first bytes but ffmpeg cannot decode it', async () => {
    const file = await makeCorruptFile(dir, { looksLike: 'jpeg' });
    const head = (await fs.readFile(file)).subarray(0, 2);
    expect([...head]).toEqual([0xff, 0xd8]);
    await expect(runFfmpeg(['-i', file, '-frames:v', '1', '-f', 'null', '-'])).rejects.toBeInstanceOf(FfmpegError);
  });
});

describe('running ffmpeg', () => {
  test('a failing run rejects with the exit code and the tail of stderr', async () => {
    const missing = path.join(dir, 'no-such-input.wav');
    const err = (await runFfmpeg(['-i', missing, '-f', 'null', '-']).catch((e: unknown) => e)) as FfmpegError;
    expect(err).toBeInstanceOf(FfmpegError);
    expect(err.exitCode).not.toBe(0);
    expect(err.stderrTail).toContain('no-such-input.wav');
  });

  test('a run longer than its timeout is killed and says it timed out', async () => {
    const started = Date.now();
    const err = (await runFfmpeg(['-re', '-f', 'lavfi', '-i', 'sine=duration=30', '-f', 'null', '-'], {
      timeoutMs: 300,
    }).catch((e: unknown) => e)) as FfmpegError;
    expect(err).toBeInstanceOf(FfmpegError);
    expect(err.timedOut).toBe(true);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  test('aborting the signal kills a running ffmpeg', async () => {
    const controller = new AbortController();
    const run = runFfmpeg(['-re', '-f', 'lavfi', '-i', 'sine=duration=30', '-f', 'null', '-'], { signal: controller.signal });
    setTimeout(() => controller.abort(), 200);
    const err = (await run.catch((e: unknown) => e)) as FfmpegError;
    expect(err).toBeInstanceOf(FfmpegError);
    expect(err.aborted).toBe(true);
  });

  test('probing random bytes rejects', async () => {
    const file = path.join(dir, 'random.bin');
    await fs.writeFile(file, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251)));
    await expect(probeMedia(file)).rejects.toBeInstanceOf(FfmpegError);
  });

  test('a plain text file probes as ffmpeg\'s "tty" video, so probing alone does not prove a picture', async () => {
    // ffmpeg renders text files as ANSI art: callers must check the codec, not just that probing worked.
    const file = await makeCorruptFile(dir, { name: 'plain' });
    const info = await probeMedia(file);
    expect(info.formatName).toBe('tty');
  });
});
