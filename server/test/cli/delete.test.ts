import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeTestAudio, makeTestImage } from '../support/media';
import { startTestStack, upload, waitForJob, type TestStack } from '../support/stack';

const ROOT = path.resolve(__dirname, '../../..');
const TSX = pathToFileURL(require.resolve('tsx')).href;

function runDelete(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', TSX, path.join(ROOT, 'cli', 'delete.ts'), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AVATAR_TOKEN: '' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('the command line: delete <jobId>', () => {
  let stack: TestStack;
  let media: string;
  beforeAll(async () => {
    stack = await startTestStack({ env: { RETENTION_SWEEP_INTERVAL: '0' } });
    media = await mkdtemp(path.join(os.tmpdir(), 'cli-delete-'));
  });
  afterAll(async () => {
    await stack.close();
    await rm(media, { recursive: true, force: true });
  });

  test('with --yes it deletes the job (204) and says so; a second delete is "no job", exit 1', async () => {
    const image = await makeTestImage(media, { format: 'jpeg', name: 'face' });
    const audio = await makeTestAudio(media, { format: 'wav', seconds: 1, name: 'voice' });
    const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Kim' });
    await waitForJob(stack.baseUrl, res.body.jobId);

    const first = await runDelete([res.body.jobId, '--server', stack.baseUrl, '--yes']);
    expect(first).toMatchObject({ code: 0, stdout: `deleted ${res.body.jobId}\n` });
    expect((await fetch(`${stack.baseUrl}/jobs/${res.body.jobId}`)).status).toBe(404);
    const second = await runDelete([res.body.jobId, '--server', stack.baseUrl, '--yes']);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`no job ${res.body.jobId} for you`);
  });

  test('without a terminal and without --yes it refuses to delete (exit 2) and the job stays', async () => {
    const image = await makeTestImage(media, { format: 'jpeg', name: 'face2' });
    const audio = await makeTestAudio(media, { format: 'wav', seconds: 1, name: 'voice2' });
    const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Kim' });
    const run = await runDelete([res.body.jobId, '--server', stack.baseUrl]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('add --yes');
    expect((await fetch(`${stack.baseUrl}/jobs/${res.body.jobId}`)).status).toBe(200);
  });

  test('no job id is a usage error', async () => {
    const run = await runDelete([]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('usage: npm run delete');
  });
});
