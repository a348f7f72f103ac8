import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { ClientError } from './errors';
import { readImageHeader } from '../pipeline/prepareMedia';
import type { UploadLimitValues } from '../domain/uploadRules';
import type { BlobStore } from '../ports/blobStore';
import { audioLengthSec, wavLengthSec } from './audioLength';
import type { StoredUpload } from './upload';

/**
 * Checks made on a stored upload before its job is created, so a photo or a recording that can
 * only make a useless video is refused at once rather than failing later:
 * - the photo's header (no pixel is decoded): at least `imageMinSide` on its short side and at
 *   most `imageMaxPixels` pixels, so a small file declaring a huge picture never reaches a
 *   decoder;
 * - the recording, read from its headers and frames in JavaScript (no ffprobe: the cloud image
 *   carries no ffmpeg): it holds sound lasting between `audioMinSec` and `audioMaxSec`.
 * Messages say what is wrong in a sentence; the tools' own words go to the log.
 */
export type MediaLimits = UploadLimitValues['media'];

/** Enough of a file for any picture header: JPEG EXIF segments are at most 64 KB each. */
const HEADER_BYTES = 512 * 1024;

async function readHead(stream: Readable, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    const buf = chunk as Buffer;
    chunks.push(buf);
    length += buf.length;
    if (length >= n) break;
  }
  stream.destroy();
  return Buffer.concat(chunks).subarray(0, n);
}

function megapixels(pixels: number): string {
  return `${Math.round(pixels / 1e5) / 10} MP`;
}

async function checkImage(blobs: BlobStore, image: StoredUpload, limits: MediaLimits, log?: Logger): Promise<void> {
  let header;
  try {
    const input = blobs.localPath ? blobs.localPath(image.key) : await readHead(await blobs.openRead(image.key), HEADER_BYTES);
    header = await readImageHeader(input);
  } catch (err) {
    log?.info({ message: 'uploaded image header unreadable', error: err instanceof Error ? err.message : String(err) });
    throw new ClientError(415, 'unreadable_image', 'The image could not be read as a picture; send a JPEG, PNG, WebP or HEIC photo');
  }
  const { width, height } = header;
  if (width * height > limits.imageMaxPixels) {
    throw new ClientError(
      400,
      'image_too_large',
      `The image is ${width}×${height} pixels (${megapixels(width * height)}); the most accepted is ${megapixels(limits.imageMaxPixels)}`,
    );
  }
  if (Math.min(width, height) < limits.imageMinSide) {
    throw new ClientError(
      400,
      'image_too_small',
      `The image is ${width}×${height} pixels; its shorter side must be at least ${limits.imageMinSide} pixels for a face to be seen`,
    );
  }
}

async function checkAudio(blobs: BlobStore, audio: StoredUpload, limits: MediaLimits, log?: Logger): Promise<number> {
  let seconds: number | null = null;
  try {
    // A WAV says its length in its first bytes, which the upload kept: no read of the file, no
    // wait behind the other uploads' disk work. Other recordings are read from the store.
    const fromHead = audio.head && audio.mime === 'audio/wav' ? wavLengthSec(audio.head, audio.bytes) : undefined;
    seconds = fromHead !== undefined ? fromHead : await audioLengthSec(blobs.localPath ? blobs.localPath(audio.key) : await blobs.openRead(audio.key), audio.bytes);
    if (seconds === null) log?.info({ message: 'uploaded audio has no sound to read', type: audio.mime });
  } catch (err) {
    log?.info({ message: 'uploaded audio unreadable', error: err instanceof Error ? err.message : String(err) });
  }
  if (seconds === null || !Number.isFinite(seconds)) {
    throw new ClientError(415, 'unreadable_audio', 'The audio could not be read as a recording; send a WAV, MP3 or M4A file');
  }
  if (seconds < limits.audioMinSec) {
    throw new ClientError(
      400,
      'audio_too_short',
      `The recording lasts ${seconds.toFixed(1)} s; it must last at least ${limits.audioMinSec} s`,
    );
  }
  if (seconds > limits.audioMaxSec) {
    throw new ClientError(
      400,
      'audio_too_long',
      `The recording lasts ${Math.round(seconds)} s; the longest accepted is ${limits.audioMaxSec} s`,
    );
  }
  return seconds;
}

/**
 * Starts checking one stored file at once, while the rest of the form may still be arriving (the
 * photo comes first: its check overlaps the recording's upload). A failure is kept for whoever
 * awaits the answer, never left unhandled: an upload refused for another reason drops it.
 */
export function startMediaCheck(blobs: BlobStore, file: StoredUpload, limits: MediaLimits, log?: Logger): Promise<number | undefined> {
  const check = file.field === 'image' ? checkImage(blobs, file, limits, log).then(() => undefined) : checkAudio(blobs, file, limits, log);
  check.catch(() => undefined);
  return check;
}

/**
 * Refuses (ClientError 400/415) a photo or a recording that cannot make a good video; answers the
 * recording's length, which predictive polling uses to forecast the provider's render time. A
 * check already started by {@link startMediaCheck} is awaited, not made again; the photo's
 * refusal is said first.
 */
export async function checkUploadedMedia(
  blobs: BlobStore,
  files: { image: StoredUpload; audio: StoredUpload },
  limits: MediaLimits,
  log?: Logger,
  started: { image?: Promise<number | undefined>; audio?: Promise<number | undefined> } = {},
): Promise<{ audioDurationSec: number }> {
  const audio = started.audio ?? startMediaCheck(blobs, files.audio, limits, log);
  await (started.image ?? checkImage(blobs, files.image, limits, log));
  return { audioDurationSec: (await audio)! };
}
