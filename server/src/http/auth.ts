import type { Request, RequestHandler } from 'express';

/** Who is calling the public API. */
export interface Caller {
  uid: string;
  /** True when no identity was given and the local default was used (local mode only). */
  isDefault: boolean;
}

declare module 'express-serve-static-core' {
  interface Request {
    caller?: Caller;
  }
}

/** Resolves the caller of a public route; throws a ClientError 401/403 when not allowed. */
export type Authenticate = (req: Request) => Promise<Caller>;

/** Checks that a worker request really comes from our Cloud Tasks queue; throws 401/403. */
export type AuthenticateWorker = (req: Request) => Promise<void>;

const LOCAL_USER = 'local-user';
const USER_ID = /^[A-Za-z0-9_.@-]{1,128}$/;

/**
 * Local mode: the caller is the X-User-Id header (or the `userId` form field, read by the
 * upload route), `local-user` by default. No secrets; never used in the cloud.
 */
export const localAuthenticate: Authenticate = async (req) => {
  const header = req.header('x-user-id');
  if (header && USER_ID.test(header)) return { uid: header, isDefault: false };
  return { uid: LOCAL_USER, isDefault: true };
};

export const allowAnyWorker: AuthenticateWorker = async () => {};

export function isValidUserId(value: unknown): value is string {
  return typeof value === 'string' && USER_ID.test(value);
}

export function authMiddleware(authenticate: Authenticate): RequestHandler {
  return (req, _res, next) => {
    authenticate(req).then((caller) => {
      req.caller = caller;
      next();
    }, next);
  };
}

export function workerAuthMiddleware(authenticate: AuthenticateWorker): RequestHandler {
  return (req, _res, next) => {
    authenticate(req).then(() => next(), next);
  };
}
