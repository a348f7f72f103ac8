import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import * as grpc from '@grpc/grpc-js';
import { silentLogger, type Logger } from '../logger';
import { OidcSigner } from './tasks/oidc';
import { loadCloudTasksService } from './tasks/protos';
import {
  EmulatorStore,
  type AttemptRecord,
  type QueueRecord,
  type RateLimitsRecord,
  type RetryConfigRecord,
  type TaskRecord,
} from './tasks/store';
import {
  backoffMs,
  durationToMs,
  etaHeader,
  msToDuration,
  msToTimestamp,
  parseRetryAfter,
  timestampToMs,
  type ProtoDuration,
} from './tasks/time';
import {
  RpcError,
  camelPath,
  checkLocationName,
  checkQueueName,
  checkTaskName,
  invalid,
  isLoopbackHost,
  notFound,
} from './tasks/validation';

/** Options of {@link startCloudTasksEmulator}. */
export interface CloudTasksEmulatorOptions {
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Port; 0 (default) picks a free one. */
  port?: number;
  /** SQLite file for queues and tasks, or ':memory:'. */
  dbPath: string;
  logger?: Logger;
  /** How long a used task name stays reserved after the task ran or was deleted; default 1 h. */
  tombstoneMs?: number;
  /** Smallest dispatchDeadline accepted; the real API's 15 s by default. Tests lower it. */
  minDispatchDeadlineMs?: number;
  /**
   * The worker's URL in this run. Tasks stored by an earlier run on another port (or another
   * host) with the same path are re-pointed at it before dispatching starts, so a restart of
   * the local stack on a new port strands no job.
   */
  retargetUrl?: string;
  /**
   * A test aid: every dispatch is also sent this many more times (0 by default, like the real
   * service on a good day). Cloud Tasks delivers at least once, so a worker must stand a task
   * arriving two or three times, at once or a moment apart; with 1 or 2 every task does. The
   * copies' answers are ignored: the first delivery's answer decides the attempt.
   */
  extraDeliveries?: number;
}

/** A running emulator. */
export interface CloudTasksEmulator {
  port: number;
  /** Spread into `new CloudTasksClient({...emulator.endpoint})`. */
  endpoint: { apiEndpoint: string; port: number; sslCreds: grpc.ChannelCredentials };
  /** `{[kid]: pem}` of the key that signs OIDC tokens, for OAuth2Client.verifySignedJwtWithCertsAsync. */
  publicCerts(): Record<string, string>;
  /** An ID token signed with that key, as Cloud Tasks attaches it (for deliveries made by hand). */
  signIdToken(serviceAccountEmail: string, audience: string): string;
  /** Stops serving and dispatching; in-flight requests are aborted (and run again after a restart). */
  close(): Promise<void>;
}

/** The real service's defaults for a queue created without settings. */
const DEFAULT_RATE_LIMITS: RateLimitsRecord = { maxDispatchesPerSecond: 500, maxBurstSize: 100, maxConcurrentDispatches: 1000 };
const DEFAULT_RETRY: RetryConfigRecord = { maxAttempts: 100, minBackoffMs: 100, maxBackoffMs: 3_600_000, maxDoublings: 16, maxRetryDurationMs: 0 };
const DEFAULT_DISPATCH_DEADLINE_MS = 10 * 60_000;
const MAX_DISPATCH_DEADLINE_MS = 30 * 60_000;
const MAX_SCHEDULE_AHEAD_MS = 30 * 24 * 3_600_000;
const MAX_TASK_BYTES = 100 * 1024;
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);
// Headers Cloud Tasks sets itself or ignores when a task carries them.
const RESERVED_HEADER = /^(host|content-length|user-agent|x-google-.*|x-appengine-.*|x-cloudtasks-.*)$/i;

interface QueueRuntime {
  inFlight: Set<string>;
  tokens: number;
  lastRefillMs: number;
}

