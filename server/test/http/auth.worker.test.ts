/**
 * The worker route behind Google OIDC tokens (what Cloud Tasks attaches to `oidcToken` tasks),
 * verified with google-auth-library through the real app on loopback: end to end with the
 * embedded Cloud Tasks emulator signing the tokens, then hand-made tokens for every refusal.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CloudTasksClient } from '@google-cloud/tasks';
import { OAuth2Client } from 'google-auth-library';
import { ConfigError, loadConfig } from '../../src/config';
import { SIGNATURE_REMOVED, createWorkerOidcAuthenticate } from '../../src/http/workerOidcAuth';
import { OidcSigner } from '../../src/cloudTasksEmulator';
import { makeTestAudio, makeTestImage } from '../support/media';
import { startTestStack, upload, waitForJob, type TestStack } from '../support/stack';
import { decodePayload, makeKey, signJwt, startCertServer, withPayload, type TestKey } from './authFixtures';

const SA = 'avatar-tasks@demo-avatar.iam.gserviceaccount.com';
const AUDIENCE = 'https://avatar-worker-abc123-uc.a.run.app';

function oidcClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    aud: AUDIENCE,
    azp: '104763012345678901234',
    email: SA,
    email_verified: true,
    exp: now + 3600,
    iat: now,
    iss: 'https://accounts.google.com',
    sub: '104763012345678901234',
    ...overrides,
  };
}

async function postWorker(baseUrl: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${baseUrl}/worker/process-avatar`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ jobId: 'no-such-job', stepSeq: 0 }),
  });
  return { status: res.status, body: (await res.json()) as any };
}

describe('the worker with the embedded Cloud Tasks emulator signing OIDC tokens (TASKS_SERVICE_ACCOUNT set)', () => {
  let stack: TestStack;
  let mediaDir: string;

  beforeAll(async () => {
    stack = await startTestStack({ env: { TASKS_SERVICE_ACCOUNT: SA } });
    mediaDir = await mkdtemp(path.join(os.tmpdir(), 'auth-worker-media-'));
  });
  afterAll(async () => {
    await stack?.close();
    await rm(mediaDir, { recursive: true, force: true });
  });

  test('a job completes end to end: every task the emulator dispatches carries a token the worker accepts', async () => {
    const image = await makeTestImage(mediaDir, { format: 'png', width: 320, height: 256 });
    const audio = await makeTestAudio(mediaDir, { format: 'wav', seconds: 1 });
    const up = await upload(stack.baseUrl, { image, audio, instructorName: 'Ada' });
    expect(up.status).toBe(202);
    const job = await waitForJob(stack.baseUrl, up.body.jobId);
    expect(job.status).toBe('completed');
  });

  test('the worker route is closed: no token is 401, and a token signed by any other key is 401', async () => {
    const none = await postWorker(stack.baseUrl);
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('missing_token');

    const stranger = new OidcSigner();
    const forged = stranger.sign(SA, `${stack.baseUrl}/worker/process-avatar`);
    const res = await postWorker(stack.baseUrl, { authorization: `Bearer ${forged}` });
    expect(res.status).toBe(401);
    expect(res.body.error).toEqual({ code: 'invalid_token', message: expect.stringMatching(/unknown key/) });
  });

  test('a task minted for another service account reaches the worker with a valid token and is refused with 403', async () => {
    const emulator = stack.service.emulator!;
    const client = new CloudTasksClient({ ...emulator.endpoint });
    try {
      const parent = client.queuePath(stack.config.tasks.project, stack.config.tasks.location, stack.config.tasks.queue);
      const [task] = await client.createTask({
        parent,
        task: {
          httpRequest: {
            httpMethod: 'POST',
            url: `${stack.baseUrl}/worker/process-avatar`,
            headers: { 'Content-Type': 'application/json' },
            body: Buffer.from(JSON.stringify({ jobId: 'no-such-job', stepSeq: 0 })),
            oidcToken: { serviceAccountEmail: 'intruder@other-project.iam.gserviceaccount.com' },
          },
        },
      });
      let status: number | null | undefined;
      for (let i = 0; i < 100 && status === undefined; i++) {
        const [seen] = await client.getTask({ name: task.name, responseView: 'FULL' });
        status = seen.lastAttempt?.responseStatus?.code ?? undefined;
        if (status === undefined) await new Promise((r) => setTimeout(r, 50));
      }
      expect(status).toBe(7); // google.rpc.Code PERMISSION_DENIED: what Cloud Tasks records for an HTTP 403
      await client.deleteTask({ name: task.name });
    } finally {
      await client.close();
    }
  });
});

describe('the worker route with hand-made OIDC tokens', () => {
  let stack: TestStack;
  let google: TestKey;
  let certCalls = 0;

  beforeAll(async () => {
    google = makeKey('google-oauth2-key');
    stack = await startTestStack({
      env: { TASKS_SERVICE_ACCOUNT: SA, WORKER_AUDIENCE: AUDIENCE },
      overrides: {
        authenticateWorker: createWorkerOidcAuthenticate({
          audience: [AUDIENCE, `${AUDIENCE}/worker/process-avatar`],
          serviceAccountEmail: SA,
          certs: async () => {
            certCalls += 1;
            return { [google.kid]: google.publicPem };
          },
        }),
      },
    });
  });
  afterAll(() => stack?.close());

  const send = (token: string) => postWorker(stack.baseUrl, { authorization: `Bearer ${token}` });

  test('a valid token from the tasks service account passes (for either configured audience)', async () => {
    const before = certCalls;
    const res = await send(signJwt(google, oidcClaims()));
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    expect((await send(signJwt(google, oidcClaims({ aud: `${AUDIENCE}/worker/process-avatar` })))).status).toBe(200);
    expect(certCalls).toBeGreaterThan(before);
  });

  test('Google\'s issuer is accepted with or without the scheme; any other issuer is 401', async () => {
    expect((await send(signJwt(google, oidcClaims({ iss: 'accounts.google.com' })))).status).toBe(200);
    const res = await send(signJwt(google, oidcClaims({ iss: 'https://securetoken.google.com/demo-avatar' })));
    expect(res.status).toBe(401);
    expect(res.body.error.message).toMatch(/issuer/);
  });

  test('a missing token is 401 missing_token', async () => {
    const res = await postWorker(stack.baseUrl);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('missing_token');
  });

  test('an expired token is 401 (past Google\'s five minutes of clock skew), and the token is not echoed', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = signJwt(google, oidcClaims({ iat: now - 4000, exp: now - 400 }));
    const res = await send(expired);
    expect(res.status).toBe(401);
    expect(res.body.error).toEqual({ code: 'invalid_token', message: 'The worker token has expired' });
    expect(JSON.stringify(res.body)).not.toContain(expired.split('.')[1]);
  });

  test('a token for another audience (another Cloud Run service) is 401', async () => {
    const res = await send(signJwt(google, oidcClaims({ aud: 'https://some-other-service.a.run.app' })));
    expect(res.status).toBe(401);
    expect(res.body.error.message).toMatch(/audience/);
  });

  test('a valid token for another identity is 403, and so is one whose email is not verified', async () => {
    const other = await send(signJwt(google, oidcClaims({ email: 'someone@example.com' })));
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe('forbidden');
    const unverified = await send(signJwt(google, oidcClaims({ email_verified: false })));
    expect(unverified.status).toBe(403);
    const noEmail = await send(signJwt(google, oidcClaims({ email: undefined })));
    expect(noEmail.status).toBe(403);
  });

  test('a tampered token (another identity\'s token with the email edited to ours) is 401 invalid signature', async () => {
    const theirs = signJwt(google, oidcClaims({ email: 'someone@example.com' }));
    const tampered = withPayload(theirs, { ...decodePayload(theirs), email: SA });
    const res = await send(tampered);
    expect(res.status).toBe(401);
    expect(res.body.error.message).toMatch(/invalid signature/);
  });

  test('a token signed by another key is 401, whether it borrows Google\'s key id or names its own', async () => {
    const borrowed = await send(signJwt(makeKey(google.kid), oidcClaims()));
    expect(borrowed.status).toBe(401);
    expect(borrowed.body.error.message).toMatch(/invalid signature/);
    const own = await send(signJwt(makeKey('attacker-key'), oidcClaims()));
    expect(own.status).toBe(401);
    expect(own.body.error.message).toMatch(/unknown key/);
  });

  test('an unsigned token (alg none) and a non-JWT are 401', async () => {
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', kid: google.kid })).toString('base64url')}.${Buffer.from(JSON.stringify(oidcClaims())).toString('base64url')}.`;
    expect((await send(unsigned)).status).toBe(401);
    const junk = await send('junk');
    expect(junk.status).toBe(401);
    expect(junk.body.error.message).toMatch(/not a JWT/);
  });
});

/** What Cloud Run's front end hands the container: the checked token with its signature replaced. */
function signatureRemoved(token: string): string {
  return `${token.split('.').slice(0, 2).join('.')}.${SIGNATURE_REMOVED}`;
}

