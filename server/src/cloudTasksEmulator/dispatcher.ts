import http from 'node:http';
import https from 'node:https';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../logger';
import { OidcSigner } from './oidc';
import type { AttemptRecord, EmulatorStore, QueueRecord, TaskRecord } from './store';
import { backoffMs, etaHeader, parseRetryAfter } from './time';

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

/**
 * Sends HTTP tasks when they are due, as Cloud Tasks does: with its headers and OIDC tokens,
 * within each queue's state, concurrency and token bucket, and with its retries and backoff. A timer drives it; CreateTask, completions and queue changes wake it.
 */
export class Dispatcher {
  private readonly runtimes = new Map<string, QueueRuntime>();
  private readonly controllers = new Set<AbortController>();
  private readonly dispatches = new Set<Promise<void>>();
  private readonly agent = new http.Agent({ keepAlive: false });
  private readonly httpsAgent = new https.Agent({ keepAlive: false });
  private timer: NodeJS.Timeout | undefined;
  private closing = false;
  readonly oidc = new OidcSigner();

  constructor(
    private readonly store: EmulatorStore,
    private readonly log: Logger,
    private readonly tombstoneMs: number,
    private readonly extraDeliveries: number,
  ) {}

  /** Dispatches a task now, whatever its schedule, the queue's limits or state (RunTask). */
  runNow(queue: QueueRecord, task: TaskRecord): void {
    if (!this.runtime(queue).inFlight.has(task.name)) this.startDispatch(queue, task);
  }

  /** A deleted queue: its bucket and in-flight set go with it. */
  forgetQueue(name: string): void {
    this.runtimes.delete(name);
  }

  private runtime(queue: QueueRecord): QueueRuntime {
    let rt = this.runtimes.get(queue.name);
    if (!rt) {
      rt = { inFlight: new Set(), tokens: queue.rateLimits.maxBurstSize, lastRefillMs: Date.now() };
      this.runtimes.set(queue.name, rt);
    }
    return rt;
  }

  /** New rate limits: keep the in-flight set, start the bucket afresh with no more than its size. */
  resetRuntime(name: string): void {
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
      .catch((err: unknown) => this.log.error({ message: 'dispatch failed inside the emulator', err, task: task.name }))
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
      this.log.debug({ message: 'task done', task: name, status: outcome.status });
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
      this.log.warn({ message: 'task failed its last attempt and was deleted', task: name, attempts: task.dispatchCount, status: outcome.status, error: outcome.error });
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
    this.log.debug({ message: 'task will be retried', task: name, attempt: task.dispatchCount, status: outcome.status, error: outcome.error, delayMs: delay });
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
