import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { findOnPath, runFfmpeg } from '../../src/adapters/localRender/ffmpeg';

/**
 * Test media made on the spot with ffmpeg's lavfi sources (testsrc pattern, sine tone): real,
 * decodable files in every upload format, never downloaded. Each call takes tens of
 * milliseconds.
 *
 * Formats the bundled ffmpeg (@ffmpeg-installer/ffmpeg, 2018 static build) encodes, all checked:
 * images jpeg (mjpeg), png, webp (libwebp); audio wav (pcm_s16le), mp3 (libmp3lame),
 * m4a (aac in the ipod muxer).
 */

export { probeMedia as probe } from '../../src/adapters/localRender/ffmpeg';
export type { MediaInfo, ProbedStream } from '../../src/adapters/localRender/ffmpeg';

export type ImageFormat = 'jpeg' | 'png' | 'webp';
export type AudioFormat = 'wav' | 'mp3' | 'm4a';
export type HeaderFormat = ImageFormat | AudioFormat;

const IMAGE_EXT: Record<ImageFormat, string> = { jpeg: 'jpg', png: 'png', webp: 'webp' };
const IMAGE_CODEC: Record<ImageFormat, string[]> = {
  jpeg: ['-c:v', 'mjpeg', '-q:v', '3'],
  png: ['-c:v', 'png'],
  webp: ['-c:v', 'libwebp', '-quality', '80'],
};
/** The MIME type each format is uploaded as. */
export const CONTENT_TYPE: Record<HeaderFormat, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  wav: 'audio/wav',
  mp3: 'audio/mpeg',
  m4a: 'audio/mp4',
};
const AUDIO_CODEC: Record<AudioFormat, string[]> = {
  wav: ['-c:a', 'pcm_s16le'],
  mp3: ['-c:a', 'libmp3lame', '-b:a', '128k'],
  // The .m4a extension picks the ipod muxer, which is what phones and VisionStory call m4a.
  m4a: ['-c:a', 'aac', '-b:a', '128k'],
};

/** A test-pattern image (ffmpeg testsrc) of the given size; default 640x480. Returns its path. */
export async function makeTestImage(
  dir: string,
  options: { format: ImageFormat; width?: number; height?: number; name?: string },
): Promise<string> {
  const width = options.width ?? 640;
  const height = options.height ?? 480;
  const file = path.join(dir, `${options.name ?? `image-${width}x${height}`}.${IMAGE_EXT[options.format]}`);
  await fs.mkdir(dir, { recursive: true });
  await runFfmpeg(
    ['-y', '-f', 'lavfi', '-i', `testsrc=size=${width}x${height}:rate=1`, '-frames:v', '1', ...IMAGE_CODEC[options.format], file],
    { timeoutMs: 30_000 },
  );
  return file;
}

/** A sine tone (default 440 Hz, mono 44.1 kHz) lasting `seconds`. Returns its path. */
export async function makeTestAudio(
  dir: string,
  options: { format: AudioFormat; seconds: number; name?: string; frequency?: number },
): Promise<string> {
  const file = path.join(dir, `${options.name ?? `tone-${options.seconds}s`}.${options.format}`);
  await fs.mkdir(dir, { recursive: true });
  await runFfmpeg(
    [
      '-y',
      '-f',
      'lavfi',
      '-i',
      `sine=frequency=${options.frequency ?? 440}:sample_rate=44100:duration=${options.seconds}`,
      ...AUDIO_CODEC[options.format],
      file,
    ],
    { timeoutMs: 30_000 },
  );
  return file;
}

/**
 * A file of exactly `bytes` bytes whose first bytes are a real file of type `headerOf` (a
 * small image or a one-second tone), padded with zeros: what a size-limit check sees as a
 * genuine upload that is too big. For wav the RIFF and data sizes are rewritten so the file
 * stays a consistent (silent-tailed) WAV. Without `headerOf` the file is all zeros. The padding
 * is made with truncate, so a 50 MB file costs no memory. Returns its path.
 */
export async function makeBigFile(dir: string, bytes: number, headerOf?: HeaderFormat, name?: string): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  const ext = headerOf ? (headerOf in IMAGE_EXT ? IMAGE_EXT[headerOf as ImageFormat] : headerOf) : 'bin';
  const file = path.join(dir, `${name ?? `big-${bytes}`}.${ext}`);
  if (!headerOf) {
    await fs.writeFile(file, '');
    await fs.truncate(file, bytes);
    return file;
  }
  const seedDir = await fs.mkdtemp(path.join(dir, '.seed-'));
  try {
    const seed =
      headerOf === 'wav' || headerOf === 'mp3' || headerOf === 'm4a'
        ? await makeTestAudio(seedDir, { format: headerOf, seconds: 1 })
        : await makeTestImage(seedDir, { format: headerOf, width: 320, height: 256 });
    await fs.copyFile(seed, file);
  } finally {
    await fs.rm(seedDir, { recursive: true, force: true });
  }
  await fs.truncate(file, bytes);
  if (headerOf === 'wav' && bytes >= 44) await fixWavSizes(file, bytes);
  return file;
}

/** Rewrites the RIFF chunk size and the data chunk size so they match the file's length. */
async function fixWavSizes(file: string, bytes: number): Promise<void> {
  const handle = await fs.open(file, 'r+');
  try {
    const head = Buffer.alloc(Math.min(bytes, 4096));
    await handle.read(head, 0, head.length, 0);
    const riff = Buffer.alloc(4);
    riff.writeUInt32LE(Math.min(bytes - 8, 0xffffffff));
    await handle.write(riff, 0, 4, 4);
    const dataAt = head.indexOf('data', 12, 'latin1');
    if (dataAt >= 0 && dataAt + 8 <= bytes) {
      const size = Buffer.alloc(4);
      size.writeUInt32LE(Math.min(bytes - (dataAt + 8), 0xffffffff));
      await handle.write(size, 0, 4, dataAt + 4);
    }
  } finally {
    await handle.close();
  }
}