interface AttemptOutcome {
  status?: number;
  retryAfter?: string | string[];
  error?: string;
  timedOut?: boolean;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- request messages are plain decoded protobuf objects */
type Req = any;

/**
 * The Cloud Tasks v2 API over gRPC on loopback, for the local stack and tests: the official
 * `@google-cloud/tasks` client talks to it unchanged. Queues and tasks live in SQLite; HTTP
 * tasks are dispatched to loopback targets with Cloud Tasks' headers, retries and limits.
 */
class Emulator {
  private readonly runtimes = new Map<string, QueueRuntime>();
  private readonly controllers = new Set<AbortController>();
  private readonly dispatches = new Set<Promise<void>>();
  private readonly agent = new http.Agent({ keepAlive: false });
  private readonly httpsAgent = new https.Agent({ keepAlive: false });
  private timer: NodeJS.Timeout | undefined;
  private closing = false;
  readonly oidc = new OidcSigner();

  constructor(
    readonly store: EmulatorStore,
    private readonly log: Logger,
    private readonly tombstoneMs: number,
    private readonly minDeadlineMs: number,
    private readonly extraDeliveries: number,
  ) {}

  // ---------------------------------------------------------------- queues

  createQueue(req: Req): unknown {
    const parent = checkLocationName(req.parent);
    const input = req.queue ?? {};
    const name = checkQueueName(input.name, 'queue.name');
    if (!name.startsWith(`${parent}/queues/`)) throw invalid(`queue.name ${name} is not under ${parent}`);
    if (this.store.getQueue(name)) throw new RpcError(grpc.status.ALREADY_EXISTS, `queue ${name} already exists`);
    const queue = applyQueueFields(
      { name, state: 'RUNNING', rateLimits: { ...DEFAULT_RATE_LIMITS }, retryConfig: { ...DEFAULT_RETRY } },
      input,
      undefined,
    );
    this.store.putQueue(queue);
    this.log.info({ queue: name }, 'queue created');
    return queueToProto(queue);
  }

  /** Like the real UpdateQueue: creates the queue when it is missing. */
  updateQueue(req: Req): unknown {
    const input = req.queue ?? {};
    const name = checkQueueName(input.name, 'queue.name');
    const existing = this.store.getQueue(name) ?? {
      name,
      state: 'RUNNING' as const,
      rateLimits: { ...DEFAULT_RATE_LIMITS },
      retryConfig: { ...DEFAULT_RETRY },
    };
    const paths: string[] | undefined = req.updateMask?.paths?.length ? req.updateMask.paths.map(camelPath) : undefined;
    const queue = applyQueueFields(existing, input, paths);
    this.store.putQueue(queue);
    this.resetRuntime(name);
    this.wake();
    return queueToProto(queue);
  }

  getQueue(req: Req): unknown {
    return queueToProto(this.requireQueue(req.name));
  }

  listQueues(req: Req): unknown {
    const parent = checkLocationName(req.parent);
    const all = this.store.listQueues(`${parent}/queues/`);
    const { items, nextPageToken } = page(all, req.pageSize, req.pageToken, 1000);
    return { queues: items.map(queueToProto), nextPageToken };
  }

  deleteQueue(req: Req): unknown {
    const queue = this.requireQueue(req.name);
    this.store.deleteQueue(queue.name);
    this.runtimes.delete(queue.name);
    return {};
  }

  purgeQueue(req: Req): unknown {
    const queue = this.requireQueue(req.name);
    const now = Date.now();
    const removed = this.store.purgeQueue(queue.name, now + this.tombstoneMs);
    queue.purgeTimeMs = now;
    this.store.putQueue(queue);
    this.log.info({ queue: queue.name, removed }, 'queue purged');
    return queueToProto(queue);
  }

  setQueueState(req: Req, state: 'RUNNING' | 'PAUSED'): unknown {
    const queue = this.requireQueue(req.name);
    if (queue.state === 'DISABLED') throw new RpcError(grpc.status.FAILED_PRECONDITION, `queue ${queue.name} is disabled`);
    queue.state = state;
    this.store.putQueue(queue);
    this.wake();
    return queueToProto(queue);
  }

  private requireQueue(name: unknown): QueueRecord {
    const queueName = checkQueueName(name);
    const queue = this.store.getQueue(queueName);
    if (!queue) throw notFound(`queue ${queueName} does not exist`);
    return queue;
  }

  // ---------------------------------------------------------------- tasks

