import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, ClientError, LimitReachedError, PermanentError, RetryableError } from '../errors';

/** The one JSON error shape of the API: `{success: false, error: {code, message}}`. */
export function errorBody(code: string, message: string): { success: false; error: { code: string; message: string } } {
  return { success: false, error: { code, message } };
}

/** Retryable errors that mean "slow down" rather than "unavailable". */
const SLOW_DOWN_CODES = new Set(['provider_rate_limited', 'provider_in_progress', 'step_in_progress']);

function statusOf(err: unknown): number {
  if (err instanceof ClientError) return err.status;
  if (err instanceof LimitReachedError) return 429;
  if (err instanceof RetryableError) return SLOW_DOWN_CODES.has(err.code) ? 429 : 503;
  if (err instanceof PermanentError) return err.code === 'not_found' ? 404 : 500;
  const status = (err as { status?: unknown; statusCode?: unknown })?.status ?? (err as { statusCode?: unknown })?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 600) return status;
  return 500;
}

/**
 * Maps every error to HTTP in one place (STYLE rule 6). Internal details stay in the log;
 * clients get a code and a message they can show.
 */
export const errorMiddleware: ErrorRequestHandler = (err, req, res, _next) => {
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
  res.status(status).json(errorBody(code, message));
};

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new ClientError(404, 'not_found', `No route for ${req.method} ${req.path}`));
};
