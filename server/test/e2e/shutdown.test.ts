import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../support/stack';

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