  createTask(req: Req): unknown {
    const parent = checkQueueName(req.parent, 'parent');
    const queue = this.store.getQueue(parent);
    if (!queue) throw notFound(`queue ${parent} does not exist`);
    if (queue.state === 'DISABLED') throw new RpcError(grpc.status.FAILED_PRECONDITION, `queue ${parent} is disabled`);
    const input = req.task;
    if (!input) throw invalid('task is required');
    let name: string;
    if (input.name) {
      const checked = checkTaskName(input.name);
      if (checked.queue !== parent) throw invalid(`task name ${input.name} is not in queue ${parent}`);
      name = checked.name;
    } else {
      // The real service makes up a numeric id for unnamed tasks.
      name = `${parent}/tasks/${BigInt('0x' + crypto.randomBytes(8).toString('hex')).toString()}`;
    }
    const now = Date.now();
    const task: TaskRecord = {
      name,
      queue: parent,
      http: this.checkHttpRequest(input),
      scheduleMs: this.checkScheduleTime(input.scheduleTime, now),
      createMs: now,
      dispatchDeadlineMs: this.checkDeadline(input.dispatchDeadline),
      dispatchCount: 0,
      responseCount: 0,
      executionCount: 0,
    };
    const size = Buffer.byteLength(JSON.stringify(task.http));
    if (size > MAX_TASK_BYTES) throw invalid(`task is ${size} bytes; the limit is ${MAX_TASK_BYTES}`);
    if (this.store.insertTask(task, now) === 'exists') {
      throw new RpcError(grpc.status.ALREADY_EXISTS, `task ${name} already exists or existed recently`);
    }
    this.log.debug({ task: name, scheduleMs: task.scheduleMs }, 'task created');
    this.wake();
    return taskToProto(task, req.responseView);
  }

  getTask(req: Req): unknown {
    return taskToProto(this.requireTask(req.name), req.responseView);
  }

  listTasks(req: Req): unknown {
    const queue = this.requireQueue(req.parent);
    const offset = decodeToken(req.pageToken);
    const size = pageSize(req.pageSize, 1000);
    const items = this.store.listTasks(queue.name, offset, size + 1);
    const more = items.length > size;
    return {
      tasks: items.slice(0, size).map((t) => taskToProto(t, req.responseView)),
      nextPageToken: more ? encodeToken(offset + size) : '',
    };
  }

  deleteTask(req: Req): unknown {
    const task = this.requireTask(req.name);
    this.store.removeTask(task.name, Date.now() + this.tombstoneMs);
    this.log.debug({ task: task.name }, 'task deleted');
    return {};
  }

  /** Dispatches a task now, whatever its schedule, the queue's limits or state. */
  runTask(req: Req): unknown {
    const task = this.requireTask(req.name);
    const queue = this.store.getQueue(task.queue);
    if (!queue) throw notFound(`queue ${task.queue} does not exist`);
    if (!this.runtime(queue).inFlight.has(task.name)) this.startDispatch(queue, task);
    return taskToProto(task, req.responseView);
  }

  private requireTask(name: unknown): TaskRecord {
    const checked = checkTaskName(name);
    const task = this.store.getTask(checked.name);
    if (!task) throw notFound(`task ${checked.name} does not exist`);
    return task;
  }

  private checkHttpRequest(input: Req): TaskRecord['http'] {
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

  private checkScheduleTime(value: ProtoDuration | undefined, now: number): number {
    const ms = timestampToMs(value);
    if (ms === undefined || ms === 0) return now;
    if (ms > now + MAX_SCHEDULE_AHEAD_MS) throw invalid('schedule_time may be at most 30 days in the future');
    return ms;
  }

  private checkDeadline(value: ProtoDuration | undefined): number {
    const ms = durationToMs(value);
    if (ms === undefined || ms === 0) return DEFAULT_DISPATCH_DEADLINE_MS;
    if (ms < this.minDeadlineMs || ms > MAX_DISPATCH_DEADLINE_MS) {
      throw invalid(`dispatch_deadline must be between ${this.minDeadlineMs / 1000} s and 30 min`);
    }
    return ms;
  }

  // ---------------------------------------------------------------- dispatch loop

  private runtime(queue: QueueRecord): QueueRuntime {
    let rt = this.runtimes.get(queue.name);
    if (!rt) {
      rt = { inFlight: new Set(), tokens: queue.rateLimits.maxBurstSize, lastRefillMs: Date.now() };
      this.runtimes.set(queue.name, rt);
    }
    return rt;
  }

  /** New rate limits: keep the in-flight set, start the bucket afresh with no more than its size. */
  private resetRuntime(name: string): void {
    const rt = this.runtimes.get(name);
    const queue = this.store.getQueue(name);
    if (rt && queue) rt.tokens = Math.min(rt.tokens, queue.rateLimits.maxBurstSize);
  }

  /** Runs the loop soon; cheap to call often (CreateTask, completions, queue changes). */
  wake(): void {
    if (this.closing) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.pump(), 0);
  }