describe('on Cloud Run: the token the front end forwards with its signature removed', () => {
  let onCloudRun: TestStack;
  let offCloudRun: TestStack;
  let google: TestKey;

  beforeAll(async () => {
    google = makeKey('google-oauth2-key');
    const check = (cloudRun: boolean) =>
      createWorkerOidcAuthenticate({
        audience: AUDIENCE,
        serviceAccountEmail: SA,
        certs: () => ({ [google.kid]: google.publicPem }),
        onCloudRun: cloudRun,
      });
    onCloudRun = await startTestStack({ overrides: { authenticateWorker: check(true) } });
    offCloudRun = await startTestStack({ overrides: { authenticateWorker: check(false) } });
  });
  afterAll(async () => {
    await onCloudRun?.close();
    await offCloudRun?.close();
  });

  const forwarded = (claims: Record<string, unknown> = {}) => signatureRemoved(signJwt(google, oidcClaims(claims)));
  const send = (stack: TestStack, token: string, header = 'authorization') => postWorker(stack.baseUrl, { [header]: `Bearer ${token}` });

  test('on Cloud Run, the tasks account\'s token with SIGNATURE_REMOVED_BY_GOOGLE is accepted, from Authorization or X-Serverless-Authorization', async () => {
    const res = await send(onCloudRun, forwarded());
    expect(res.status).toBe(200);
    expect(res.body.result).toBe('not_found');
    const serverless = await postWorker(onCloudRun.baseUrl, {
      authorization: 'Bearer the-callers-own-token',
      'x-serverless-authorization': `Bearer ${forwarded()}`,
    });
    expect(serverless.status).toBe(200);
  });

  test('on Cloud Run, a token with a real signature is still verified: Google\'s key passes, another key is 401', async () => {
    expect((await send(onCloudRun, signJwt(google, oidcClaims()))).status).toBe(200);
    const forged = await send(onCloudRun, signJwt(makeKey(google.kid), oidcClaims()));
    expect(forged.status).toBe(401);
    expect(forged.body.error.message).toMatch(/invalid signature/);
  });

  test('off Cloud Run, the same token without its signature is 401: nothing checked it', async () => {
    const res = await send(offCloudRun, forwarded());
    expect(res.status).toBe(401);
    expect(res.body.error).toEqual({ code: 'invalid_token', message: expect.stringMatching(/no signature/) });
    const serverless = await send(offCloudRun, forwarded(), 'x-serverless-authorization');
    expect(serverless.status).toBe(401);
  });

  test('off Cloud Run, a marker token whose claims were edited to the tasks account is 401', async () => {
    const theirs = signJwt(google, oidcClaims({ email: 'someone@example.com' }));
    const tampered = signatureRemoved(withPayload(theirs, { ...decodePayload(theirs), email: SA }));
    const res = await send(offCloudRun, tampered);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('invalid_token');
  });

  test('on Cloud Run, a forwarded token for another service account is 403, and so is one with an unverified email', async () => {
    const other = await send(onCloudRun, forwarded({ email: 'intruder@other-project.iam.gserviceaccount.com' }));
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe('forbidden');
    expect((await send(onCloudRun, forwarded({ email_verified: false }))).status).toBe(403);
  });

  test('on Cloud Run, a forwarded token for another audience (another service) is 401', async () => {
    const res = await send(onCloudRun, forwarded({ aud: 'https://some-other-service.a.run.app' }));
    expect(res.status).toBe(401);
    expect(res.body.error.message).toMatch(/audience/);
  });

  test('on Cloud Run, an expired forwarded token is 401, and so is one from another issuer', async () => {
    const now = Math.floor(Date.now() / 1000);
    const res = await send(onCloudRun, forwarded({ iat: now - 4000, exp: now - 400 }));
    expect(res.status).toBe(401);
    expect(res.body.error).toEqual({ code: 'invalid_token', message: 'The worker token has expired' });
    const issuer = await send(onCloudRun, forwarded({ iss: 'https://securetoken.google.com/demo-avatar' }));
    expect(issuer.status).toBe(401);
    expect(issuer.body.error.message).toMatch(/issuer/);
  });

  test('on Cloud Run, a malformed marker token (not base64 JSON, two parts, no times) is 401', async () => {
    for (const token of [`junk.junk.${SIGNATURE_REMOVED}`, `e30.${SIGNATURE_REMOVED}`, forwarded({ exp: undefined })]) {
      const res = await send(onCloudRun, token);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('invalid_token');
    }
  });
});

