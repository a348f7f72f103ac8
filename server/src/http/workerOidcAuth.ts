import type { Request } from 'express';
import type { OAuth2Client } from 'google-auth-library';
import { RetryableError } from '../domain/errors';
import { ClientError } from './errors';
import type { AuthenticateWorker } from './auth';

/**
 * What Cloud Run's front end puts in place of the token's signature once it has checked the
 * token (IAM run.invoker) for a private service (Cloud Run troubleshooting docs, "signature
 * removed").
 */
export const SIGNATURE_REMOVED = 'SIGNATURE_REMOVED_BY_GOOGLE';

/** Longer than any real Google ID token (about 1 KB); refuses junk before decoding it. */
const MAX_TOKEN_CHARS = 8192;
const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;
/** google-auth-library's allowance, kept for the claims-only check too. */
const CLOCK_SKEW_SEC = 300;

/** `{[kid]: PEM}`: public keys (or X.509 certificates) by key id. */
export type PublicCerts = Record<string, string>;

/** Options of {@link createWorkerOidcAuthenticate}. */
export interface WorkerOidcOptions {
  /**
   * The `aud` the token must carry: what the tasks were created with (`oidcToken.audience`),
   * which Cloud Tasks defaults to the task's URL, i.e. WORKER_URL. A list accepts any of them.
   */
  audience: string | string[];
  /** The service account Cloud Tasks mints tokens for (TASKS_SERVICE_ACCOUNT). */
  serviceAccountEmail: string;
  /**
   * Where the signing keys come from. Absent: Google's published OAuth2 certificates, fetched
   * by `client` and cached for as long as Google's Cache-Control allows. Locally: the embedded
   * Cloud Tasks emulator's `publicCerts()`.
   */
  certs?: () => Promise<PublicCerts> | PublicCerts;
  /** Accepted `iss` values; default Google's two spellings. */
  issuers?: string[];
  /** The OAuth2Client that verifies (and, without `certs`, fetches Google's certificates). */
  client?: OAuth2Client;
  /**
   * The service runs on Cloud Run (K_SERVICE set): its front end has checked the token's
   * signature and hands it on with the signature replaced by {@link SIGNATURE_REMOVED}; such a
   * token is accepted after its claims are checked. Off Cloud Run it is refused: nothing
   * checked its signature.
   */
  onCloudRun?: boolean;
}

/** Google writes the issuer of its ID tokens both with and without the scheme. */
export const GOOGLE_ISSUERS = ['accounts.google.com', 'https://accounts.google.com'];

/**
 * The worker route's authentication: the request must carry the Google-signed OIDC token Cloud
 * Tasks attaches for an `oidcToken` task. Checked with google-auth-library: RS256 signature
 * against the keys, issuer, audience, expiry (with Google's 5-minute skew), then the identity:
 * `email` must be the tasks service account and `email_verified` true.
 *
 * Refusals: no bearer token → 401 `missing_token`; bad signature, unknown key, expired, wrong
 * issuer or audience → 401 `invalid_token`; a valid token for anyone else → 403 `forbidden`.
 * If Google's certificates cannot be fetched → 503, so Cloud Tasks retries the task later
 * instead of dropping it.
 *
 * On Cloud Run (`onCloudRun`) a private worker service has its front end check the token for
 * run.invoker, and the container receives it with the signature replaced by
 * `SIGNATURE_REMOVED_BY_GOOGLE`: that token is accepted after the same claim checks (issuer,
 * audience, expiry, email, email_verified), since no signature is left to verify. A token with
 * a real signature is still verified. This keeps the worker held to one service account rather
 * than to anyone with run.invoker. Off Cloud Run a token without its signature is 401.
 *
 * The token is read from `X-Serverless-Authorization` when present (Cloud Run's header for a
 * caller that also sends its own `Authorization`; the front end checks that one then), else
 * from `Authorization`.
 */