  /**
   * Starts every task that is due and allowed by its queue's state, concurrency and token
   * bucket, then sleeps until the next scheduled task or token. Completions wake it again.
   */
  private pump(): void {
    this.timer = undefined;
    if (this.closing) return;
    const now = Date.now();
    let nextWake = Infinity;
    for (const queue of this.store.allQueues()) {
      if (queue.state !== 'RUNNING') continue;
      const rt = this.runtime(queue);
      const { maxDispatchesPerSecond: rate, maxBurstSize: burst, maxConcurrentDispatches } = queue.rateLimits;
      rt.tokens = Math.min(burst, rt.tokens + ((now - rt.lastRefillMs) * rate) / 1000);
      rt.lastRefillMs = now;
      let free = maxConcurrentDispatches - rt.inFlight.size;
      if (free > 0) {
        const batch = Math.min(free, 100);
        const due = this.store.dueTasks(queue.name, now, batch + rt.inFlight.size);
        let started = 0;
        for (const task of due) {
          if (free <= 0) break;
          if (rt.inFlight.has(task.name)) continue;
          if (rt.tokens < 1) {
            nextWake = Math.min(nextWake, now + ((1 - rt.tokens) * 1000) / rate);
            break;
          }
          rt.tokens -= 1;
          free -= 1;
          started += 1;
          this.startDispatch(queue, task);
        }
        if (started === batch) nextWake = now; // more may be due than one batch
      }
      const next = this.store.nextScheduleAfter(queue.name, now);
      if (next !== undefined) nextWake = Math.min(nextWake, next);
    }
    if (nextWake !== Infinity) {
      const delay = Math.min(Math.max(0, nextWake - Date.now()), 2 ** 31 - 1);
      this.timer = setTimeout(() => this.pump(), delay);
    }
  }

  private startDispatch(queue: QueueRecord, task: TaskRecord): void {
    const rt = this.runtime(queue);
    rt.inFlight.add(task.name);
    const run = this.dispatch(queue, task)
      .catch((err: unknown) => this.log.error({ err, task: task.name }, 'dispatch failed inside the emulator'))
      .finally(() => {
        rt.inFlight.delete(task.name);
        this.dispatches.delete(run);
        this.wake();
      });
    this.dispatches.add(run);
  }

  private async dispatch(queue: QueueRecord, task: TaskRecord): Promise<void> {
    const now = Date.now();
    const attempt: AttemptRecord = { scheduleMs: task.scheduleMs, dispatchMs: now };
    const headers: Record<string, string> = {
      ...task.http.headers,
      'User-Agent': 'Google-Cloud-Tasks',
      'X-CloudTasks-QueueName': queue.name.split('/').pop()!,
      'X-CloudTasks-TaskName': task.name.split('/').pop()!,
      'X-CloudTasks-TaskRetryCount': String(task.dispatchCount),
      'X-CloudTasks-TaskExecutionCount': String(task.executionCount),
      'X-CloudTasks-TaskETA': etaHeader(task.scheduleMs),
    };
    if (task.lastResponseCode !== undefined) headers['X-CloudTasks-TaskPreviousResponse'] = String(task.lastResponseCode);
    const body = task.http.bodyBase64 ? Buffer.from(task.http.bodyBase64, 'base64') : undefined;
    if (body && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) {
      // Cloud Tasks' default when a task has a body and no Content-Type of its own.
      headers['Content-Type'] = 'application/octet-stream';
    }
    if (task.http.oidcToken) {
      const audience = task.http.oidcToken.audience ?? task.http.url;
      headers.Authorization = `Bearer ${this.oidc.sign(task.http.oidcToken.serviceAccountEmail, audience, now)}`;
    }
    // Duplicate deliveries (a test aid): the copies go out a few milliseconds apart, racing
    // the first one, and their answers are dropped.
    const copies: Promise<AttemptOutcome>[] = [];
    for (let i = 1; i <= this.extraDeliveries; i += 1) {
      copies.push(new Promise<void>((r) => setTimeout(r, 5 * i)).then(() => this.send(task, headers, body)));
    }
    const outcome = await this.send(task, headers, body);
    await Promise.allSettled(copies);
    // Aborted by close(): not an attempt; the task is still stored and runs after a restart.
    if (this.closing) return;
    this.finishAttempt(task.name, attempt, outcome);
  }