describe('the worker check on Google\'s published certificates', () => {
  // gaxios loads node-fetch with a dynamic import(), which Jest's CommonJS sandbox refuses;
  // Node's own fetch does the same job here (outside Jest, gaxios' default is used).
  const googleClient = (url: string) =>
    new OAuth2Client({ endpoints: { oauth2FederatedSignonPemCertsUrl: url }, transporterOptions: { fetchImplementation: fetch } });
  const request = (token?: string) =>
    ({ header: (name: string) => (name.toLowerCase() === 'authorization' && token ? `Bearer ${token}` : undefined) }) as never;

  test('Google\'s certificates are fetched once and reused while their max-age lasts', async () => {
    const google = makeKey('federated-key');
    const certs = await startCertServer([google], 3600);
    try {
      const client = googleClient(certs.url);
      const authenticate = createWorkerOidcAuthenticate({ audience: AUDIENCE, serviceAccountEmail: SA, client });
      await authenticate(request(signJwt(google, oidcClaims())));
      await authenticate(request(signJwt(google, oidcClaims())));
      await expect(authenticate(request(signJwt(makeKey('federated-key'), oidcClaims())))).rejects.toMatchObject({ status: 401 });
      expect(certs.hits).toBe(1);
    } finally {
      await certs.close();
    }
  });

  test('when Google\'s certificates cannot be fetched, the answer is 503 so Cloud Tasks retries the task', async () => {
    const google = makeKey('federated-key');
    const certs = await startCertServer([google]);
    await certs.close(); // nothing listens on its port any more
    const client = googleClient(certs.url);
    const authenticate = createWorkerOidcAuthenticate({ audience: AUDIENCE, serviceAccountEmail: SA, client });
    await expect(authenticate(request(signJwt(google, oidcClaims())))).rejects.toMatchObject({ name: 'RetryableError', code: 'auth_unavailable' });
  });
});

