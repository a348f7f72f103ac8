import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { audioLengthSec } from '../../src/http/audioLength';
import { ffmpegPath } from '../../src/adapters/localRender/ffmpeg';
import { probe } from '../support/media';

// The upload's recording check reads lengths in JavaScript (the cloud image has no ffprobe).
// Each file a phone or an encoder really writes is made by ffmpeg and read both ways: the
// JavaScript reading must agree with ffprobe's.

const run = promisify(execFile);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'audio-length-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function encode(name: string, seconds: number, args: string[]): Promise<string> {
  const file = path.join(dir, name);
  await run(ffmpegPath(), ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=330:duration=${seconds}`, ...args, file]);
  return file;
}

async function lengthOf(file: string): Promise<number | null> {
  return audioLengthSec(createReadStream(file), (await stat(file)).size);
}

const FORMATS: Array<[string, string, string[]]> = [
  ['a PCM WAV', 'voice.wav', ['-c:a', 'pcm_s16le']],
  ['a constant-bitrate MP3 with its Xing header', 'cbr.mp3', ['-c:a', 'libmp3lame', '-b:a', '128k']],
  ['a variable-bitrate MP3 without any header to say its length', 'vbr.mp3', ['-c:a', 'libmp3lame', '-q:a', '4', '-write_xing', '0']],
  ['an M4A whose index sits at the end (as most encoders write it)', 'tail.m4a', ['-c:a', 'aac']],
  ['an M4A with its index first (faststart)', 'fast.m4a', ['-c:a', 'aac', '-movflags', '+faststart']],
  ['raw AAC in ADTS frames', 'voice.aac', ['-c:a', 'aac', '-f', 'adts']],
];

describe('reading how long a recording lasts without ffprobe', () => {
  test.each(FORMATS)('%s reads as long as it lasts', async (_what, name, args) => {
    const file = await encode(name, 7.3, args);
    const seconds = await lengthOf(file);
    // Read from the file itself (the local store: headers only) it says the same as streamed (Cloud Storage).
    expect(await audioLengthSec(file)).toBeCloseTo(seconds!, 3);
    const probed = await probe(file);
    const expected = probed.streams.find((s) => s.codecType === 'audio')!.durationSec ?? probed.durationSec!;
    expect(seconds).not.toBeNull();
    expect(Math.abs(seconds! - 7.3)).toBeLessThan(0.15);
    // ffprobe only estimates a header-less VBR MP3 from its first bitrate; the frames are counted here.
    if (name !== 'vbr.mp3') expect(Math.abs(seconds! - expected)).toBeLessThan(0.1);
  }, 30_000);

  test('a long recording is read to its length, not to its first frames', async () => {
    const file = await encode('long.mp3', 95, ['-c:a', 'libmp3lame', '-q:a', '6', '-write_xing', '0']);
    expect(Math.round((await lengthOf(file))!)).toBe(95);
  }, 30_000);

  test('bytes that hold no sound read as no length', async () => {
    const junk = path.join(dir, 'junk.mp3');
    await writeFile(junk, Buffer.concat([Buffer.from('ID3'), Buffer.alloc(4000, 0x41)]));
    expect(await lengthOf(junk)).toBeNull();

    const wav = await encode('header-only-source.wav', 2, ['-c:a', 'pcm_s16le']);
    const headerOnly = path.join(dir, 'header-only.wav');
    await writeFile(headerOnly, (await readFile(wav)).subarray(0, 44));
    expect(await lengthOf(headerOnly)).toBeNull();
    expect(await audioLengthSec(headerOnly)).toBeNull();
  }, 30_000);

  test('an M4A cut before its index cannot be read', async () => {
    const whole = await encode('cut-source.m4a', 3, ['-c:a', 'aac']);
    const cut = path.join(dir, 'cut.m4a');
    await writeFile(cut, (await readFile(whole)).subarray(0, 3000));
    await expect(lengthOf(cut)).rejects.toThrow();
  }, 30_000);
});