  private send(task: TaskRecord, headers: Record<string, string>, body: Buffer | undefined): Promise<AttemptOutcome> {
    return new Promise((resolve) => {
      const url = new URL(task.http.url);
      const isHttps = url.protocol === 'https:';
      const controller = new AbortController();
      this.controllers.add(controller);
      let settled = false;
      const done = (outcome: AttemptOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        this.controllers.delete(controller);
        resolve(outcome);
      };
      const req = (isHttps ? https : http).request(url, {
        method: task.http.httpMethod,
        headers: body ? { ...headers, 'Content-Length': String(body.length) } : headers,
        agent: isHttps ? this.httpsAgent : this.agent,
        signal: controller.signal,
      });
      // The dispatch deadline covers the wait for the response; past it the request is
      // cancelled and the attempt counts as failed with no response (DEADLINE_EXCEEDED).
      const deadline = setTimeout(() => {
        done({ timedOut: true, error: `no response within ${task.dispatchDeadlineMs} ms` });
        controller.abort();
      }, task.dispatchDeadlineMs);
      req.on('response', (res) => {
        res.resume();
        res.on('error', () => undefined);
        done({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] });
      });
      req.on('error', (err) => done({ error: err.message }));
      req.end(body);
    });
  }

  private finishAttempt(name: string, attempt: AttemptRecord, outcome: AttemptOutcome): void {
    const task = this.store.getTask(name);
    if (!task) return; // deleted while in flight
    const queue = this.store.getQueue(task.queue);
    if (!queue) return;
    const now = Date.now();
    task.dispatchCount += 1;
    if (outcome.status !== undefined) {
      task.responseCount += 1;
      // X-CloudTasks-TaskExecutionCount is documented as "the number of times the task has
      // received a response from the handler ... not including failures due to 5XX error
      // codes", so a 5xx answer raises the retry count but not the execution count.
      if (outcome.status < 500) task.executionCount += 1;
      task.lastResponseCode = outcome.status;
      attempt.responseMs = now;
    }
    attempt.status = attemptStatus(outcome);
    task.firstAttempt ??= attempt;
    task.lastAttempt = attempt;
    const tombstone = now + this.tombstoneMs;
    if (outcome.status !== undefined && outcome.status >= 200 && outcome.status < 300) {
      this.store.removeTask(name, tombstone);
      this.log.debug({ task: name, status: outcome.status }, 'task done');
      return;
    }
    const retry = queue.retryConfig;
    // Cloud Tasks stops only when both limits are reached: maxAttempts attempts made (the first
    // counts) and maxRetryDuration passed since the first attempt (0 = no time limit).
    const attemptsSpent = retry.maxAttempts !== -1 && task.dispatchCount >= retry.maxAttempts;
    const durationSpent = retry.maxRetryDurationMs <= 0 || now - task.firstAttempt.dispatchMs >= retry.maxRetryDurationMs;
    if (attemptsSpent && durationSpent) {
      // No dead-letter queue: the task is simply gone, like the real service.
      this.store.removeTask(name, tombstone);
      this.log.warn({ task: name, attempts: task.dispatchCount, status: outcome.status, error: outcome.error }, 'task failed its last attempt and was deleted');
      return;
    }
    let delay = backoffMs(retry, task.dispatchCount - 1);
    // The API reference: on 429 and 503 Cloud Tasks backs off harder and "the retry specified
    // in the Retry-After HTTP response header is considered". We take it as a floor: the next
    // attempt waits max(queue backoff, Retry-After). Other statuses' Retry-After is ignored,
    // and the service's own extra system throttling is not emulated.
    if (outcome.status === 429 || outcome.status === 503) {
      const retryAfter = parseRetryAfter(outcome.retryAfter, now);
      if (retryAfter !== undefined) delay = Math.max(delay, retryAfter);
    }
    task.scheduleMs = now + delay;
    this.store.updateTask(task);
    this.log.debug({ task: name, attempt: task.dispatchCount, status: outcome.status, error: outcome.error, delayMs: delay }, 'task will be retried');
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    for (const controller of this.controllers) controller.abort();
    await Promise.allSettled([...this.dispatches]);
    this.agent.destroy();
    this.httpsAgent.destroy();
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any */

// ------------------------------------------------------------------ conversions

function attemptStatus(outcome: AttemptOutcome): { code: number; message: string } {
  if (outcome.timedOut) return { code: grpc.status.DEADLINE_EXCEEDED, message: outcome.error ?? 'deadline exceeded' };
  if (outcome.status === undefined) return { code: grpc.status.UNAVAILABLE, message: outcome.error ?? 'no response' };
  const s = outcome.status;
  if (s >= 200 && s < 300) return { code: grpc.status.OK, message: '' };
  const code =
    s === 400 ? grpc.status.INVALID_ARGUMENT
    : s === 401 ? grpc.status.UNAUTHENTICATED
    : s === 403 ? grpc.status.PERMISSION_DENIED
    : s === 404 ? grpc.status.NOT_FOUND
    : s === 409 ? grpc.status.ABORTED
    : s === 429 ? grpc.status.RESOURCE_EXHAUSTED
    : s === 503 ? grpc.status.UNAVAILABLE
    : s === 504 ? grpc.status.DEADLINE_EXCEEDED
    : s >= 500 ? grpc.status.INTERNAL
    : grpc.status.UNKNOWN;
  return { code, message: `HTTP ${s}` };
}

/**
 * Applies queue settings from a request. `paths` is the update mask in camelCase; undefined
 * means every field the request carries. A whole message path (`retryConfig`) replaces it, a
 * sub-path (`retryConfig.maxAttempts`) only that field; a field named but absent (proto3 drops
 * zeros) takes the default, as the API does for unset fields.
 */
function applyQueueFields(base: QueueRecord, input: Req, paths: string[] | undefined): QueueRecord {
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

function checkQueueSettings(queue: QueueRecord): void {
  const { rateLimits: r, retryConfig: c } = queue;
  if (!(r.maxDispatchesPerSecond > 0 && r.maxDispatchesPerSecond <= 500)) throw invalid('max_dispatches_per_second must be in (0, 500]');
  if (!(r.maxConcurrentDispatches >= 1 && r.maxConcurrentDispatches <= 5000)) throw invalid('max_concurrent_dispatches must be in [1, 5000]');
  if (!(r.maxBurstSize >= 1)) throw invalid('max_burst_size must be at least 1');
  if (c.maxAttempts < -1) throw invalid('max_attempts must be -1 or more');
  if (c.minBackoffMs < 0 || c.maxBackoffMs < 0 || c.maxRetryDurationMs < 0) throw invalid('durations must not be negative');
  if (c.minBackoffMs > c.maxBackoffMs) throw invalid('min_backoff must not exceed max_backoff');
  if (c.maxDoublings < 0) throw invalid('max_doublings must not be negative');
}

function queueToProto(q: QueueRecord): unknown {
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
function taskToProto(t: TaskRecord, view: unknown): unknown {
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

function pageSize(requested: unknown, max: number): number {
  const n = Number(requested ?? 0);
  return n > 0 ? Math.min(n, max) : max;
}

function encodeToken(offset: number): string {
  return Buffer.from(`o:${offset}`).toString('base64url');
}

function decodeToken(token: unknown): number {
  if (!token) return 0;
  const match = /^o:(\d+)$/.exec(Buffer.from(String(token), 'base64url').toString());
  if (!match) throw invalid('page_token is not valid');
  return Number(match[1]);
}

function page<T>(all: T[], requestedSize: unknown, token: unknown, max: number): { items: T[]; nextPageToken: string } {
  const offset = decodeToken(token);
  const size = pageSize(requestedSize, max);
  const items = all.slice(offset, offset + size);
  return { items, nextPageToken: offset + size < all.length ? encodeToken(offset + size) : '' };
}

// ------------------------------------------------------------------ server

/**
 * Starts the Cloud Tasks emulator: a gRPC server speaking `google.cloud.tasks.v2.CloudTasks`
 * (queues, tasks, pause/resume/purge, RunTask) plus a timer-driven dispatcher for HTTP tasks.
 * Point the official client at it with
 * `new CloudTasksClient({...emulator.endpoint})` (plain-text gRPC: without `sslCreds` the
 * client tries TLS and hangs).
 */
export async function startCloudTasksEmulator(opts: CloudTasksEmulatorOptions): Promise<CloudTasksEmulator> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.logger ?? silentLogger;
  const store = new EmulatorStore(opts.dbPath);
  const emulator = new Emulator(store, log, opts.tombstoneMs ?? 3_600_000, opts.minDispatchDeadlineMs ?? 15_000, opts.extraDeliveries ?? 0);

  const unary =
    (fn: (req: Req) => unknown): grpc.handleUnaryCall<Req, unknown> =>
    (call, callback) => {
      try {
        callback(null, fn(call.request));
      } catch (err) {
        if (err instanceof RpcError) {
          callback({ code: err.code, details: err.message });
        } else {
          log.error({ err }, 'cloud tasks emulator: internal error');
          callback({ code: grpc.status.INTERNAL, details: err instanceof Error ? err.message : String(err) });
        }
      }
    };

  const server = new grpc.Server();
  server.addService(loadCloudTasksService(), {
    createQueue: unary((r) => emulator.createQueue(r)),
    getQueue: unary((r) => emulator.getQueue(r)),
    updateQueue: unary((r) => emulator.updateQueue(r)),
    listQueues: unary((r) => emulator.listQueues(r)),
    deleteQueue: unary((r) => emulator.deleteQueue(r)),
    purgeQueue: unary((r) => emulator.purgeQueue(r)),
    pauseQueue: unary((r) => emulator.setQueueState(r, 'PAUSED')),
    resumeQueue: unary((r) => emulator.setQueueState(r, 'RUNNING')),
    createTask: unary((r) => emulator.createTask(r)),
    getTask: unary((r) => emulator.getTask(r)),
    listTasks: unary((r) => emulator.listTasks(r)),
    deleteTask: unary((r) => emulator.deleteTask(r)),
    runTask: unary((r) => emulator.runTask(r)),
  });

  const bindHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${bindHost}:${opts.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      );
    });
  } catch (err) {
    store.close();
    throw err;
  }
  log.info({ host, port }, 'cloud tasks emulator listening');
  if (opts.retargetUrl) {
    const moved = store.retargetTasks(opts.retargetUrl);
    if (moved > 0) log.info({ tasks: moved, url: opts.retargetUrl }, 'stored tasks re-pointed at the current worker URL');
  }
  // Tasks left from an earlier run are due now or later: start the loop.
  emulator.wake();

  let closed: Promise<void> | undefined;
  return {
    port,
    endpoint: { apiEndpoint: host, port, sslCreds: grpc.credentials.createInsecure() },
    publicCerts: () => emulator.oidc.publicCerts(),
    signIdToken: (serviceAccountEmail, audience) => emulator.oidc.sign(serviceAccountEmail, audience),
    close() {
      closed ??= (async () => {
        const shutdown = new Promise<void>((resolve) => {
          // Let in-progress RPCs finish, but not for long: close() should take well under 1 s.
          const force = setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, 300);
          server.tryShutdown(() => {
            clearTimeout(force);
            resolve();
          });
        });
        await Promise.all([shutdown, emulator.close()]);
        store.close();
        log.info({ port }, 'cloud tasks emulator closed');
      })();
      return closed;
    },
  };
}
