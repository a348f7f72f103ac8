import type { Readable } from 'node:stream';

/**
 * How long a recording lasts, read in JavaScript from its own headers and frames (WAV's data
 * chunk, MP3's Xing/VBRI header or else every frame, MP4's movie header, ADTS frames), so the api
 * needs no ffprobe binary: the image for Cloud Run carries no ffmpeg at all.
 *
 * Answers null when the bytes hold no readable sound (not audio, or cut before its first frame).
 */
/** Bytes of a recording's start kept by the upload for {@link wavLengthSec}: room for any usual WAV header. */
export const AUDIO_HEAD_BYTES = 16 * 1024;

const WAVE_FORMATS = new Set([0x0001 /* PCM */, 0x0003 /* IEEE float */, 0xfffe /* extensible */]);

/**
 * A PCM WAV's length from its first bytes and its size, with no read of the file: the samples
 * the `data` chunk holds (as many as the file really has, when it was cut) over the sample rate.
 * Answers undefined when `head` is not a PCM WAV whose `fmt ` and `data` chunks start within it
 * (the general reader decides then), null when the file holds no sample.
 */
export function wavLengthSec(head: Buffer, fileBytes: number): number | null | undefined {
  if (head.length < 12 || head.toString('latin1', 0, 4) !== 'RIFF' || head.toString('latin1', 8, 12) !== 'WAVE') return undefined;
  let sampleRate = 0;
  let blockAlign = 0;
  for (let pos = 12; pos + 8 <= head.length; ) {
    const id = head.toString('latin1', pos, pos + 4);
    const size = head.readUInt32LE(pos + 4);
    const body = pos + 8;
    if (id === 'fmt ') {
      if (body + 16 > head.length) return undefined;
      if (!WAVE_FORMATS.has(head.readUInt16LE(body))) return undefined;
      sampleRate = head.readUInt32LE(body + 4);
      blockAlign = head.readUInt16LE(body + 12);
      if (sampleRate === 0 || blockAlign === 0) return undefined;
    } else if (id === 'data') {
      if (sampleRate === 0) return undefined;
      // A streamed WAV may say 0 or 0xFFFFFFFF: its data then runs to the end of the file.
      const declared = size === 0 || size === 0xffffffff ? Number.POSITIVE_INFINITY : size;
      const samples = Math.floor(Math.min(declared, Math.max(0, fileBytes - body)) / blockAlign);
      return samples === 0 ? null : samples / sampleRate;
    }
    pos = body + size + (size % 2);
  }
  return undefined;
}

// Loaded with the first upload (the worker role never needs it), and once: a dynamic import()
// goes through the module loader's resolution on every call.
let musicMetadata: Promise<typeof import('music-metadata')> | undefined;

export async function audioLengthSec(source: Readable | string, sizeBytes?: number): Promise<number | null> {
  try {
    const mm = await (musicMetadata ??= import('music-metadata'));
    const options = { duration: true, skipCovers: true, skipPostHeaders: true };
    // A file on disk is read where its headers are (a WAV's 30 MB of samples are skipped, not
    // read); a stream (Cloud Storage) is read through.
    const { format } = typeof source === 'string' ? await mm.parseFile(source, options) : await mm.parseStream(source, { size: sizeBytes }, options);
    const seconds = format.duration;
    if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return null;
    // A file with a header but no sample (a WAV cut after its header) has no sound to speak.
    if (format.numberOfSamples === 0) return null;
    return seconds;
  } finally {
    if (typeof source !== 'string') source.destroy();
  }
}
