import type { Request } from 'express';
import type { DecodedIdToken } from 'firebase-admin/auth';
import { RetryableError } from '../domain/errors';
import { ClientError } from './errors';
import type { Authenticate, Caller } from './auth';

/**
 * What the API needs from firebase-admin's `Auth`: `getAuth(app)` fits as it is. Kept this
 * narrow so the check can be exercised against any verifier with the same contract.
 */
export interface IdTokenVerifier {
  verifyIdToken(idToken: string, checkRevoked?: boolean): Promise<DecodedIdToken>;
}

/** Options of {@link createFirebaseAuthenticate}. */
export interface FirebaseAuthenticateOptions {
  /** firebase-admin `Auth` (from `getAuth(app)`). */
  auth: IdTokenVerifier;
  /**
   * Also ask Firebase Auth whether the user was disabled or their tokens revoked (one
   * Identity Toolkit call per request, needs credentials). Off by default: ID tokens live one
   * hour. With FIREBASE_AUTH_EMULATOR_HOST set, firebase-admin makes this check always.
   */
  checkRevoked?: boolean;
  /** Seconds of clock skew allowed on `iat`; default 300. */
  clockSkewSec?: number;
}

/** Longer than any real Firebase ID token (about 1 KB); refuses junk before decoding it. */
const MAX_TOKEN_CHARS = 8192;
const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

/**
 * Reads `Authorization: Bearer <token>` and returns the token, or throws 401 `missing_token`.
 * Shared by the public API and the worker.
 */
export function bearerToken(req: Request, what: string): string {
  const header = req.header('authorization');
  const match = header ? BEARER.exec(header) : null;
  if (!match) {
    throw new ClientError(401, 'missing_token', `Send "Authorization: Bearer <${what}>"`);
  }
  const token = match[1]!;
  if (token.length > MAX_TOKEN_CHARS) throw new ClientError(401, 'invalid_token', `The ${what} is too long to be one`);
  return token;
}

/**
 * The public API's authentication in the cloud: the caller is the `sub` (uid) of a Firebase ID
 * token verified by firebase-admin: signature against Google's published keys, `aud` = the
 * Firebase project, `iss` = https://securetoken.google.com/<project>, not expired. The uid
 * comes from the token only, never from a header or a form field.
 *
 * Refusals: no bearer token → 401 `missing_token`; malformed, expired, wrong project, wrong
 * issuer or bad signature → 401 `invalid_token` saying which (the token itself is never
 * echoed); revoked → 401 `token_revoked`; disabled account → 403 `user_disabled`. When
 * Google's keys or Firebase Auth cannot be reached → 503 `auth_unavailable`.
 */
export function createFirebaseAuthenticate(options: FirebaseAuthenticateOptions): Authenticate {
  const { auth, checkRevoked = false, clockSkewSec = 300 } = options;
  return async (req): Promise<Caller> => {
    const token = bearerToken(req, 'Firebase ID token');
    let decoded: DecodedIdToken;
    try {
      decoded = await auth.verifyIdToken(token, checkRevoked);
    } catch (err) {
      throw refusal(err);
    }
    // firebase-admin leaves `exp` optional (jsonwebtoken checks it only when present) and
    // does not look at `iat` at all; Firebase always sets both, so a token without them is not
    // one of its ID tokens.
    const nowSec = Date.now() / 1000;
    if (typeof decoded.exp !== 'number' || typeof decoded.iat !== 'number') {
      throw new ClientError(401, 'invalid_token', 'The ID token has no expiry or issue time');
    }
    if (decoded.iat > nowSec + clockSkewSec) throw new ClientError(401, 'invalid_token', 'The ID token was issued in the future');
    const uid = decoded.uid ?? decoded.sub;
    if (typeof uid !== 'string' || uid.length === 0 || uid.length > 128) {
      throw new ClientError(401, 'invalid_token', 'The ID token names no user');
    }
    return { uid, isDefault: false };
  };
}

/** firebase-admin's error codes and messages → our refusal, worded without the token. */
function refusal(err: unknown): Error {
  const code = (err as { code?: unknown })?.code;
  const message = String((err as { message?: unknown })?.message ?? '');
  const invalid = (why: string) => new ClientError(401, 'invalid_token', `The ID token ${why}`, { cause: err });
  switch (code) {
    case 'auth/id-token-expired':
      return invalid('has expired; get a fresh one from Firebase Auth and try again');
    case 'auth/id-token-revoked':
      return new ClientError(401, 'token_revoked', 'The ID token has been revoked; sign in again', { cause: err });
    case 'auth/user-disabled':
      return new ClientError(403, 'user_disabled', 'This account is disabled', { cause: err });
    case 'auth/user-not-found':
      return invalid('names a user that does not exist');
    case 'auth/argument-error':
    case 'auth/invalid-argument':
    case 'auth/invalid-id-token':
      break;
    case 'auth/invalid-credential':
      // No project id: a deployment mistake, not the caller's. Reported as a 500 and logged.
      return err instanceof Error ? err : new Error(message);
    default:
      return new RetryableError('auth_unavailable', 'Sign-in could not be checked right now; try again shortly', { cause: err });
  }
  // argument-error covers every content and signature check, and also a failed fetch of
  // Google's keys (the fetch error is wrapped by jsonwebtoken's key callback): only the message
  // tells them apart.
  if (/fetching public keys|Json Web Keys|Error while making request/i.test(message)) {
    return new RetryableError('auth_unavailable', 'Sign-in could not be checked right now; try again shortly', { cause: err });
  }
  if (/has expired/i.test(message)) return invalid('has expired; get a fresh one from Firebase Auth and try again');
  if (/incorrect "aud"/.test(message)) return invalid('was issued for another Firebase project (wrong audience)');
  if (/incorrect "iss"/.test(message)) return invalid('was not issued by Firebase Auth for this project (wrong issuer)');
  if (/custom token/i.test(message)) return invalid('is a custom token; exchange it for an ID token first');
  if (/"kid"/.test(message)) return invalid('is signed with a key Google does not publish (unknown or rotated key)');
  if (/algorithm/i.test(message)) return invalid('uses the wrong signing algorithm');
  if (/signature/i.test(message)) return invalid('has an invalid signature');
  if (/"sub"/.test(message)) return invalid('names no user');
  if (/Decoding/i.test(message)) return invalid('is not a JWT');
  return invalid('is not valid');
}
