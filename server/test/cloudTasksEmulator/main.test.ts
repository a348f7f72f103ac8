import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CloudTasksClient } from '@google-cloud/tasks';
import * as grpc from '@grpc/grpc-js';
import { exitOf } from '../support/processes';

// `npm run emulator:tasks`: the emulator run on its own, as a process.

const MAIN = path.join(__dirname, '../../src/cloudTasksEmulator/main.ts');
const PARENT = 'projects/demo/locations/local';

function run(env: Record<string, string>) {
  return spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describe('the Cloud Tasks emulator run alone', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tasks-emulator-main-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('when a variable is bad, it exits 2 and names the variable', async () => {
    const child = run({ TASKS_EMULATOR_PORT: 'eighty', TASKS_EMULATOR_DB: path.join(dir, 'tasks.sqlite') });
    const { code, stderr } = await exitOf(child);
    expect(code).toBe(2);
    expect(stderr).toContain('cloud tasks emulator: bad environment: TASKS_EMULATOR_PORT');
  });

  test('it logs where it listens as JSON lines, serves the official client there, keeps its queues in the file, and stops on SIGTERM', async () => {
    const db = path.join(dir, 'tasks.sqlite');
    const child = run({ TASKS_EMULATOR_PORT: '0', TASKS_EMULATOR_DB: db });
    let out = '';
    try {
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /"port":(\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        child.on('exit', (code) => reject(new Error(`exited ${code} before listening: ${out}`)));
      });
      const client = new CloudTasksClient({ apiEndpoint: '127.0.0.1', port, sslCreds: grpc.credentials.createInsecure() });
      try {
        await client.createQueue({ parent: PARENT, queue: { name: `${PARENT}/queues/alone` } });
        const [queues] = await client.listQueues({ parent: PARENT });
        expect(queues.map((q) => q.name)).toEqual([`${PARENT}/queues/alone`]);
      } finally {
        await client.close();
      }
      const exited = new Promise<number | null>((r) => child.on('exit', r));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines).toContainEqual(expect.objectContaining({ severity: 'INFO', message: `Cloud Tasks emulator listening on 127.0.0.1:${port}`, port }));
      expect(lines).toContainEqual(expect.objectContaining({ severity: 'INFO', message: 'Cloud Tasks emulator stopping', signal: 'SIGTERM' }));
      expect((await fs.stat(db)).size).toBeGreaterThan(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
