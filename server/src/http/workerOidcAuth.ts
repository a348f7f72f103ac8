import { OAuth2Client } from 'google-auth-library';
import { ClientError, RetryableError } from '../errors';
import type { AuthenticateWorker } from './auth';
import { bearerToken } from './firebaseAuth';

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
 * On Cloud Run a private worker service already has the front end check the token for
 * run.invoker; this check keeps the worker closed when it is deployed public by mistake, and
 * holds it to one service account rather than to anyone with run.invoker.
 */
export function createWorkerOidcAuthenticate(options: WorkerOidcOptions): AuthenticateWorker {
  const client = options.client ?? new OAuth2Client();
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
      const { certs } = await client.getFederatedSignonCertsAsync();
      return certs as PublicCerts;
    } catch (err) {
      throw new RetryableError('auth_unavailable', 'The keys that sign worker tokens could not be loaded; retry later', { cause: err });
    }
  };

  return async (req) => {
    const token = bearerToken(req, 'Google OIDC token');
    const certs = await loadCerts();
    let payload: Record<string, unknown> | undefined;
    try {
      const ticket = await client.verifySignedJwtWithCertsAsync(token, certs, audience, issuers);
      payload = ticket.getPayload() as Record<string, unknown> | undefined;
    } catch (err) {
      throw new ClientError(401, 'invalid_token', `The worker token ${reasonOf(err)}`);
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
