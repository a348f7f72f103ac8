import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';

describe('configuration', () => {
  test('with no Google settings at all, everything runs on the local stack with the documented defaults', () => {
    const c = loadConfig({});
    expect(c.port).toBe(8080);
    expect(c.role).toBe('all');
    expect(c.jobStore.kind).toBe('sqlite');
    expect(c.blobStore.kind).toBe('local');
    expect(c.tasks.kind).toBe('embedded');
    expect(c.tasks.queue).toBe('video-generation-queue');
    expect(c.provider.kind).toBe('local');
    expect(c.auth.kind).toBe('local');
    expect(c.dataDir).toBe(path.resolve('./.data'));
    expect(c.pipeline.pollScheduleSec).toEqual([5, 15, 30, 60]);
    expect(c.pipeline.jobDeadlineSec).toBe(86400);
    expect(c.timeouts).toEqual({ headersMs: 20_000, requestMs: 900_000, uploadIdleMs: 30_000 });
  });

  test('slow-client timeouts are read in seconds; 0 turns the request and idle timeouts off', () => {
    expect(loadConfig({ HEADERS_TIMEOUT: '1.5', REQUEST_TIMEOUT: '0', UPLOAD_IDLE_TIMEOUT: '0' }).timeouts).toEqual({
      headersMs: 1500,
      requestMs: 0,
      uploadIdleMs: 0,
    });
  });

  test('a Google project switches to Firestore, Cloud Tasks and Firebase auth, and names what is missing', () => {
    expect(() => loadConfig({ GOOGLE_CLOUD_PROJECT: 'p' })).toThrow(/CLOUD_TASKS_LOCATION[\s\S]*WORKER_URL/);
    const c = loadConfig({
      GOOGLE_CLOUD_PROJECT: 'p',
      CLOUD_TASKS_LOCATION: 'us-central1',
      WORKER_URL: 'https://worker.example.run.app/worker/process-avatar',
      TASKS_SERVICE_ACCOUNT: 'tasks@p.iam.gserviceaccount.com',
      GCS_BUCKET: 'b',
      VISIONSTORY_API_KEY: 'k',
    });
    expect(c.jobStore.kind).toBe('firestore');
    expect(c.tasks.kind).toBe('cloud');
    expect(c.blobStore).toEqual({ kind: 'gcs', bucket: 'b' });
    expect(c.provider.kind).toBe('visionstory');
    expect(c.auth.kind).toBe('firebase');
  });

  test('the api service runs without the VisionStory key (only the worker may read it); the worker and the all-in-one role need it', () => {
    const cloud = {
      GOOGLE_CLOUD_PROJECT: 'p',
      CLOUD_TASKS_LOCATION: 'us-central1',
      WORKER_URL: 'https://worker.example.run.app/worker/process-avatar',
      TASKS_SERVICE_ACCOUNT: 'tasks@p.iam.gserviceaccount.com',
      PROVIDER: 'visionstory',
    };
    const api = loadConfig({ ...cloud, SERVICE_ROLE: 'api' });
    expect(api.provider).toMatchObject({ kind: 'visionstory', apiKey: undefined });
    expect(() => loadConfig({ ...cloud, SERVICE_ROLE: 'worker' })).toThrow(/VISIONSTORY_API_KEY: required for PROVIDER=visionstory/);
    expect(() => loadConfig({ ...cloud, SERVICE_ROLE: 'all' })).toThrow(/VISIONSTORY_API_KEY/);
  });

  test.each([
    [{ PORT: 'eighty' }, /PORT/],
    [{ SERVICE_ROLE: 'both' }, /SERVICE_ROLE/],
    [{ POLL_SCHEDULE: '5,,x' }, /POLL_SCHEDULE/],
    [{ TASK_DISPATCH_DEADLINE: '5' }, /TASK_DISPATCH_DEADLINE/],
    [{ PROVIDER: 'visionstory' }, /VISIONSTORY_API_KEY/],
    [{ WORKER_URL: 'not a url' }, /WORKER_URL/],
    [{ TASK_MIN_BACKOFF: '100', TASK_MAX_BACKOFF: '10' }, /TASK_MIN_BACKOFF/],
    [{ HEADERS_TIMEOUT: '0' }, /HEADERS_TIMEOUT/],
    [{ HEADERS_TIMEOUT: '60', REQUEST_TIMEOUT: '30' }, /HEADERS_TIMEOUT: must not exceed REQUEST_TIMEOUT/],
    [{ UPLOAD_IDLE_TIMEOUT: '-1' }, /UPLOAD_IDLE_TIMEOUT/],
  ])('a bad value (%j) stops the start with a message naming the variable', (env, pattern) => {
    let error: unknown;
    try {
      loadConfig(env as NodeJS.ProcessEnv);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(pattern);
  });

  const CLOUD = {
    GOOGLE_CLOUD_PROJECT: 'p',
    CLOUD_TASKS_LOCATION: 'us-central1',
    WORKER_URL: 'https://worker.example.run.app/worker/process-avatar',
    TASKS_SERVICE_ACCOUNT: 'tasks@p.iam.gserviceaccount.com',
  };
  const problemsOf = (env: Record<string, string>): string => {
    try {
      loadConfig(env);
    } catch (err) {
      if (err instanceof ConfigError) return err.problems.join('\n');
      throw err;
    }
    return '';
  };

  test('AUTH_MODE=local with a Google project and Google Cloud Tasks refuses to start (anyone could claim any user with X-User-Id)', () => {
    for (const role of ['all', 'api']) {
      const problems = problemsOf({ ...CLOUD, SERVICE_ROLE: role, AUTH_MODE: 'local' });
      expect(problems).toMatch(/^AUTH_MODE: local with GOOGLE_CLOUD_PROJECT and Google Cloud Tasks/m);
      expect(problems).toMatch(/X-User-Id/);
    }
    // The worker serves no public route; local stacks on the Firestore emulator keep working.
    expect(problemsOf({ ...CLOUD, SERVICE_ROLE: 'worker', AUTH_MODE: 'local' })).toBe('');
    expect(problemsOf({ GOOGLE_CLOUD_PROJECT: 'p', TASKS: 'embedded', AUTH_MODE: 'local' })).toBe('');
    expect(problemsOf({ ...CLOUD, AUTH_MODE: 'firebase' })).toBe('');
  });

  test('AUTH_MODE=firebase without a Google project refuses to start, naming both variables', () => {
    expect(problemsOf({ AUTH_MODE: 'firebase' })).toMatch(/^AUTH_MODE: firebase needs GOOGLE_CLOUD_PROJECT/m);
    expect(problemsOf({ AUTH_MODE: 'firebase', GOOGLE_CLOUD_PROJECT: 'p', TASKS: 'embedded', JOB_STORE: 'sqlite' })).toBe('');
  });

  test('a STEP_LEASE not longer than the provider timeout refuses to start (a step still waiting would be run twice)', () => {
    const vs = { VISIONSTORY_API_KEY: 'k' };
    expect(problemsOf({ ...vs, STEP_LEASE: '30', VISIONSTORY_TIMEOUT: '30' })).toMatch(/^STEP_LEASE: must be longer than VISIONSTORY_TIMEOUT/m);
    expect(problemsOf({ ...vs, STEP_LEASE: '10', VISIONSTORY_TIMEOUT: '30' })).toMatch(/STEP_LEASE/);
    expect(problemsOf({ ...vs, STEP_LEASE: '31', VISIONSTORY_TIMEOUT: '30' })).toBe('');
    expect(problemsOf(vs)).toBe(''); // the defaults: 120 s lease, 30 s timeout
  });

  test('CORS_ORIGINS is a comma-separated list of exact origins, empty by default', () => {
    expect(loadConfig({}).corsOrigins).toEqual([]);
    expect(loadConfig({ CORS_ORIGINS: ' https://app.example.com , http://localhost:5000/ ' }).corsOrigins).toEqual([
      'https://app.example.com',
      'http://localhost:5000',
    ]);
    expect(() => loadConfig({ CORS_ORIGINS: 'https://app.example.com/path' })).toThrow(/CORS_ORIGINS/);
    expect(() => loadConfig({ CORS_ORIGINS: 'app.example.com' })).toThrow(/CORS_ORIGINS/);
  });
});

describe('how clients follow a job', () => {
  const firestoreLocal = { GOOGLE_CLOUD_PROJECT: 'p', TASKS: 'embedded', AUTH_MODE: 'local' } as const;

  test('the local stack streams to every client', () => {
    expect(loadConfig({}).watch).toEqual({ browser: 'sse', cli: 'sse', pollIntervalSec: 10 });
  });

  test('with the Firestore job store the CLI polls, and the page listens to Firestore once it has the web config', () => {
    expect(loadConfig(firestoreLocal).watch).toEqual({ browser: 'sse', cli: 'poll', pollIntervalSec: 10 });
    const web = '{"apiKey":"k","projectId":"p","appId":"a"}';
    expect(loadConfig({ ...firestoreLocal, FIREBASE_WEB_CONFIG: web }).watch).toEqual({
      browser: 'firestore',
      cli: 'poll',
      pollIntervalSec: 10,
      firebase: { config: { apiKey: 'k', projectId: 'p', appId: 'a' }, collection: 'avatarJobs' },
    });
    expect(loadConfig({ ...firestoreLocal, FIREBASE_WEB_CONFIG: web, WATCH: 'stream' }).watch.browser).toBe('sse');
  });

  test('a FIREBASE_WEB_CONFIG that is not JSON, or has no projectId, is refused by name', () => {
    expect(() => loadConfig({ FIREBASE_WEB_CONFIG: '{apiKey: k}' })).toThrow(/FIREBASE_WEB_CONFIG: must be JSON/);
    expect(() => loadConfig({ FIREBASE_WEB_CONFIG: '{"apiKey":"k"}' })).toThrow(/FIREBASE_WEB_CONFIG: needs "projectId"/);
  });
});
