import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

/**
 * Token minting and the local stand-ins the auth tests need: Firebase ID tokens (unsigned for
 * the Auth emulator, RS256 for the production path), a server for Google's public keys, an
 * agent that routes Google's key URL to it, and the Auth emulator's accounts:lookup endpoint.
 */

const b64url = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An RSA key pair with a key id, like one of Google's signing keys. */
export interface TestKey {
  kid: string;
  privateKey: crypto.KeyObject;
  publicPem: string;
}

export function makeKey(kid = crypto.randomBytes(8).toString('hex')): TestKey {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** An RS256 JWT signed with `key` (its kid in the header unless `header` says otherwise). */
export function signJwt(key: TestKey, payload: object, header: object = {}): string {
  const signingInput = `${b64url({ alg: 'RS256', typ: 'JWT', kid: key.kid, ...header })}.${b64url(payload)}`;
  return `${signingInput}.${crypto.sign('RSA-SHA256', Buffer.from(signingInput), key.privateKey).toString('base64url')}`;
}

/** An unsigned JWT (`alg: none`, empty signature): what the Firebase Auth emulator issues. */
export function unsignedJwt(payload: object): string {
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(payload)}.`;
}

/** The same token with its payload replaced and the original signature kept. */
export function withPayload(token: string, payload: object): string {
  const [header, , signature] = token.split('.');
  return `${header}.${b64url(payload)}.${signature}`;
}

export function decodePayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
}

/** The claims of a Firebase ID token for `uid` in `projectId`, valid for an hour. */
export function idTokenClaims(projectId: string, uid: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: `https://securetoken.google.com/${projectId}`,
    aud: projectId,
    auth_time: now - 60,
    user_id: uid,
    sub: uid,
    iat: now - 60,
    exp: now + 3540,
    firebase: { identities: {}, sign_in_provider: 'password' },
    ...overrides,
  };
}

export async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as net.AddressInfo).port;
}

export function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Serves `{[kid]: pem}` the way Google's certificate endpoints do, counting fetches. */
export interface CertServer {
  port: number;
  url: string;
  hits: number;
  /** Status to answer with (200 by default); tests set 500 to simulate an outage. */
  status: number;
  keys: TestKey[];
  close(): Promise<void>;
}

export async function startCertServer(keys: TestKey[], maxAgeSec = 3600): Promise<CertServer> {
  const state = { hits: 0, status: 200, keys };
  const server = http.createServer((_req, res) => {
    state.hits += 1;
    res.statusCode = state.status;
    res.setHeader('content-type', 'application/json; charset=UTF-8');
    if (state.status !== 200) {
      res.end(JSON.stringify({ error: 'backend_error', error_description: 'simulated outage' }));
      return;
    }
    res.setHeader('cache-control', `public, max-age=${maxAgeSec}, must-revalidate, no-transform`);
    res.end(JSON.stringify(Object.fromEntries(state.keys.map((k) => [k.kid, k.publicPem]))));
  });
  const port = await listen(server);
  return Object.assign(state, {
    port,
    url: `http://127.0.0.1:${port}/oauth2/v1/certs`,
    close: () => closeServer(server),
  }) as CertServer;
}

/**
 * An https.Agent that connects every request to a plain HTTP server on loopback. firebase-admin
 * fetches Google's keys from a fixed https URL with no setting to change it, but it honours
 * the app's `httpAgent` option: this is how the production verification path runs here
 * (the fetch, its Cache-Control caching, the RS256 checks) with no network. TLS is left out
 * because the socket never leaves the machine.
 */
export class LoopbackAgent extends https.Agent {
  readonly hosts: string[] = [];
  constructor(private readonly port: number) {
    super({ keepAlive: false });
  }
  override createConnection(options: { host?: string; servername?: string }): net.Socket {
    this.hosts.push(options.servername ?? options.host ?? '');
    return net.connect(this.port, '127.0.0.1');
  }
}

/** A user record as the Auth emulator's accounts:lookup answers it. */
export interface StandInUser {
  disabled?: boolean;
  /** Seconds since the epoch before which tokens are revoked. */
  validSince?: number;
}

/**
 * The one Identity Toolkit call firebase-admin makes when FIREBASE_AUTH_EMULATOR_HOST is set
 * and it verifies an ID token: POST /identitytoolkit.googleapis.com/v1/projects/<p>/accounts:lookup
 * (it checks, on every verification in emulator mode, that the user exists, is enabled and
 * has not had its tokens revoked). Unknown users get an answer without `users`, as the real
 * API gives.
 */
export interface AuthEmulatorStandIn {
  host: string;
  users: Map<string, StandInUser>;
  lookups: string[];
  close(): Promise<void>;
}

export async function startAuthEmulatorStandIn(): Promise<AuthEmulatorStandIn> {
  const users = new Map<string, StandInUser>();
  const lookups: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.method !== 'POST' || !/^\/identitytoolkit\.googleapis\.com\/v1\/projects\/[^/]+\/accounts:lookup$/.test(req.url ?? '')) {
        res.statusCode = 404;
        res.end(JSON.stringify({ error: { code: 404, message: 'NOT_FOUND' } }));
        return;
      }
      const ids: string[] = JSON.parse(body).localId ?? [];
      lookups.push(...ids);
      const found = ids.filter((id) => users.has(id)).map((id) => {
        const user = users.get(id)!;
        return {
          localId: id,
          disabled: user.disabled ?? false,
          ...(user.validSince !== undefined ? { validSince: String(user.validSince) } : {}),
          createdAt: '1700000000000',
          lastLoginAt: '1700000000000',
        };
      });
      res.end(JSON.stringify({ kind: 'identitytoolkit#GetAccountInfoResponse', ...(found.length ? { users: found } : {}) }));
    });
  });
  const port = await listen(server);
  return { host: `127.0.0.1:${port}`, users, lookups, close: () => closeServer(server) };
}
