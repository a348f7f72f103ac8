/* The page's elements and its words for errors. */
import { t } from './settings.mjs';

export const $ = function (id) {
  return document.getElementById(id);
};

export function showError(id, message) {
  const el = $(id);
  el.textContent = message || '';
  el.hidden = !message;
}

/**
 * An error in plain words and what to do next, from its stable code. The server's own message
 * is used (English pages only) for refusals of what the user sent (4xx), which name the field;
 * a failed job's message may carry the provider's or ffmpeg's internals, so it is not shown
 * when the code is known.
 */
export function plainError(code, serverMessage, status) {
  const known = t.error(code);
  const ownWords = t.lang === 'en' && status >= 400 && status < 500 && serverMessage;
  const text = ownWords ? serverMessage : known ? known.text : serverMessage || t.error('unknown').text;
  const next = known ? known.next : t.error(codeForStatus(status)).next;
  return { text: sentence(text), next: next };
}

/** For a code this page does not know, a known one with the same meaning, by HTTP status. */
function codeForStatus(status) {
  if (status === 401 || status === 403) return 'missing_token';
  if (status === 404) return 'not_found';
  if (status === 413 || status === 415) return 'file_too_large';
  if (status === 429) return 'too_many_active_jobs';
  if (status === 503 || status === 0) return 'network';
  return 'unknown';
}

/** Server messages have no final stop; the page's sentences do. */
function sentence(text) {
  const trimmed = String(text || '').trim();
  return /[.!?。]$/.test(trimmed) ? trimmed : trimmed + '.';
}

/** "What happened. What to do: …" as one sentence pair. */
export function sayError(code, serverMessage, status) {
  const plain = plainError(code, serverMessage, status);
  return plain.text + ' ' + t('job.next', { next: plain.next });
}
