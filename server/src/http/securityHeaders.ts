import helmet from 'helmet';
import type { RequestHandler } from 'express';

/**
 * Where a finished video may come from besides this origin: in the cloud GET /jobs/:id/video
 * redirects to a signed Cloud Storage URL, which the page plays (<video src>) or, with a token,
 * fetches (so it is a connect source too).
 */
const VIDEO_ORIGINS = ['https://storage.googleapis.com'];

/**
 * Security headers on every answer (helmet): `X-Content-Type-Options: nosniff`, framing refused
 * (`X-Frame-Options: DENY` and `frame-ancestors 'none'`), no referrer leaks, and a Content
 * Security Policy that allows nothing: the API answers JSON, video and event streams, none of
 * which a browser should run or embed as a document. The web page gets its own policy
 * ({@link pageContentSecurityPolicy}).
 */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
    },
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
  });
}

/**
 * The page's policy: its script and styles only from this origin (index.html has no inline
 * script or style, and app.js builds no code from strings), requests only to this API (and to
 * `extraConnect`: Firestore and Firebase Auth when the page follows jobs through Firestore),
 * videos from here, Cloud Storage or the blob: URLs the page makes of fetched videos.
 */
export function pageContentSecurityPolicy(extraConnect: readonly string[] = []): RequestHandler {
  return helmet.contentSecurityPolicy({
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'data:', 'blob:'],
      mediaSrc: ["'self'", 'blob:', ...VIDEO_ORIGINS],
      connectSrc: ["'self'", ...VIDEO_ORIGINS, ...extraConnect],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
    },
  });
}
