import type { Logger } from 'pino';
import { Readable } from 'node:stream';
import type { OutputInfo, Sharp, SharpOptions } from 'sharp';
import { PermanentError } from '../domain/errors';
import type { MediaRef } from '../ports/avatarProvider';
import type { BlobStore } from '../ports/blobStore';
import { preparedImageKey } from '../domain/blobKeys';

/**
 * One media preparation for every provider: the uploaded photo becomes a clean JPEG (EXIF
 * orientation applied, transparency flattened onto white, sRGB, longest side limited) before
 * any provider sees it, so VisionStory and the local renderer get the same picture.
 *
 * sharp's prebuilt libvips reads JPEG, PNG, WebP and the HEIF container, but has no HEVC
 * decoder: HEIC photos (every iPhone's default) are decoded by libheif compiled to
 * WebAssembly (heic-decode) and handed to sharp as raw pixels.
 */

/** Longest side of the prepared photo: more than any talking-head provider uses. */
export const PREPARED_MAX_SIDE = 2048;

/** What a picture's header says, read without decoding its pixels. */
export interface ImageHeader {
  format: string;
  /** Upright width and height (after the EXIF orientation is applied). */
  width: number;
  height: number;
}

/**
 * Reads the picture's header (sharp reads headers only: no pixel is decoded, whatever size the
 * header declares). Throws when the bytes are not a picture sharp knows.
 */
export async function readImageHeader(input: Buffer | string): Promise<ImageHeader> {
  const sharp = await loadSharp();
  const meta = await sharp(input, { limitInputPixels: false }).metadata();
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  if (!meta.format || !width || !height) throw new Error('no picture dimensions in the header');
  return { format: meta.format, width, height };
}

interface DecodedHeic {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

/*
 * sharp (libvips) and heic-decode (libheif compiled to WebAssembly) take about a quarter of a
 * second to load: they are loaded when a photo is first read, not when the service starts (the
 * worker role, and an api that has not had an upload yet, start without them).
 */
let sharpModule: Promise<(input?: Buffer | string, options?: SharpOptions) => Sharp> | undefined;
function loadSharp(): Promise<(input?: Buffer | string, options?: SharpOptions) => Sharp> {
  sharpModule ??= import('sharp').then((m) => m.default);
  return sharpModule;
}

// heic-decode ships no types; this is the one call used.
function decodeHeic(input: { buffer: Buffer | Uint8Array }): Promise<DecodedHeic> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const decode = require('heic-decode') as (input: { buffer: Buffer | Uint8Array }) => Promise<DecodedHeic>;
  return decode(input);
}

function isHeif(header: ImageHeader): boolean {
  return header.format === 'heif';
}

async function readAll(stream: Readable, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    length += buf.length;
    if (length > maxBytes) {
      stream.destroy();
      throw new Error(`photo larger than ${maxBytes} bytes`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

export interface PrepareOptions {
  blobs: BlobStore;
  logger: Logger;
  /** Refuse pictures declaring more pixels than this before decoding them. */
  maxPixels: number;
  /** The upload size limit: the photo is never larger. */
  maxBytes: number;
}

const UNREADABLE = 'The photo could not be read as a picture. Please upload a JPEG, PNG, WebP or HEIC photo.';

/**
 * Makes (or finds, when a previous attempt made it) the job's prepared JPEG and returns where it
 * is. Pictures that cannot be decoded fail with a permanent `bad_media` error whose message a
 * person can read; the decoder's own words go to the log only.
 */
export async function preparePhoto(options: PrepareOptions, jobId: string, source: MediaRef): Promise<MediaRef> {
  const key = preparedImageKey(jobId);
  const prepared: MediaRef = { key, contentType: 'image/jpeg' };
  if (await options.blobs.stat(key)) return prepared;

  const started = Date.now();
  const log = options.logger.child({ jobId });
  let output: { data: Buffer; info: OutputInfo };
  let header: ImageHeader;
  try {
    const input = await readAll(await options.blobs.openRead(source.key), options.maxBytes);
    header = await readImageHeader(input);
    if (header.width * header.height > options.maxPixels) {
      throw new PermanentError(
        'bad_media',
        `The photo is ${header.width}×${header.height} pixels; the most accepted is ${Math.round(options.maxPixels / 1e6)} megapixels.`,
      );
    }
    const sharp = await loadSharp();
    let image: Sharp;
    if (isHeif(header)) {
      // libheif applies the HEIF rotation and mirror boxes itself; raw pixels carry no EXIF.
      const decoded = await decodeHeic({ buffer: input });
      image = sharp(Buffer.from(decoded.data.buffer, decoded.data.byteOffset, decoded.data.byteLength), {
        raw: { width: decoded.width, height: decoded.height, channels: 4 },
      });
    } else {
      image = sharp(input, { limitInputPixels: options.maxPixels, failOn: 'error' }).autoOrient();
    }
    output = await image
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .resize({ width: PREPARED_MAX_SIDE, height: PREPARED_MAX_SIDE, fit: 'inside', withoutEnlargement: true })
      .jpeg({ quality: 90, chromaSubsampling: '4:4:4' })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    if (err instanceof PermanentError) throw err;
    if ((err as { code?: string })?.code === 'not_found') throw err;
    log.warn({ message: 'photo could not be prepared', error: err instanceof Error ? err.message : String(err) });
    throw new PermanentError('bad_media', UNREADABLE, { cause: err });
  }
  await options.blobs.putStream(key, Readable.from([output.data]), { contentType: 'image/jpeg' });
  log.info({
    message: 'photo prepared',
    from: { format: header.format, width: header.width, height: header.height },
    to: { width: output.info.width, height: output.info.height, bytes: output.data.length },
    ms: Date.now() - started,
  });
  return prepared;
}
