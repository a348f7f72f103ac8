/**
 * The public API behind Firebase ID tokens, verified by the real firebase-admin in Auth
 * emulator mode (FIREBASE_AUTH_EMULATOR_HOST set), through the real app on loopback.
 *
 * What firebase-admin 13 checks in emulator mode (read from lib/auth/token-verifier.js and
 * lib/utils/jwt.js): `aud` = project id, `iss` = https://securetoken.google.com/<project id>,
 * `sub` a non-empty string of at most 128 characters, and, through jsonwebtoken with
 * algorithms ['none'], that the token is UNSIGNED (a token with any signature part is refused)
 * and `exp` (only when present). It does not require `kid` or RS256, and it always calls the
 * emulator's accounts:lookup to check the user exists, is enabled and is not revoked
 * (tokensValidAfterTime against `auth_time`). Signature checks are skipped, so an edited
 * unsigned payload cannot be told from a real one here: real tampering is covered by
 * auth.firebaseSignature.test.ts, which runs the production RS256 path against local keys.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { deleteApp, getApps, initializeApp, type App } from 'firebase-admin/app';
import { getAuth } from 'firebase-admin/auth';
import { createFirebaseAuthenticate } from '../../src/http/firebaseAuth';
import { makeTestAudio, makeTestImage } from '../support/media';
import { startTestStack, upload, type TestStack } from '../support/stack';
import { idTokenClaims, makeKey, signJwt, startAuthEmulatorStandIn, unsignedJwt, type AuthEmulatorStandIn } from './authFixtures';

const PROJECT = 'demo-avatar-auth';

let emulator: AuthEmulatorStandIn;
let app: App;
let stack: TestStack;
let mediaDir: string;
let image: string;
let audio: string;

const token = (uid: string, overrides: Record<string, unknown> = {}) => unsignedJwt(idTokenClaims(PROJECT, uid, overrides));
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

async function get(urlPath: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${stack.baseUrl}${urlPath}`, { headers });
  return { status: res.status, body: (await res.json()) as any };
}

beforeAll(async () => {
  emulator = await startAuthEmulatorStandIn();
  // firebase-admin reads the variable when Auth is made and on every verification.
  process.env.FIREBASE_AUTH_EMULATOR_HOST = emulator.host;
  for (const uid of ['alice', 'bob', 'carol']) emulator.users.set(uid, {});
  app = initializeApp({ projectId: PROJECT }, 'auth-emulator-test');
  stack = await startTestStack({
    env: { AUTH_MODE: 'firebase', GOOGLE_CLOUD_PROJECT: PROJECT, JOB_STORE: 'sqlite', TASKS: 'embedded' },
    overrides: { authenticate: createFirebaseAuthenticate({ auth: getAuth(app) }) },
  });
  mediaDir = await mkdtemp(path.join(os.tmpdir(), 'auth-media-'));
  image = await makeTestImage(mediaDir, { format: 'png', width: 320, height: 256 });
  audio = await makeTestAudio(mediaDir, { format: 'wav', seconds: 1 });
});

afterAll(async () => {
  await stack?.close();
  await deleteApp(app);
  await emulator?.close();
  await rm(mediaDir, { recursive: true, force: true });
  delete process.env.FIREBASE_AUTH_EMULATOR_HOST;
});

describe('the public API with Firebase ID tokens (Auth emulator mode)', () => {
  test('when no token is sent, every public route answers 401 missing_token', async () => {
    for (const urlPath of ['/jobs', '/jobs/some-job', '/jobs/some-job/video']) {
      const res = await get(urlPath);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ success: false, error: { code: 'missing_token', message: expect.stringContaining('Bearer') } });
    }
    const up = await upload(stack.baseUrl, { image, audio, instructorName: 'Ada' });
    expect(up.status).toBe(401);
    expect(up.body.error.code).toBe('missing_token');
  });

  test('when the header is not a Bearer token (Basic, or Bearer with nothing), the answer is 401 missing_token', async () => {
    expect((await get('/jobs', { authorization: 'Basic YWxpY2U6cHc=' })).body.error.code).toBe('missing_token');
    expect((await get('/jobs', { authorization: 'Bearer ' })).body.error.code).toBe('missing_token');
  });

  test('when the token has expired, the answer is 401 invalid_token saying so, without echoing the token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = token('alice', { iat: now - 7200, auth_time: now - 7200, exp: now - 3600 });
    const res = await get('/jobs', bearer(expired));
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('invalid_token');
    expect(res.body.error.message).toMatch(/expired/);
    expect(JSON.stringify(res.body)).not.toContain(expired.split('.')[1]);
  });

  test('when the token was issued for another Firebase project, the answer is 401 naming the audience', async () => {
    const res = await get('/jobs', bearer(token('alice', { aud: 'someone-elses-project' })));
    expect(res.status).toBe(401);
    expect(res.body.error).toEqual({ code: 'invalid_token', message: expect.stringMatching(/audience/) });
    expect(res.body.error.message).not.toContain('someone-elses-project');
  });

  test('when the token names another issuer, the answer is 401 naming the issuer', async () => {
    const res = await get('/jobs', bearer(token('alice', { iss: 'https://accounts.google.com' })));
    expect(res.status).toBe(401);
    expect(res.body.error).toEqual({ code: 'invalid_token', message: expect.stringMatching(/issuer/) });
  });

  test('when a signed token is presented to an emulator-mode server (a forged or tampered one), it is refused: the emulator only issues unsigned tokens', async () => {
    const forged = signJwt(makeKey(), idTokenClaims(PROJECT, 'alice'));
    const res = await get('/jobs', bearer(forged));
    expect(res.status).toBe(401);
    expect(res.body.error).toEqual({ code: 'invalid_token', message: expect.stringMatching(/signature/) });
  });

  test('when the token is not a JWT at all, the answer is 401 invalid_token', async () => {
    const res = await get('/jobs', bearer('not-a-jwt'));
    expect(res.status).toBe(401);
    expect(res.body.error).toEqual({ code: 'invalid_token', message: expect.stringMatching(/not a JWT/) });
  });

  test('when the token has no expiry (firebase-admin would let it through), it is refused', async () => {
    const res = await get('/jobs', bearer(token('alice', { exp: undefined })));
    expect(res.status).toBe(401);
    expect(res.body.error.message).toMatch(/expiry/);
  });

  test('when the user signed out everywhere after the token was issued, the token is revoked: 401 token_revoked', async () => {
    const now = Math.floor(Date.now() / 1000);
    emulator.users.set('dave', { validSince: now });
    const res = await get('/jobs', bearer(token('dave', { auth_time: now - 600 })));
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('token_revoked');
  });

  test('when the account is disabled, the answer is 403 user_disabled; an account that does not exist gets 401', async () => {
    emulator.users.set('erin', { disabled: true });
    const disabled = await get('/jobs', bearer(token('erin')));
    expect(disabled.status).toBe(403);
    expect(disabled.body.error.code).toBe('user_disabled');
    const ghost = await get('/jobs', bearer(token('nobody-here')));
    expect(ghost.status).toBe(401);
    expect(ghost.body.error.code).toBe('invalid_token');
  });

  test('with a valid token the upload is accepted (202) and the job belongs to the token\'s uid, not to a userId form field', async () => {
    const up = await upload(stack.baseUrl, { image, audio, instructorName: 'Ada', userId: 'bob' }, bearer(token('alice')));
    expect(up.status).toBe(202);
    const mine = await get(`/jobs/${up.body.jobId}`, bearer(token('alice')));
    expect(mine.status).toBe(200);
    expect(mine.body.ownerUid).toBe('alice');
    expect(emulator.lookups).toContain('alice');

    // The user the form field named cannot see it: to them it does not exist.
    const theirs = await get(`/jobs/${up.body.jobId}`, bearer(token('bob')));
    expect(theirs.status).toBe(404);
    const bobsList = await get('/jobs', bearer(token('bob')));
    expect(bobsList.status).toBe(200);
    expect(bobsList.body.jobs.map((j: { jobId: string }) => j.jobId)).not.toContain(up.body.jobId);
    const alicesList = await get('/jobs', bearer(token('alice')));
    expect(alicesList.body.jobs.map((j: { jobId: string }) => j.jobId)).toContain(up.body.jobId);
  });

  test('an X-User-Id header cannot stand in for a token, nor override it', async () => {
    expect((await get('/jobs', { 'x-user-id': 'alice' })).status).toBe(401);
    const up = await upload(stack.baseUrl, { image, audio, instructorName: 'Ada' }, { ...bearer(token('carol')), 'x-user-id': 'alice' });
    expect(up.status).toBe(202);
    expect((await get(`/jobs/${up.body.jobId}`, bearer(token('carol')))).body.ownerUid).toBe('carol');
    expect((await get(`/jobs/${up.body.jobId}`, bearer(token('alice')))).status).toBe(404);
  });

  test('another user\'s job is 404 on every route that names it', async () => {
    const up = await upload(stack.baseUrl, { image, audio, instructorName: 'Ada' }, bearer(token('alice')));
    expect(up.status).toBe(202);
    const jobId = up.body.jobId as string;
    expect((await get(`/jobs/${jobId}/video`, bearer(token('bob')))).status).toBe(404);
    const cancel = await fetch(`${stack.baseUrl}/jobs/${jobId}/cancel`, { method: 'POST', headers: bearer(token('bob')) });
    expect(cancel.status).toBe(404);
    const events = await fetch(`${stack.baseUrl}/jobs/${jobId}/events`, { headers: bearer(token('bob')) });
    expect(events.status).toBe(404);
    await events.body?.cancel();
  });
});

describe('wiring: AUTH_MODE=firebase with no override', () => {
  test('startService verifies Firebase ID tokens itself: no token is 401, a valid one is 200 and names the caller', async () => {
    // The default firebase-admin app finds its project the way it does on Cloud Run.
    process.env.GCLOUD_PROJECT = PROJECT;
    const wired = await startTestStack({ env: { AUTH_MODE: 'firebase', GOOGLE_CLOUD_PROJECT: PROJECT, JOB_STORE: 'sqlite', TASKS: 'embedded' } });
    try {
      const anonymous = await fetch(`${wired.baseUrl}/jobs`);
      expect(anonymous.status).toBe(401);
      const asLocalUser = await fetch(`${wired.baseUrl}/jobs`, { headers: { 'x-user-id': 'alice' } });
      expect(asLocalUser.status).toBe(401);
      emulator.users.set('frank', {});
      const signedIn = await fetch(`${wired.baseUrl}/jobs`, { headers: bearer(token('frank')) });
      expect(signedIn.status).toBe(200);
      expect(emulator.lookups).toContain('frank');
    } finally {
      await wired.close();
      const defaultApp = getApps().find((a) => a.name === '[DEFAULT]');
      if (defaultApp) await deleteApp(defaultApp);
      delete process.env.GCLOUD_PROJECT;
    }
  });
});
