import { spawn } from 'node:child_process';
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

  test('npm start with a bad variable exits with status 2 and says which variable', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts'], {
      env: { ...process.env, PORT: 'eighty', LOG_LEVEL: 'silent' },
      cwd: path.resolve(__dirname, '../../..'),
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(2);
    expect(stderr).toMatch(/PORT/);
  });
});
