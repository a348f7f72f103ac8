/**
 * What an upload must be: the product's facts, defined once. config.ts takes its defaults from
 * here (some can be changed by the environment), the upload route checks them, and GET /config
 * serves the configured values to clients (the web page, the command line, the Flutter app).
 */

/** Accepted image types (VisionStory's list): JPEG, PNG, WebP, HEIC. The server decides by the bytes. */
export const IMAGE_TYPES = {
  /** In words, for messages. */
  label: 'JPEG, PNG, WebP or HEIC',
  /** MIME types a client may see for an accepted image (browsers name HEIC photos HEIF too). */
  mimes: ['image/jpeg', 'image/png', 'image/webp', 'image/heic', 'image/heif'],
  extensions: ['jpg', 'jpeg', 'png', 'webp', 'heic', 'heif'],
} as const;

/** Accepted audio types (VisionStory's list): WAV, MP3, M4A/AAC. */
export const AUDIO_TYPES = {
  label: 'WAV, MP3 or M4A/AAC',
  /** MIME types a client may see for an accepted recording (browsers and systems differ). */
  mimes: ['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave', 'audio/mpeg', 'audio/mp3', 'audio/mp4', 'audio/x-m4a', 'audio/m4a', 'audio/aac', 'audio/x-aac'],
  extensions: ['wav', 'mp3', 'm4a', 'aac'],
} as const;

/** Upload limits: the defaults of the configurable ones, and the fixed ones. */
export const UPLOAD_RULES = {
  /** VisionStory's limits on the files it is sent. */
  imageMaxBytes: 10 * 1024 * 1024,
  audioMaxBytes: 30 * 1024 * 1024,
  nameMaxChars: 100,
  bioMaxChars: 1000,
  /** Below this on its shorter side a face cannot be seen. */
  imageMinShortSidePx: 256,
  /** Default of IMAGE_MAX_PIXELS: a small file declaring a larger picture never reaches a decoder. */
  imageMaxPixels: 40_000_000,
  audioMinSec: 1,
  /** Default of AUDIO_MAX_SECONDS. */
  audioMaxSec: 600,
} as const;

/** The limits a server runs with (UPLOAD_RULES, with what the environment changed). */
export interface UploadLimitValues {
  imageMaxBytes: number;
  audioMaxBytes: number;
  nameMaxChars: number;
  bioMaxChars: number;
  media: { imageMinSide: number; imageMaxPixels: number; audioMinSec: number; audioMaxSec: number };
}

/** What clients are told about uploads (GET /config `upload`). */
export interface ClientUploadRules {
  image: { maxBytes: number; types: string[]; extensions: string[]; minShortSidePx: number; maxPixels: number };
  audio: { maxBytes: number; types: string[]; extensions: string[]; minSeconds: number; maxSeconds: number };
  nameMaxChars: number;
  bioMaxChars: number;
}

/** The upload rules as served to clients, from the limits the server runs with. */
export function clientUploadRules(limits: UploadLimitValues): ClientUploadRules {
  return {
    image: {
      maxBytes: limits.imageMaxBytes,
      types: [...IMAGE_TYPES.mimes],
      extensions: [...IMAGE_TYPES.extensions],
      minShortSidePx: limits.media.imageMinSide,
      maxPixels: limits.media.imageMaxPixels,
    },
    audio: {
      maxBytes: limits.audioMaxBytes,
      types: [...AUDIO_TYPES.mimes],
      extensions: [...AUDIO_TYPES.extensions],
      minSeconds: limits.media.audioMinSec,
      maxSeconds: limits.media.audioMaxSec,
    },
    nameMaxChars: limits.nameMaxChars,
    bioMaxChars: limits.bioMaxChars,
  };
}

/** The default limits, as the server runs with them when the environment changes none. */
export const DEFAULT_UPLOAD_LIMITS: UploadLimitValues = {
  imageMaxBytes: UPLOAD_RULES.imageMaxBytes,
  audioMaxBytes: UPLOAD_RULES.audioMaxBytes,
  nameMaxChars: UPLOAD_RULES.nameMaxChars,
  bioMaxChars: UPLOAD_RULES.bioMaxChars,
  media: {
    imageMinSide: UPLOAD_RULES.imageMinShortSidePx,
    imageMaxPixels: UPLOAD_RULES.imageMaxPixels,
    audioMinSec: UPLOAD_RULES.audioMinSec,
    audioMaxSec: UPLOAD_RULES.audioMaxSec,
  },
};
