import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { AUDIO_HEAD_BYTES, audioLengthSec, wavLengthSec } from '../../src/http/audioLength';
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

describe("a WAV's length read from the first bytes the upload kept", () => {
  const headOf = async (file: string): Promise<{ head: Buffer; bytes: number }> => {
    const whole = await readFile(file);
    return { head: whole.subarray(0, AUDIO_HEAD_BYTES), bytes: whole.length };
  };
  const durationOf = async (file: string): Promise<number> => {
    const probed = await probe(file);
    return probed.streams.find((s) => s.codecType === 'audio')!.durationSec ?? probed.durationSec!;
  };

  test.each([
    ['16-bit PCM', ['-c:a', 'pcm_s16le']],
    ['24-bit stereo PCM', ['-c:a', 'pcm_s24le', '-ac', '2']],
    ['8-bit PCM', ['-c:a', 'pcm_u8']],
    ['32-bit float', ['-c:a', 'pcm_f32le']],
    ['PCM with a broadcast (bext) chunk before its data', ['-c:a', 'pcm_s16le', '-write_bext', '1']],
  ])('%s: as long as ffprobe and the file reader say', async (_what, args) => {
    const file = await encode(`head-${args.join('')}.wav`, 6.2, args);
    const { head, bytes } = await headOf(file);
    const seconds = wavLengthSec(head, bytes);
    expect(seconds).toBeCloseTo(await durationOf(file), 3);
    expect(seconds).toBeCloseTo((await audioLengthSec(file))!, 3);
  }, 30_000);

  test('a WAV cut halfway lasts as long as the samples it really holds', async () => {
    const file = await encode('head-cut-source.wav', 4, ['-c:a', 'pcm_s16le']);
    const whole = await readFile(file);
    const cut = path.join(dir, 'head-cut.wav');
    await writeFile(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    const { head, bytes } = await headOf(cut);
    expect(wavLengthSec(head, bytes)).toBeCloseTo(await durationOf(cut), 2);
    expect(wavLengthSec(head, bytes)).toBeCloseTo(2, 1);
  }, 30_000);

  test('a header with no sample after it is no sound', async () => {
    const file = await encode('head-empty-source.wav', 1, ['-c:a', 'pcm_s16le']);
    const whole = await readFile(file);
    const header = whole.subarray(0, whole.indexOf('data') + 8);
    expect(wavLengthSec(header, header.length)).toBeNull();
  }, 30_000);

  test('what it cannot read for sure is left to the file reader (undefined)', async () => {
    const adpcm = await encode('head-adpcm.wav', 2, ['-c:a', 'adpcm_ms']);
    const { head, bytes } = await headOf(adpcm);
    expect(wavLengthSec(head, bytes)).toBeUndefined();
    // A data chunk that starts beyond the kept bytes (a large chunk in front of it).
    const pcm = await readFile(await encode('head-far-source.wav', 1, ['-c:a', 'pcm_s16le']));
    const junk = Buffer.alloc(8 + AUDIO_HEAD_BYTES);
    junk.write('JUNK', 0, 'latin1');
    junk.writeUInt32LE(AUDIO_HEAD_BYTES, 4);
    const dataAt = pcm.indexOf('data');
    const far = Buffer.concat([pcm.subarray(0, dataAt), junk, pcm.subarray(dataAt)]);
    far.writeUInt32LE(far.length - 8, 4);
    expect(wavLengthSec(far.subarray(0, AUDIO_HEAD_BYTES), far.length)).toBeUndefined();
    expect(wavLengthSec(Buffer.from('ID3 not a wave at all'), 100)).toBeUndefined();
  }, 30_000);
});
