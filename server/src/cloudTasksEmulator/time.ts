import { msToDuration, retryAfterMs } from '../time';

/** Protobuf Duration / Timestamp as the Node client sends them (`longs: Number`). */
export interface ProtoDuration {
  seconds?: number | string | null;
  nanos?: number | null;
}
export type ProtoTimestamp = ProtoDuration;

/** Milliseconds in a Duration, keeping fractions of a second (tests use 50-200 ms backoffs). */
export function durationToMs(d: ProtoDuration | null | undefined): number | undefined {
  if (!d) return undefined;
  const seconds = Number(d.seconds ?? 0);
  const nanos = Number(d.nanos ?? 0);
  return seconds * 1000 + nanos / 1e6;
}

export { msToDuration };

export const timestampToMs = durationToMs;
export const msToTimestamp = msToDuration;

/** Seconds since the epoch with a fractional part, the form of X-CloudTasks-TaskETA. */
export function etaHeader(ms: number): string {
  return (ms / 1000).toFixed(6);
}

export interface BackoffPolicy {
  minBackoffMs: number;
  maxBackoffMs: number;
  maxDoublings: number;
}

/**
 * Delay before retry number `retryIndex` (0 = the first retry), as Cloud Tasks documents it:
 * the interval starts at minBackoff, doubles maxDoublings times, then grows linearly by
 * 2^maxDoublings * minBackoff, and is capped at maxBackoff. Example from the API reference:
 * min 10 s, max 300 s, 3 doublings → 10, 20, 40, 80, 160, 240, 300, 300 ...
 */
export function backoffMs(policy: BackoffPolicy, retryIndex: number): number {
  const { minBackoffMs, maxBackoffMs, maxDoublings } = policy;
  const doublings = Math.max(0, maxDoublings);
  let delay: number;
  if (retryIndex <= doublings) {
    delay = minBackoffMs * 2 ** retryIndex;
  } else {
    delay = minBackoffMs * 2 ** doublings * (retryIndex - doublings + 1);
  }
  return Math.min(delay, maxBackoffMs);
}

/** Retry-After (delta-seconds or an HTTP-date) as milliseconds from `now`; undefined when unreadable. */
export const parseRetryAfter: (value: string | string[] | undefined, now: number) => number | undefined = retryAfterMs;
