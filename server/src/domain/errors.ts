/**
 * Named kinds of failure, below HTTP: retryable and permanent for the pipeline; invalid input,
 * not found, conflict, gone, too large and limit reached for callers. Every error carries a
 * stable machine-readable `code` and, where there is one, the underlying `cause`. Nothing here
 * knows HTTP: http/errors.ts alone maps kinds to statuses.
 */

export interface ErrorOptions {
  cause?: unknown;
  /** Seconds the caller should wait before retrying (HTTP Retry-After). */
  retryAfterSec?: number;
  /** Extra detail for logs; never sent to clients. */
  detail?: unknown;
}

/** Base class: something went wrong that has a code and a human message. */
export abstract class AppError extends Error {
  readonly code: string;
  readonly retryAfterSec?: number;
  readonly detail?: unknown;

  protected constructor(code: string, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryAfterSec = options.retryAfterSec;
    this.detail = options.detail;
  }
}

/**
 * A failure that may succeed if tried again later: network errors, provider 5xx, 429, 409
 * "same key still in progress", timeouts. The worker's answer makes Cloud Tasks retry with
 * backoff (after `retryAfterSec` when given).
 */
export class RetryableError extends AppError {
  constructor(code: string, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}

/**
 * A failure that will not change on retry: bad media, provider 4xx, a provider answer that is
 * not what its API promises. The job is failed with this code and message.
 */
export class PermanentError extends AppError {
  constructor(code: string, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}

/**
 * Something asked for does not exist (a blob, a job, a video). Permanent: a step that needs it
 * fails the job.
 */
export class NotFoundError extends PermanentError {
  constructor(code: string, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}

/** The caller sent something that is not valid (a malformed cursor, a missing field). */
export class InvalidInputError extends AppError {
  constructor(code: string, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}

/** The request does not fit the job's state (cancel a finished job, retry a running one). */
export class ConflictError extends AppError {
  constructor(code: string, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}

/** What the request needs existed once and is no longer kept (a job's uploads past retention). */
export class GoneError extends AppError {
  constructor(code: string, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}

/** More bytes than allowed (a file over its limit, an upload larger than any valid one). */
export class TooLargeError extends AppError {
  constructor(code: string, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}

/**
 * The caller has reached a limit that frees up with time (too many jobs in progress); the
 * caller is told when to try again (`retryAfterSec`). `limit` and `current` say which numbers met.
 */
export class LimitReachedError extends AppError {
  readonly limit: number;
  readonly current: number;
  constructor(code: string, message: string, options: ErrorOptions & { limit: number; current: number }) {
    super(code, message, options);
    this.limit = options.limit;
    this.current = options.current;
  }
}

/** The owner already has `limit` jobs queued or processing: a new one is refused. */
export function activeJobLimitReached(current: number, limit: number): LimitReachedError {
  return new LimitReachedError(
    'too_many_active_jobs',
    `You already have ${current} jobs in progress (the limit is ${limit}); wait for one to finish or cancel one`,
    { retryAfterSec: 30, limit, current },
  );
}

/**
 * The client went away before its request body ended (an aborted upload). Nothing can be
 * answered; it is logged at info, as a client's choice, not as a server failure.
 */
export class ClientAbortedError extends AppError {
  constructor(message = 'client aborted the upload', options: ErrorOptions = {}) {
    super('client_aborted', message, options);
  }
}

export function isRetryable(err: unknown): err is RetryableError {
  return err instanceof RetryableError;
}

export function isPermanent(err: unknown): err is PermanentError {
  return err instanceof PermanentError;
}

/** A short, log-safe description of any thrown value. */
export function describeError(err: unknown): { code: string; message: string } {
  if (err instanceof AppError) return { code: err.code, message: err.message };
  if (err instanceof Error) return { code: 'internal', message: err.message };
  return { code: 'internal', message: String(err) };
}
