import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import {
  AppError,
  ClientAbortedError,
  ConflictError,
  GoneError,
  InvalidInputError,
  LimitReachedError,
  NotFoundError,
  PermanentError,
  RetryableError,
  TooLargeError,
  type ErrorOptions,
} from '../domain/errors';

/**
 * A refusal only HTTP has words for (unauthenticated, forbidden, unsupported media type, a
 * timed-out upload, a bad range): raised inside http/ only, answered with `status`. Everything
 * below http/ throws the named kinds of domain/errors.ts instead.
 */
export class ClientError extends AppError {
  readonly status: number;
  constructor(status: number, code: string, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
    this.status = status;
  }
}

/** The one JSON error shape of the API: `{success: false, error: {code, message}}`. */
export function errorBody(code: string, message: string): { success: false; error: { code: string; message: string } } {
  return { success: false, error: { code, message } };
}

/** A refusal of the caller's request (answered 4xx for what it is), as opposed to a failure of ours. */
export function isRefusal(err: unknown): boolean {
  return (
    err instanceof ClientError ||
    err instanceof InvalidInputError ||
    err instanceof ConflictError ||
    err instanceof GoneError ||
    err instanceof TooLargeError ||
    err instanceof NotFoundError
  );
}

/** Retryable errors that mean "slow down" rather than "unavailable". */
const SLOW_DOWN_CODES = new Set(['provider_rate_limited', 'provider_in_progress', 'step_in_progress']);

/** The one place a kind of error becomes an HTTP status (STYLE rule 6). */
function statusOf(err: unknown): number {
  if (err instanceof ClientError) return err.status;
  if (err instanceof InvalidInputError) return 400;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof ConflictError) return 409;
  if (err instanceof GoneError) return 410;
  if (err instanceof TooLargeError) return 413;
  if (err instanceof LimitReachedError) return 429;
  if (err instanceof RetryableError) return SLOW_DOWN_CODES.has(err.code) ? 429 : 503;
  if (err instanceof PermanentError) return 500;
  const status = (err as { status?: unknown; statusCode?: unknown })?.status ?? (err as { statusCode?: unknown })?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 600) return status;
  return 500;
}

/**
 * Maps every error to HTTP in one place (STYLE rule 6). Internal details stay in the log;
 * clients get a code and a message they can show.
 */
export const errorMiddleware: ErrorRequestHandler = (err, req, res, _next) => {
  if (err instanceof ClientAbortedError) {
    // Nobody is left to answer: a client's choice, not a failure of ours.
    req.log?.info({ message: err.message, path: req.path });
    if (!res.headersSent) res.destroy();
    return;
  }
  const status = statusOf(err);
  let code = 'internal';
  let message = 'Something went wrong on our side';
  if (err instanceof AppError && (status < 500 || err instanceof RetryableError)) {
    code = err.code;
    message = err.message;
  } else if (!(err instanceof AppError) && status < 500) {
    // body-parser and friends: errors with a status and an expose flag.
    const e = err as { type?: string; message?: string; expose?: boolean };
    code = e.type === 'entity.parse.failed' ? 'bad_json' : e.type === 'entity.too.large' ? 'body_too_large' : 'bad_request';
    message = e.expose && e.message ? e.message : 'Bad request';
  }
  if (err instanceof AppError && err.retryAfterSec !== undefined) res.setHeader('Retry-After', String(Math.ceil(err.retryAfterSec)));
  const log = req.log ?? undefined;
  const entry = { message: `${req.method} ${req.path} failed: ${code}`, status, error: { code, message: (err as Error)?.message } };
  if (status >= 500) log?.error({ ...entry, stack: (err as Error)?.stack });
  else log?.info(entry);
  if (res.headersSent) {
    res.end();
    return;
  }
  if (!req.complete) closeAfterAnswer(res, code === 'upload_timeout');
  res.status(status).json(errorBody(code, message));
};

/** How much of a refused body a route without its own budget reads so the client sees the answer. */
const DEFAULT_BODY_BUDGET_BYTES = 1024 * 1024;

/**
 * Answered before the request body was read to its end (too large, refused type, over the
 * limit, not allowed). How much more of the body is read is bounded by the route's body budget (`res.locals.bodyBudgetBytes`: for an upload, the
 * largest body a valid one can have):
 * - a declared length within the budget is read to its end, so an ordinary client, which
 *   reads the answer only once it has sent everything, gets the JSON error instead of a reset;
 * - a declared length over the budget, or an idle client, is cut off as soon as the answer is out;
 * - a body of unknown length (chunked) is read on only until the budget is used up, then cut.
 * Never again is a 2 GB body read to its end just to be thrown away.
 */
function closeAfterAnswer(res: Response, cutAtOnce: boolean): void {
  const req = res.req;
  const socket = req.socket;
  const budget = typeof res.locals.bodyBudgetBytes === 'number' ? res.locals.bodyBudgetBytes : DEFAULT_BODY_BUDGET_BYTES;
  const declared = req.headers['content-length'] === undefined ? null : Number(req.headers['content-length']);
  if (!cutAtOnce && declared !== null && Number.isFinite(declared) && declared <= budget) return; // Node reads the rest, as for any answer
  // Destroying the request, not only its socket: once answered, a request is no longer tracked
  // by its connection, so a closing socket alone would not tell the upload parser, and a file
  // write waiting for more bytes would wait for ever.
  const cut = (): void => {
    req.destroy();
    socket.destroy();
  };
  if (cutAtOnce) {
    // An idle client sends nothing: there is nothing to wait for.
    res.setHeader('Connection', 'close');
    res.once('finish', cut);
    return;
  }
  if (declared !== null || socket.bytesRead >= budget) {
    res.setHeader('Connection', 'close');
    // For such an answer Node calls the socket's destroySoon() once it is out, which closes a
    // socket that still holds unread bytes: linger instead (this socket only).
    (socket as typeof socket & { destroySoon: () => void }).destroySoon = () => lingerThenCut(req, socket, cut);
    return;
  }
  const overBudget = (): void => {
    if (socket.bytesRead < budget) return;
    req.off('data', overBudget);
    lingerThenCut(req, socket, cut);
  };
  req.on('data', overBudget);
}

/** What is read and thrown away after the answer before the connection is cut. */
const LINGER = { bytes: 1024 * 1024, ms: 2000 };

/**
 * A "lingering close": end our side (FIN) once the answer is out, and throw away what the
 * client still sends for a moment before cutting. Closing a socket that holds unread bytes
 * makes the kernel send a reset, and a reset can destroy the answer before the client (or the
 * h2c bridge) has read it; a client still in the middle of sending reads its answer only then.
 */
function lingerThenCut(req: Response['req'], socket: Response['req']['socket'], cut: () => void): void {
  if (socket.destroyed || socket.writableEnded) return;
  socket.end();
  const limit = socket.bytesRead + LINGER.bytes;
  const timer = setTimeout(cut, LINGER.ms);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  req.on('data', () => {
    if (socket.bytesRead >= limit) {
      clearTimeout(timer);
      cut();
    }
  });
  req.resume();
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new NotFoundError('not_found', `No route for ${req.method} ${req.path}`));
};
