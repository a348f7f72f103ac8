/**
 * How a call to the service fails, as every client sees it: the server answered with an error
 * (`{success:false, error:{code,message}}`, ApiError), or it could not be reached (Unreachable).
 */

/** The server answered with an error. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    readonly serverMessage: string | undefined,
  ) {
    super(serverMessage ?? `HTTP ${status}`);
  }
}

/** The server could not be reached at all. */
export class Unreachable extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** The error a non-2xx answer stands for: the server's code and message when the body has them. */
export function apiError(status: number, body: string): ApiError {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: string; message?: string } };
    if (parsed.error) return new ApiError(status, parsed.error.code, parsed.error.message);
  } catch {
    /* not JSON */
  }
  return new ApiError(status, undefined, body ? `HTTP ${status}: ${body.slice(0, 200)}` : `HTTP ${status}`);
}

/** A network failure (fetch's `cause`, a socket's `code`) as Unreachable with its reason. */
export function unreachable(e: unknown): Unreachable {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return new Unreachable((e as { code?: string }).code ?? cause?.code ?? cause?.message ?? (e as Error).message);
}