describe('configuration', () => {
  test('K_SERVICE (set by Cloud Run) turns on the on-Cloud-Run worker check; without it the service is not on Cloud Run', () => {
    expect(loadConfig({}).onCloudRun).toBe(false);
    expect(loadConfig({ K_SERVICE: 'avatar-worker' }).onCloudRun).toBe(true);
  });

  test('in the cloud, a worker (or all-in-one) service without TASKS_SERVICE_ACCOUNT refuses to start, naming the variable', () => {
    const cloud = { GOOGLE_CLOUD_PROJECT: 'demo-avatar', CLOUD_TASKS_LOCATION: 'us-central1', WORKER_URL: `${AUDIENCE}/worker/process-avatar` };
    for (const role of ['worker', 'all']) {
      let error: unknown;
      try {
        loadConfig({ ...cloud, SERVICE_ROLE: role });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems.join('\n')).toMatch(/^TASKS_SERVICE_ACCOUNT: required for SERVICE_ROLE=/m);
    }
    expect(() => loadConfig({ ...cloud, SERVICE_ROLE: 'api' })).not.toThrow();
    expect(loadConfig({ ...cloud, SERVICE_ROLE: 'worker', TASKS_SERVICE_ACCOUNT: SA }).tasks.serviceAccount).toBe(SA);
  });
});
