/**
 * Small time conversions shared by the queue adapter, the local Cloud Tasks emulator and the
 * provider adapters.
 */

/**
 * Milliseconds as a protobuf Duration or Timestamp `{seconds, nanos}`, keeping fractions of a
 * second. The Cloud Tasks client needs this shape: a JS Date given as scheduleTime is silently
 * dropped and the task runs at once.
 */
export function msToDuration(ms: number): { seconds: number; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  return { seconds, nanos };
}

/**
 * An HTTP Retry-After value (delta-seconds or an HTTP-date) as milliseconds from `now`;
 * undefined when absent or unreadable. A header given twice counts by its first value.
 */
export function retryAfterMs(value: unknown, now: number): number | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  if (typeof first !== 'string' && typeof first !== 'number') return undefined;
  const raw = String(first).trim();
  if (raw === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(raw)) return Number(raw) * 1000;
  const at = Date.parse(raw);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** A span of seconds for people: "6 h", "1.5 h", "90 min", "45 s". */
export function humanDuration(sec: number): string {
  if (sec >= 3600) return `${Math.round((sec / 3600) * 10) / 10} h`;
  if (sec >= 60) return `${Math.round(sec / 60)} min`;
  return `${Math.round(sec * 10) / 10} s`;
}
