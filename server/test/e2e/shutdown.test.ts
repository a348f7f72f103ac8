import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeTestAudio, makeTestImage } from '../support/media';
import { freePort, upload } from '../support/stack';

// SIGTERM (what Cloud Run sends before stopping an instance): stop accepting, let in-flight
// requests finish, close the emulator and the store, exit 0.

test('on SIGTERM the service finishes an open request, then exits 0', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'sigterm-'));
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts'], {
    cwd: path.resolve(__dirname, '../../..'),
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'info' },
  });
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  try {
    const deadline = Date.now() + 20000;
    while (!stdout.includes('listening on')) {
      if (Date.now() > deadline) throw new Error(`did not start: ${stdout}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // The start line and the curl hint are JSON lines Cloud Logging can read.
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.some((l) => l.severity === 'INFO' && /curl -X POST .*generate-with-tasks/.test(l.message))).toBe(true);

    // An open event stream for a missing job answers at once; use a slow upload instead:
    // the request is in flight (headers sent, body trickling) when SIGTERM arrives.
    const http = await import('node:http');
    const inFlight = new Promise<number>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port, path: '/generate-with-tasks', method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=b' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write('--b\r\nContent-Disposition: form-data; name="instructorName"\r\n\r\nKim\r\n');
      setTimeout(() => req.end('--b--\r\n'), 500);
    });
    await new Promise((r) => setTimeout(r, 150));
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    child.kill('SIGTERM');
    expect(await inFlight).toBe(400); // answered (missing files), not cut off
    expect(await exited).toBe(0);
    expect(stdout).toMatch(/SIGTERM/);
    // No longer accepting.
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
  } finally {
    child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
});

async function startMain(env: Record<string, string>): Promise<{ child: ReturnType<typeof spawn>; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts'], {
    cwd: path.resolve(__dirname, '../../..'),
    env: { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const deadline = Date.now() + 20000;
  while (!out.includes('listening on')) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, output: () => out };
}

test('on SIGTERM an open event stream ends at once with a retry hint, so the exit does not wait the grace period', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'sigterm-sse-'));
  const port = await freePort();
  const GRACE_MS = 20000; // long, so "ended before the grace period" holds on a busy machine
  // The render takes a minute: the job stays in progress and its stream stays open.
  const { child } = await startMain({ PORT: String(port), DATA_DIR: dataDir, SHUTDOWN_GRACE_MS: String(GRACE_MS), LOCAL_RENDER_LATENCY_MS: '60000' });
  try {
    const base = `http://127.0.0.1:${port}`;
    const image = await makeTestImage(dataDir, { format: 'png', width: 320, height: 320 });
    const audio = await makeTestAudio(dataDir, { format: 'wav', seconds: 1 });
    const { status, body } = await upload(base, { image, audio, instructorName: 'Open stream' });
    expect(status).toBe(202);
    const res = await fetch(`${base}/jobs/${body.jobId}/events`);
    const text = new Response(res.body).text();
    await new Promise((r) => setTimeout(r, 300));

    const exited = new Promise<number | null>((r) => child.on('exit', r));
    const started = Date.now();
    child.kill('SIGTERM');
    const stream = await text; // the stream closed by itself
    expect(await exited).toBe(0);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(GRACE_MS / 2);
    expect(stream).toMatch(/^event: job$/m);
    expect(stream).toMatch(/retry: \d+\nevent: reconnect\ndata: \{"jobId":"[^"]+","retryMs":\d+\}\n\n$/);
    expect(stream).not.toMatch(/^event: end$/m);
  } finally {
    child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('outside Google Cloud without credentials, a cloud-configured api answers /health with 503 and the reason, and keeps running', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'no-credentials-'));
  const port = await freePort();
  const env: Record<string, string> = {
    PORT: String(port),
    DATA_DIR: dataDir,
    SERVICE_ROLE: 'api',
    GOOGLE_CLOUD_PROJECT: 'demo-no-credentials',
    CLOUD_TASKS_LOCATION: 'us-central1',
    WORKER_URL: 'https://avatar-worker-abc123-uc.a.run.app/worker/process-avatar',
    METADATA_SERVER_DETECTION: 'none',
    // Nowhere to find credentials: no key file, no gcloud login, no emulators.
    GOOGLE_APPLICATION_CREDENTIALS: '',
    HOME: dataDir,
    CLOUDSDK_CONFIG: path.join(dataDir, 'gcloud'),
    FIRESTORE_EMULATOR_HOST: '',
    CLOUD_TASKS_EMULATOR_HOST: '',
  };
  const { child, output } = await startMain(env);
  try {
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as any;
      expect(body).toMatchObject({ success: false, role: 'api', error: { code: 'unhealthy' } });
      expect(body.queue).toMatch(/credentials/);
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(child.exitCode).toBeNull();
    expect(output()).toMatch(/"severity":"ERROR".*"message":"health check failed: .*credentials/);
  } finally {
    child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
});
