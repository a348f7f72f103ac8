import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeTestAudio, makeTestImage } from '../support/media';
import { startTestStack, upload, waitForJob, type TestStack } from '../support/stack';

// `npx avatar-video delete <jobId>` as a real process (the package's bin, run by node as npx
// runs it) against the real local stack in this test process.

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BIN = path.join(ROOT, (JSON.parse(require('node:fs').readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin['avatar-video']!);
const ENV = { AVATAR_TOKEN: '', AVATAR_API_URL: '', LC_ALL: '', LC_MESSAGES: '', LANG: 'C.UTF-8' };
// util-linux `script` gives the command a terminal (a pty) whose input is what we write.
const HAS_SCRIPT = spawnSync('script', ['--version']).status === 0;
if (!HAS_SCRIPT && process.env.CI === 'true') throw new Error('util-linux `script` is required under CI for the terminal confirmation story');

type Result = { code: number | null; stdout: string; stderr: string };

function collect(child: ReturnType<typeof spawn>): Promise<Result> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** Without a terminal: stdin is not a TTY. */
function cli(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return collect(spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...ENV, ...env } }));
}

/** On a terminal, answering the question with `answer`; the pty's output (both streams) is in stdout. */
function onTerminal(args: string[], answer: string, env: Record<string, string> = {}): Promise<Result> {
  const command = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...ENV, ...env } });
  child.stdin!.end(`${answer}\n`);
  return collect(child);
}

describe('the command line: npx avatar-video delete <jobId>', () => {
  let stack: TestStack;
  let media: string;
  let image: string;
  let audio: string;
  const newJob = async (): Promise<string> => {
    const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Kim' });
    await waitForJob(stack.baseUrl, res.body.jobId);
    return res.body.jobId as string;
  };
  const status = async (jobId: string): Promise<number> => (await fetch(`${stack.baseUrl}/jobs/${jobId}`)).status;

  beforeAll(async () => {
    stack = await startTestStack({ env: { RETENTION_SWEEP_INTERVAL: '0' } });
    media = await mkdtemp(path.join(os.tmpdir(), 'cli-delete-'));
    image = await makeTestImage(media, { format: 'jpeg', name: 'face' });
    audio = await makeTestAudio(media, { format: 'wav', seconds: 1, name: 'voice' });
  });
  afterAll(async () => {
    await stack.close();
    await rm(media, { recursive: true, force: true });
  });

  test('with --yes it deletes the job and says so (exit 0); a second delete finds no job (exit 1, job_not_found)', async () => {
    const jobId = await newJob();
    const first = await cli(['delete', jobId, '--server', stack.baseUrl, '--yes']);
    expect(first).toMatchObject({ code: 0, stdout: `${jobId}\n` });
    expect(first.stderr).toContain(`Deleted the job ${jobId}`);
    expect(await status(jobId)).toBe(404);
    const second = await cli(['delete', jobId, '--server', stack.baseUrl, '-y']);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/^avatar-video: the server did not delete: .*\(job_not_found\)$/m);
  });

  test('without a terminal and without --yes it refuses (exit 2), in Korean with a Korean locale, and the job stays', async () => {
    const jobId = await newJob();
    const english = await cli(['delete', jobId, '--server', stack.baseUrl]);
    expect(english.code).toBe(2);
    expect(english.stderr).toContain('add --yes');
    const korean = await cli(['delete', jobId, '--server', stack.baseUrl], { LANG: 'ko_KR.UTF-8' });
    expect(korean.code).toBe(2);
    expect(korean.stderr).toContain('--yes를 붙이세요');
    expect(await status(jobId)).toBe(200);
  });

  test('with --json it prints one result line, and without --yes it refuses even if a person could answer', async () => {
    const jobId = await newJob();
    const refused = await cli(['delete', jobId, '--server', stack.baseUrl, '--json']);
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stdout.trim())).toMatchObject({ type: 'error', exitCode: 2, code: 'not_confirmed' });
    const done = await cli(['delete', jobId, '--server', stack.baseUrl, '--json', '--yes']);
    expect(done.code).toBe(0);
    expect(done.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([{ type: 'result', jobId, deleted: true }]);
    expect(await status(jobId)).toBe(404);
  });

  (HAS_SCRIPT ? test : test.skip)('on a terminal it asks first: "n" keeps the job (exit 2), "y" deletes it (exit 0)', async () => {
    const jobId = await newJob();
    const no = await onTerminal(['delete', jobId, '--server', stack.baseUrl], 'n');
    expect(no.stdout).toContain(`Delete the job ${jobId}, its photo, recording and video for good? [y/N]`);
    expect(no.stdout).toContain(`not deleted; the job ${jobId} stays`);
    expect(no.code).toBe(2);
    expect(await status(jobId)).toBe(200);
    const yes = await onTerminal(['delete', jobId, '--server', stack.baseUrl], '예', { LANG: 'ko_KR.UTF-8' });
    expect(yes.stdout).toContain(`작업 ${jobId}과(와) 그 사진, 녹음, 영상을 영구히 삭제할까요? [y/N]`);
    expect(yes.code).toBe(0);
    expect(await status(jobId)).toBe(404);
  });

  test('usage errors exit 2 and send nothing: no job id, a second id, a flag of another command', async () => {
    const runs = await Promise.all([cli(['delete']), cli(['delete', 'a', 'b']), cli(['delete', 'a', '--force', '--yes'])]);
    for (const run of runs) expect(run.code).toBe(2);
    expect(runs[0]!.stderr).toMatch(/^avatar-video: delete needs a job id\nusage: [\s\S]*\n +npx avatar-video delete <jobId> \[--yes\]/);
    expect(runs[1]!.stderr).toMatch(/^avatar-video: Unexpected argument 'b'/);
    expect(runs[2]!.stderr).toMatch(/^avatar-video: --force is not an option of delete/);
  });
});
