import type { RequestHandler } from 'express';

/** Request headers a browser front end may send: auth (cloud and local), uploads, SSE resume. */
const ALLOWED_HEADERS = 'Authorization, X-User-Id, Content-Type, Accept, Last-Event-ID';
const ALLOWED_METHODS = 'GET, POST, OPTIONS';
/** How long a browser may reuse a preflight answer, in seconds. */
const PREFLIGHT_MAX_AGE_SEC = 600;

/**
 * CORS for an exact list of origins (CORS_ORIGINS): the Flutter web build and other front ends
 * on another site may call the API with their bearer token. An origin not on the list gets no
 * CORS headers at all, so the browser keeps the answer from it; an empty list changes nothing.
 * Preflights (OPTIONS with Access-Control-Request-Method) of an allowed origin answer 204 here.
 */
export function corsMiddleware(origins: readonly string[]): RequestHandler {
  const allowed = new Set(origins);
  return (req, res, next) => {
    const origin = req.header('origin');
    if (allowed.size === 0) return next();
    // Caches must keep answers for different origins apart.
    res.vary('Origin');
    if (!origin || !allowed.has(origin)) return next();
    res.setHeader('Access-Control-Allow-Origin', origin);
    if (req.method === 'OPTIONS' && req.header('access-control-request-method')) {
      res.setHeader('Access-Control-Allow-Methods', ALLOWED_METHODS);
      res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      res.setHeader('Access-Control-Max-Age', String(PREFLIGHT_MAX_AGE_SEC));
      res.status(204).end();
      return;
    }
    // The client may read these on the 202 and on 429/503 answers.
    res.setHeader('Access-Control-Expose-Headers', 'Retry-After, Content-Disposition, Content-Range');
    next();
  };
}
