import type { Readable } from 'node:stream';

/**
 * How long a recording lasts, read in JavaScript from its own headers and frames (WAV's data
 * chunk, MP3's Xing/VBRI header or else every frame, MP4's movie header, ADTS frames), so the api
 * needs no ffprobe binary: the image for Cloud Run carries no ffmpeg at all.
 *
 * Answers null when the bytes hold no readable sound (not audio, or cut before its first frame).
 */
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