/** Deterministic pseudo-random bytes (xorshift32), so a failing test fails the same way again. */
function noise(length: number, seed = 0x9e3779b9): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

const MAGIC: Record<HeaderFormat, Buffer> = {
  jpeg: Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
  png: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  webp: Buffer.concat([Buffer.from('RIFF'), Buffer.from([0, 0, 0, 0]), Buffer.from('WEBPVP8 ')]),
  wav: Buffer.concat([Buffer.from('RIFF'), Buffer.from([0, 0, 0, 0]), Buffer.from('WAVEfmt ')]),
  mp3: Buffer.from('ID3'),
  m4a: Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypM4A ')]),
};

/**
 * A file that starts with the magic bytes of `looksLike` (so a content sniffer accepts it) but
 * is (seeded, repeatable) garbage after them: no decoder can read it. For "bad media" tests. Without
 * `looksLike`, plain text. Returns its path.
 */
export async function makeCorruptFile(
  dir: string,
  options: { looksLike?: HeaderFormat; bytes?: number; name?: string } = {},
): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  const bytes = options.bytes ?? 2048;
  const looksLike = options.looksLike;
  const ext = looksLike ? (looksLike in IMAGE_EXT ? IMAGE_EXT[looksLike as ImageFormat] : looksLike) : 'txt';
  const file = path.join(dir, `${options.name ?? `corrupt-${looksLike ?? 'text'}`}.${ext}`);
  const body = looksLike
    ? Buffer.concat([MAGIC[looksLike], noise(Math.max(0, bytes - MAGIC[looksLike].length))])
    : Buffer.from('this is not a picture, just some text\n'.repeat(Math.ceil(bytes / 38))).subarray(0, bytes);
  await fs.writeFile(file, body);
  return file;
}

/**
 * A phone-style portrait: the pixels are stored landscape (`width`×`height`, width > height)
 * with EXIF orientation 6, so a viewer that honours EXIF shows it upright as height×width.
 */
export async function makeExifRotatedJpeg(dir: string, options: { width?: number; height?: number; name?: string } = {}): Promise<string> {
  const width = options.width ?? 640;
  const height = options.height ?? 480;
  const landscape = await makeTestImage(dir, { format: 'png', width, height, name: `${options.name ?? 'exif6'}-source` });
  const file = path.join(dir, `${options.name ?? 'exif6'}.jpg`);
  await sharp(landscape).withMetadata({ orientation: 6 }).jpeg({ quality: 85 }).toFile(file);
  return file;
}

/**
 * A PNG with transparency: fully transparent `hidden` colour everywhere except an opaque test
 * pattern in the middle half. A renderer that ignores alpha shows the hidden colour.
 */
export async function makeTransparentPng(
  dir: string,
  options: { width?: number; height?: number; hidden?: { r: number; g: number; b: number }; name?: string } = {},
): Promise<string> {
  const width = options.width ?? 640;
  const height = options.height ?? 480;
  const hidden = options.hidden ?? { r: 255, g: 0, b: 0 };
  const inner = await makeTestImage(dir, { format: 'png', width: width / 2, height: height / 2, name: `${options.name ?? 'alpha'}-inner` });
  const file = path.join(dir, `${options.name ?? 'alpha'}.png`);
  await sharp({ create: { width, height, channels: 4, background: { ...hidden, alpha: 0 } } })
    .composite([{ input: inner, left: width / 4, top: height / 4 }])
    .png()
    .toFile(file);
  return file;
}

/**
 * A PNG whose header declares `width`×`height` but whose pixel data is a short run of zlib
 * bytes padded to `bytes`: what a decompression bomb looks like to a header check. No decoder
 * should ever be run on it.
 */
export async function makeHugeDeclaredPng(dir: string, options: { width: number; height: number; bytes: number; name?: string }): Promise<string> {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf: Buffer): number => {
    let c = 0xffffffff;
    for (const b of buf) c = (crcTable[(c ^ b) & 0xff] as number) ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(options.width, 0);
  ihdr.writeUInt32BE(options.height, 4);
  ihdr.writeUInt8(8, 8); // bit depth
  ihdr.writeUInt8(2, 9); // RGB
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const head = Buffer.concat([signature, chunk('IHDR', ihdr)]);
  const idat = chunk('IDAT', Buffer.alloc(Math.max(0, options.bytes - head.length - 12 - 12)));
  const file = path.join(dir, `${options.name ?? `declares-${options.width}x${options.height}`}.png`);
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(file, Buffer.concat([head, idat, chunk('IEND', Buffer.alloc(0))]));
  return file;
}

/** `heif-enc` from Debian's libheif-examples, or null when it is not installed. */
export function heifEncoder(): string | null {
  return findOnPath('heif-enc', process.env.PATH);
}

/** An iPhone-style HEIC photo made with `heif-enc` from a test pattern. Returns its path. */
export async function makeHeic(dir: string, options: { width?: number; height?: number; name?: string } = {}): Promise<string> {
  const encoder = heifEncoder();
  if (!encoder) throw new Error('heif-enc is not installed (apt-get install libheif-examples)');
  const source = await makeTestImage(dir, { format: 'png', width: options.width ?? 640, height: options.height ?? 480, name: `${options.name ?? 'photo'}-heic-source` });
  const file = path.join(dir, `${options.name ?? 'photo'}.heic`);
  await new Promise<void>((resolve, reject) => {
    execFile(encoder, ['-q', '80', '-o', file, source], { timeout: 60_000 }, (err) => (err ? reject(err) : resolve()));
  });
  return file;
}
