/*
 * The page's settings: the words in the reader's language, the job steps and the server's
 * limits and accepted types (replaced by what the server says when the page starts).
 */
import { pickLanguage, translator } from './messages.mjs';

/** Replaced by /web/config.json: the server's own limits. */
export const limits = {
  imageMaxBytes: 10 * 1024 * 1024,
  audioMaxBytes: 30 * 1024 * 1024,
  nameMaxChars: 100,
  bioMaxChars: 1000,
};

export const t = translator(pickLanguage(navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language]));

export const STEPS = ['avatar.create', 'video.create', 'video.poll', 'video.store'];
export const stepLabel = function (step) {
  return t('step.' + step);
};
export const TERMINAL = ['completed', 'failed', 'cancelled'];

// The types the server accepts (VisionStory's list). The browser's idea of a file's type
// comes from its name; the server decides from the first bytes and has the last word.
export const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/heic', 'image/heif'];
export const IMAGE_EXTS = ['jpg', 'jpeg', 'png', 'webp', 'heic', 'heif'];
export const AUDIO_TYPES = ['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave', 'audio/mpeg', 'audio/mp3', 'audio/mp4', 'audio/x-m4a', 'audio/m4a', 'audio/aac', 'audio/x-aac'];
export const AUDIO_EXTS = ['wav', 'mp3', 'm4a', 'aac'];