export function createWorkerOidcAuthenticate(options: WorkerOidcOptions): AuthenticateWorker {
  // google-auth-library is loaded by the first token that carries a signature (on Cloud Run the
  // front end has removed it, and the claims alone are checked): not at start-up.
  let client: Promise<OAuth2Client> | undefined = options.client ? Promise.resolve(options.client) : undefined;
  const oauthClient = (): Promise<OAuth2Client> => (client ??= import('google-auth-library').then(({ OAuth2Client }) => new OAuth2Client()));
  const issuers = options.issuers ?? GOOGLE_ISSUERS;
  const audience = options.audience;
  const expectedEmail = options.serviceAccountEmail.trim().toLowerCase();
  if (expectedEmail === '') throw new Error('createWorkerOidcAuthenticate: serviceAccountEmail is empty');
  if (Array.isArray(audience) ? audience.length === 0 : audience === '') {
    throw new Error('createWorkerOidcAuthenticate: audience is empty');
  }

  const loadCerts = async (): Promise<PublicCerts> => {
    try {
      if (options.certs) return await options.certs();
      // google-auth-library keeps these until Google's max-age runs out (hours); Google
      // publishes a new key well before it signs with it, so a cached set is never too old.
      const { certs } = await (await oauthClient()).getFederatedSignonCertsAsync();
      return certs as PublicCerts;
    } catch (err) {
      throw new RetryableError('auth_unavailable', 'The keys that sign worker tokens could not be loaded; retry later', { cause: err });
    }
  };

  const audiences = Array.isArray(audience) ? audience : [audience];

  return async (req) => {
    const token = workerToken(req);
    let payload: Record<string, unknown> | undefined;
    if (token.endsWith(`.${SIGNATURE_REMOVED}`)) {
      if (!options.onCloudRun) {
        throw new ClientError(401, 'invalid_token', 'The worker token has no signature (only Cloud Run\'s front end may remove it, and this service is not on Cloud Run)');
      }
      payload = checkedClaims(token, audiences, issuers);
    } else {
      const certs = await loadCerts();
      try {
        const ticket = await (await oauthClient()).verifySignedJwtWithCertsAsync(token, certs, audience, issuers);
        payload = ticket.getPayload() as Record<string, unknown> | undefined;
      } catch (err) {
        throw new ClientError(401, 'invalid_token', `The worker token ${reasonOf(err)}`);
      }
    }
    const email = typeof payload?.email === 'string' ? payload.email.toLowerCase() : undefined;
    if (email !== expectedEmail) {
      throw new ClientError(403, 'forbidden', 'The worker token belongs to another identity than the tasks service account');
    }
    // Google sends a boolean; some token sources spell it as a string.
    if (payload?.email_verified !== true && payload?.email_verified !== 'true') {
      throw new ClientError(403, 'forbidden', 'The worker token\'s email is not verified');
    }
  };
}

/** The bearer token of `X-Serverless-Authorization`, else of `Authorization`; 401 when neither has one. */
function workerToken(req: Request): string {
  const header = req.header('x-serverless-authorization') ?? req.header('authorization');
  const match = header ? BEARER.exec(header) : null;
  if (!match) throw new ClientError(401, 'missing_token', 'Send "Authorization: Bearer <Google OIDC token>"');
  const token = match[1]!;
  if (token.length > MAX_TOKEN_CHARS) throw new ClientError(401, 'invalid_token', 'The Google OIDC token is too long to be one');
  return token;
}

/**
 * The claims of a token whose signature Cloud Run's front end checked and removed: the same
 * checks google-auth-library makes after the signature (issuer, audience, issue and expiry
 * times with its clock skew). Identity (email) is checked by the caller, as for a signed token.
 */
function checkedClaims(token: string, audiences: string[], issuers: string[]): Record<string, unknown> {
  const invalid = (why: string) => new ClientError(401, 'invalid_token', `The worker token ${why}`);
  const parts = token.split('.');
  if (parts.length !== 3) throw invalid('is not a JWT');
  let header: unknown;
  let payload: unknown;
  try {
    header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8'));
    payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch {
    throw invalid('is not a JWT');
  }
  if (!isObject(header) || !isObject(payload)) throw invalid('is not a JWT');
  if (header.alg !== 'RS256') throw invalid('was not signed with RS256');
  const now = Date.now() / 1000;
  if (typeof payload.iat !== 'number' || typeof payload.exp !== 'number') throw invalid('lacks a valid issue or expiry time');
  if (payload.iat > now + CLOCK_SKEW_SEC) throw invalid('is not valid yet');
  if (payload.exp < now - CLOCK_SKEW_SEC) throw invalid('has expired');
  if (typeof payload.iss !== 'string' || !issuers.includes(payload.iss)) throw invalid('has the wrong issuer');
  const aud = payload.aud;
  if (typeof aud !== 'string' || !audiences.includes(aud)) throw invalid('was issued for another audience');
  return payload;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * google-auth-library's messages embed the whole token or its payload; only the reason is
 * kept (tokens must not reach responses or logs).
 */
function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (message.startsWith('Wrong number of segments') || message.startsWith("Can't parse")) return 'is not a JWT';
  if (message.startsWith('No pem found')) return 'is signed with an unknown key';
  if (message.startsWith('Invalid token signature')) return 'has an invalid signature';
  if (message.startsWith('No issue time') || message.startsWith('No expiration time') || message.includes('invalid format')) {
    return 'lacks a valid issue or expiry time';
  }
  if (message.startsWith('Expiration time too far')) return 'expires too far in the future';
  if (message.startsWith('Token used too early')) return 'is not valid yet';
  if (message.startsWith('Token used too late')) return 'has expired';
  if (message.startsWith('Invalid issuer')) return 'has the wrong issuer';
  if (message.startsWith('Wrong recipient')) return 'was issued for another audience';
  return 'is not valid';
}
