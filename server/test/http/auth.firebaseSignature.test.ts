/**
 * The public API behind Firebase ID tokens on firebase-admin's PRODUCTION path (no emulator
 * variable): RS256 signatures checked against the public keys firebase-admin fetches from
 * https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com.
 * That URL is fixed inside firebase-admin, but the app's documented `httpAgent` option carries
 * the fetch: a LoopbackAgent delivers it to a local key server holding our own keys, so the
 * real fetch, Cache-Control caching, kid lookup and jsonwebtoken RS256 check all run here.
 */
import { deleteApp, initializeApp, type App } from 'firebase-admin/app';
import { getAuth } from 'firebase-admin/auth';
import { createFirebaseAuthenticate } from '../../src/http/firebaseAuth';
import { startTestStack, type TestStack } from '../support/stack';
import {
  LoopbackAgent,
  decodePayload,
  idTokenClaims,
  makeKey,
  signJwt,
  startCertServer,
  unsignedJwt,
  withPayload,
  type CertServer,
  type TestKey,
} from './authFixtures';

const PROJECT = 'demo-avatar-prod';

let googleKey: TestKey;
let certs: CertServer;
let agent: LoopbackAgent;
let app: App;
let stack: TestStack;

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
async function get(urlPath: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${stack.baseUrl}${urlPath}`, { headers });
  return { status: res.status, body: (await res.json()) as any };
}

beforeAll(async () => {
  delete process.env.FIREBASE_AUTH_EMULATOR_HOST;
  googleKey = makeKey('securetoken-key-1');
  certs = await startCertServer([googleKey, makeKey('securetoken-key-2')]);
  agent = new LoopbackAgent(certs.port);
  app = initializeApp({ projectId: PROJECT, httpAgent: agent }, 'auth-signature-test');
  stack = await startTestStack({
    env: { AUTH_MODE: 'firebase', GOOGLE_CLOUD_PROJECT: PROJECT, JOB_STORE: 'sqlite', TASKS: 'embedded' },
    overrides: { authenticate: createFirebaseAuthenticate({ auth: getAuth(app) }) },
  });
});

afterAll(async () => {
  await stack?.close();
  await deleteApp(app);
  await certs?.close();
});

describe('the public API with Firebase ID tokens signed by Google (production verification path)', () => {
  test('a token signed with Google\'s key is accepted, and the keys are fetched once from Google\'s URL and then cached', async () => {
    const before = certs.hits;
    const first = await get('/jobs', bearer(signJwt(googleKey, idTokenClaims(PROJECT, 'alice'))));
    expect(first.status).toBe(200);
    expect(first.body.success).toBe(true);
    const second = await get('/jobs', bearer(signJwt(googleKey, idTokenClaims(PROJECT, 'bob'))));
    expect(second.status).toBe(200);
    expect(certs.hits - before).toBeLessThanOrEqual(1);
    expect(certs.hits).toBeGreaterThanOrEqual(1);
    expect(agent.hosts).toContain('www.googleapis.com');
  });

  test('when the payload of a signed token is edited (uid swapped) and the signature kept, the answer is 401 invalid signature', async () => {
    const genuine = signJwt(googleKey, idTokenClaims(PROJECT, 'mallory'));
    const tampered = withPayload(genuine, { ...decodePayload(genuine), sub: 'alice', user_id: 'alice' });
    const res = await get('/jobs', bearer(tampered));
    expect(res.status).toBe(401);
    expect(res.body.error).toEqual({ code: 'invalid_token', message: expect.stringMatching(/invalid signature/) });
  });

  test('when a token is signed by another key under Google\'s key id, the answer is 401 invalid signature', async () => {
    const impostor = makeKey(googleKey.kid);
    const res = await get('/jobs', bearer(signJwt(impostor, idTokenClaims(PROJECT, 'alice'))));
    expect(res.status).toBe(401);
    expect(res.body.error.message).toMatch(/invalid signature/);
  });

  test('when a token names a key id Google does not publish, the answer is 401 unknown key', async () => {
    const res = await get('/jobs', bearer(signJwt(makeKey('not-published'), idTokenClaims(PROJECT, 'alice'))));
    expect(res.status).toBe(401);
    expect(res.body.error).toEqual({ code: 'invalid_token', message: expect.stringMatching(/key/) });
  });

  test('when an unsigned (emulator-style) token reaches a production server, it is refused', async () => {
    const res = await get('/jobs', bearer(unsignedJwt(idTokenClaims(PROJECT, 'alice'))));
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('invalid_token');
  });

  test('when a correctly signed token has expired, the answer is 401 saying it expired', async () => {
    const now = Math.floor(Date.now() / 1000);
    const res = await get('/jobs', bearer(signJwt(googleKey, idTokenClaims(PROJECT, 'alice', { iat: now - 7200, auth_time: now - 7200, exp: now - 3600 }))));
    expect(res.status).toBe(401);
    expect(res.body.error.message).toMatch(/expired/);
  });

  test('when a correctly signed token is for another project or from another issuer, the answer is 401', async () => {
    const otherAud = await get('/jobs', bearer(signJwt(googleKey, idTokenClaims(PROJECT, 'alice', { aud: 'other-project' }))));
    expect(otherAud.status).toBe(401);
    expect(otherAud.body.error.message).toMatch(/audience/);
    const otherIss = await get('/jobs', bearer(signJwt(googleKey, idTokenClaims(PROJECT, 'alice', { iss: 'https://securetoken.google.com/other-project' }))));
    expect(otherIss.status).toBe(401);
    expect(otherIss.body.error.message).toMatch(/issuer/);
  });

  test('when a token claims to be issued in the future, it is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const res = await get('/jobs', bearer(signJwt(googleKey, idTokenClaims(PROJECT, 'alice', { iat: now + 3600, exp: now + 7200 }))));
    expect(res.status).toBe(401);
    expect(res.body.error.message).toMatch(/future/);
  });

  test('when Google\'s keys cannot be fetched, the caller gets 503 auth_unavailable (try again), not a 401', async () => {
    // A fresh app: the first one holds the keys in its cache.
    const outage = await startCertServer([googleKey]);
    outage.status = 500;
    const coldApp = initializeApp({ projectId: PROJECT, httpAgent: new LoopbackAgent(outage.port) }, 'auth-signature-outage');
    const refused = await startCertServer([googleKey]);
    await refused.close(); // its port now refuses connections
    const downApp = initializeApp({ projectId: PROJECT, httpAgent: new LoopbackAgent(refused.port) }, 'auth-signature-down');
    try {
      const token = signJwt(googleKey, idTokenClaims(PROJECT, 'alice'));
      for (const verifierApp of [coldApp, downApp]) {
        const authenticate = createFirebaseAuthenticate({ auth: getAuth(verifierApp) });
        const req = { header: (name: string) => (name.toLowerCase() === 'authorization' ? `Bearer ${token}` : undefined) };
        const err = await authenticate(req as never).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toMatchObject({ code: 'auth_unavailable', name: 'RetryableError' });
      }
      expect(outage.hits).toBeGreaterThanOrEqual(1);
    } finally {
      await deleteApp(coldApp);
      await deleteApp(downApp);
      await outage.close();
    }
  });
});
