import type { AttemptRecord, QueueRecord, RateLimitsRecord, RetryConfigRecord, TaskRecord } from './store';
import { durationToMs, msToDuration, msToTimestamp } from './time';
import { checkQueueSettings, invalid } from './validation';

/* eslint-disable @typescript-eslint/no-explicit-any -- request messages are plain decoded protobuf objects */
/** A request message as grpc-js decodes it: a plain object in the client's camelCase. */
export type Req = any;
/* eslint-enable @typescript-eslint/no-explicit-any */

/** The real service's defaults for a queue created without settings. */
export const DEFAULT_RATE_LIMITS: RateLimitsRecord = { maxDispatchesPerSecond: 500, maxBurstSize: 100, maxConcurrentDispatches: 1000 };
export const DEFAULT_RETRY: RetryConfigRecord = { maxAttempts: 100, minBackoffMs: 100, maxBackoffMs: 3_600_000, maxDoublings: 16, maxRetryDurationMs: 0 };

/**
 * Applies queue settings from a request. `paths` is the update mask in camelCase; undefined
 * means every field the request carries. A whole message path (`retryConfig`) replaces it, a
 * sub-path (`retryConfig.maxAttempts`) only that field; a field named but absent (proto3 drops
 * zeros) takes the default, as the API does for unset fields.
 */
export function applyQueueFields(base: QueueRecord, input: Req, paths: string[] | undefined): QueueRecord {
  const queue: QueueRecord = { ...base, rateLimits: { ...base.rateLimits }, retryConfig: { ...base.retryConfig } };
  const rate = readRateLimits(input.rateLimits ?? {});
  const retry = readRetryConfig(input.retryConfig ?? {});
  const burstGiven = input.rateLimits?.maxBurstSize !== undefined;
  const setRate = (key: keyof RateLimitsRecord) => {
    queue.rateLimits[key] = rate[key] ?? DEFAULT_RATE_LIMITS[key];
  };
  const setRetry = (key: keyof RetryConfigRecord) => {
    queue.retryConfig[key] = retry[key] ?? DEFAULT_RETRY[key];
  };
  const effective = paths ?? [...(input.rateLimits ? ['rateLimits'] : []), ...(input.retryConfig ? ['retryConfig'] : [])];
  for (const path of effective) {
    const [head, sub, ...rest] = path.split('.');
    if (rest.length) throw invalid(`unknown update_mask path ${path}`);
    if (head === 'rateLimits') {
      const keys = sub ? [sub] : Object.keys(DEFAULT_RATE_LIMITS);
      for (const key of keys) {
        if (!(key in DEFAULT_RATE_LIMITS)) throw invalid(`unknown update_mask path ${path}`);
        setRate(key as keyof RateLimitsRecord);
      }
    } else if (head === 'retryConfig') {
      const keys = sub ? [sub === 'minBackoff' || sub === 'maxBackoff' || sub === 'maxRetryDuration' ? `${sub}Ms` : sub] : Object.keys(DEFAULT_RETRY);
      for (const key of keys) {
        if (!(key in DEFAULT_RETRY)) throw invalid(`unknown update_mask path ${path}`);
        setRetry(key as keyof RetryConfigRecord);
      }
    } else if (head === 'stackdriverLoggingConfig' || head === 'appEngineRoutingOverride') {
      // Accepted and ignored: nothing here logs to Cloud Logging or routes to App Engine.
    } else {
      throw invalid(`update_mask path ${path} cannot be updated`);
    }
  }
  // The burst size follows the rate unless given (the real service derives it itself).
  if (!burstGiven && effective.some((p) => p === 'rateLimits' || p === 'rateLimits.maxDispatchesPerSecond')) {
    queue.rateLimits.maxBurstSize = Math.min(100, Math.max(1, Math.ceil(queue.rateLimits.maxDispatchesPerSecond)));
  }
  checkQueueSettings(queue);
  return queue;
}

function readRateLimits(r: Req): Partial<RateLimitsRecord> {
  return {
    maxDispatchesPerSecond: r.maxDispatchesPerSecond || undefined,
    maxBurstSize: r.maxBurstSize || undefined,
    maxConcurrentDispatches: r.maxConcurrentDispatches || undefined,
  };
}

function readRetryConfig(r: Req): Partial<RetryConfigRecord> {
  return {
    maxAttempts: r.maxAttempts || undefined,
    minBackoffMs: durationToMs(r.minBackoff) || undefined,
    maxBackoffMs: durationToMs(r.maxBackoff) || undefined,
    maxDoublings: r.maxDoublings || undefined,
    maxRetryDurationMs: durationToMs(r.maxRetryDuration) || undefined,
  };
}


export function queueToProto(q: QueueRecord): unknown {
  return {
    name: q.name,
    state: q.state,
    rateLimits: { ...q.rateLimits },
    retryConfig: {
      maxAttempts: q.retryConfig.maxAttempts,
      minBackoff: msToDuration(q.retryConfig.minBackoffMs),
      maxBackoff: msToDuration(q.retryConfig.maxBackoffMs),
      maxDoublings: q.retryConfig.maxDoublings,
      maxRetryDuration: msToDuration(q.retryConfig.maxRetryDurationMs),
    },
    purgeTime: q.purgeTimeMs === undefined ? undefined : msToTimestamp(q.purgeTimeMs),
  };
}

function attemptToProto(a: AttemptRecord | undefined): unknown {
  if (!a) return undefined;
  return {
    scheduleTime: msToTimestamp(a.scheduleMs),
    dispatchTime: msToTimestamp(a.dispatchMs),
    responseTime: a.responseMs === undefined ? undefined : msToTimestamp(a.responseMs),
    responseStatus: a.status,
  };
}

/** BASIC (the default view) leaves out the body, as the real API does; FULL includes it. */
export function taskToProto(t: TaskRecord, view: unknown): unknown {
  const full = view === 'FULL';
  return {
    name: t.name,
    httpRequest: {
      url: t.http.url,
      httpMethod: t.http.httpMethod,
      headers: t.http.headers,
      body: full && t.http.bodyBase64 ? Buffer.from(t.http.bodyBase64, 'base64') : undefined,
      oidcToken: t.http.oidcToken,
      oauthToken: t.http.oauthToken,
    },
    scheduleTime: msToTimestamp(t.scheduleMs),
    createTime: msToTimestamp(t.createMs),
    dispatchDeadline: msToDuration(t.dispatchDeadlineMs),
    dispatchCount: t.dispatchCount,
    responseCount: t.responseCount,
    firstAttempt: attemptToProto(t.firstAttempt),
    lastAttempt: attemptToProto(t.lastAttempt),
    view: full ? 'FULL' : 'BASIC',
  };
}

export function pageSize(requested: unknown, max: number): number {
  const n = Number(requested ?? 0);
  return n > 0 ? Math.min(n, max) : max;
}

export function encodeToken(offset: number): string {
  return Buffer.from(`o:${offset}`).toString('base64url');
}

export function decodeToken(token: unknown): number {
  if (!token) return 0;
  const match = /^o:(\d+)$/.exec(Buffer.from(String(token), 'base64url').toString());
  if (!match) throw invalid('page_token is not valid');
  return Number(match[1]);
}

export function page<T>(all: T[], requestedSize: unknown, token: unknown, max: number): { items: T[]; nextPageToken: string } {
  const offset = decodeToken(token);
  const size = pageSize(requestedSize, max);
  const items = all.slice(offset, offset + size);
  return { items, nextPageToken: offset + size < all.length ? encodeToken(offset + size) : '' };
}
