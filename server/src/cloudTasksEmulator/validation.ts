import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { Req } from './protoMapping';
import type { QueueRecord, TaskRecord } from './store';
import { durationToMs, timestampToMs, type ProtoDuration } from './time';

/** A failure answered to the gRPC caller with a status code, as the real API would. */
export class RpcError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

export const invalid = (message: string) => new RpcError(grpc.status.INVALID_ARGUMENT, message);
export const notFound = (message: string) => new RpcError(grpc.status.NOT_FOUND, message);

const LOCATION_RE = /^projects\/[A-Za-z0-9.:_-]+\/locations\/[A-Za-z0-9_-]+$/;
// Queue ids: letters, digits and hyphens, at most 100 characters (API reference).
const QUEUE_RE = /^(projects\/[A-Za-z0-9.:_-]+\/locations\/[A-Za-z0-9_-]+)\/queues\/[A-Za-z0-9-]{1,100}$/;
// Task ids: letters, digits, hyphens and underscores, at most 500 characters.
const TASK_RE = /^(projects\/[A-Za-z0-9.:_-]+\/locations\/[A-Za-z0-9_-]+\/queues\/[A-Za-z0-9-]{1,100})\/tasks\/[A-Za-z0-9_-]{1,500}$/;

export function checkLocationName(name: unknown): string {
  if (typeof name !== 'string' || !LOCATION_RE.test(name)) {
    throw invalid(`parent must look like projects/PROJECT/locations/LOCATION, got "${String(name)}"`);
  }
  return name;
}

export function checkQueueName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string' || !QUEUE_RE.test(name)) {
    throw invalid(`${field} must look like projects/PROJECT/locations/LOCATION/queues/QUEUE_ID, got "${String(name)}"`);
  }
  return name;
}

/** Checks a full task name and returns its queue name. */
export function checkTaskName(name: unknown): { name: string; queue: string } {
  const match = typeof name === 'string' ? TASK_RE.exec(name) : null;
  if (!match) {
    throw invalid(`task name must look like projects/PROJECT/locations/LOCATION/queues/QUEUE_ID/tasks/TASK_ID, got "${String(name)}"`);
  }
  return { name: name as string, queue: match[1] };
}

/** True for 127.0.0.0/8, ::1 and localhost: the only targets this emulator will call. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  if (net.isIPv6(host)) return host === '::1' || host === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(host);
  return false;
}

/** A `google.protobuf.FieldMask` path in the client's camelCase (callers send either form). */
export function camelPath(path: string): string {
  return path
    .split('.')
    .map((part) => part.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()))
    .join('.');
}

const DEFAULT_DISPATCH_DEADLINE_MS = 10 * 60_000;
const MAX_DISPATCH_DEADLINE_MS = 30 * 60_000;
const MAX_SCHEDULE_AHEAD_MS = 30 * 24 * 3_600_000;
export const MAX_TASK_BYTES = 100 * 1024;
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);
// Headers Cloud Tasks sets itself or ignores when a task carries them.
const RESERVED_HEADER = /^(host|content-length|user-agent|x-google-.*|x-appengine-.*|x-cloudtasks-.*)$/i;

/** The HTTP target of a CreateTask request, checked as the real API checks it (loopback hosts only). */
export function checkHttpRequest(input: Req): TaskRecord['http'] {
  if (input.appEngineHttpRequest) throw invalid('this emulator serves HTTP targets only, not App Engine targets');
  const req = input.httpRequest;
  if (!req?.url) throw invalid('task.http_request.url is required');
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    throw invalid(`task.http_request.url is not a URL: ${req.url}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('task.http_request.url must be http or https');
  // The emulator only ever calls this machine: a task must not turn it into a proxy.
  if (!isLoopbackHost(url.hostname)) throw invalid(`the emulator only dispatches to loopback hosts, not ${url.hostname}`);
  const method = typeof req.httpMethod === 'string' && req.httpMethod !== 'HTTP_METHOD_UNSPECIFIED' ? req.httpMethod : 'POST';
  const body: Buffer | undefined = req.body && req.body.length ? Buffer.from(req.body) : undefined;
  if (body && !BODY_METHODS.has(method)) throw invalid(`a body is only allowed with POST, PUT or PATCH, not ${method}`);
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries((req.headers ?? {}) as Record<string, string>)) {
    if (!RESERVED_HEADER.test(key)) headers[key] = String(value);
  }
  const record: TaskRecord['http'] = { url: url.toString(), httpMethod: method, headers };
  if (body) record.bodyBase64 = body.toString('base64');
  if (req.oidcToken) {
    if (!req.oidcToken.serviceAccountEmail) throw invalid('oidc_token.service_account_email is required');
    record.oidcToken = { serviceAccountEmail: req.oidcToken.serviceAccountEmail, audience: req.oidcToken.audience || undefined };
  }
  if (req.oauthToken) {
    if (!req.oauthToken.serviceAccountEmail) throw invalid('oauth_token.service_account_email is required');
    record.oauthToken = { serviceAccountEmail: req.oauthToken.serviceAccountEmail, scope: req.oauthToken.scope || undefined };
  }
  return record;
}

/** A task's schedule time in ms: now when unset, at most 30 days ahead. */
export function checkScheduleTime(value: ProtoDuration | undefined, now: number): number {
  const ms = timestampToMs(value);
  if (ms === undefined || ms === 0) return now;
  if (ms > now + MAX_SCHEDULE_AHEAD_MS) throw invalid('schedule_time may be at most 30 days in the future');
  return ms;
}

/** A task's dispatch deadline in ms: 10 min when unset, else between the smallest accepted and 30 min. */
export function checkDeadline(value: ProtoDuration | undefined, minDeadlineMs: number): number {
  const ms = durationToMs(value);
  if (ms === undefined || ms === 0) return DEFAULT_DISPATCH_DEADLINE_MS;
  if (ms < minDeadlineMs || ms > MAX_DISPATCH_DEADLINE_MS) {
    throw invalid(`dispatch_deadline must be between ${minDeadlineMs / 1000} s and 30 min`);
  }
  return ms;
}

/** A queue's rate limits and retry settings within the real API's bounds. */
export function checkQueueSettings(queue: QueueRecord): void {
  const { rateLimits: r, retryConfig: c } = queue;
  if (!(r.maxDispatchesPerSecond > 0 && r.maxDispatchesPerSecond <= 500)) throw invalid('max_dispatches_per_second must be in (0, 500]');
  if (!(r.maxConcurrentDispatches >= 1 && r.maxConcurrentDispatches <= 5000)) throw invalid('max_concurrent_dispatches must be in [1, 5000]');
  if (!(r.maxBurstSize >= 1)) throw invalid('max_burst_size must be at least 1');
  if (c.maxAttempts < -1) throw invalid('max_attempts must be -1 or more');
  if (c.minBackoffMs < 0 || c.maxBackoffMs < 0 || c.maxRetryDurationMs < 0) throw invalid('durations must not be negative');
  if (c.minBackoffMs > c.maxBackoffMs) throw invalid('min_backoff must not exceed max_backoff');
  if (c.maxDoublings < 0) throw invalid('max_doublings must not be negative');
}
