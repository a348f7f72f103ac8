import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeHugeDeclaredPng, makeTestAudio, makeTestImage, probe } from '../support/media';
import { freePort, getJob, startTestStack, upload, waitForJob, type TestStack } from '../support/stack';

// `npx avatar-video` as a real process against the real local stack in this test process: the
// package's bin (bin/avatar-video.js) run by node, as npx runs it, so signals reach the command.

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BIN = path.join(ROOT, (JSON.parse(require('node:fs').readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin['avatar-video']!);
const AUDIO_SECONDS = 2;

interface Run {
  child: ChildProcess;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  stderrSoFar(): string;
}

function cli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Run {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    stdio: ['ignore', 'pipe', 'pipe'], // no terminal: progress is printed line by line
    // English unless a test asks for Korean; no server from the environment unless given.
    env: { ...process.env, AVATAR_TOKEN: '', AVATAR_API_URL: '', LC_ALL: '', LC_MESSAGES: '', LANG: 'C.UTF-8', ...options.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, done, stderrSoFar: () => stderr };
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let work: string;
let image: string;
let audio: string;
let stack: TestStack;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'cli-test-'));
  [image, audio, stack] = await Promise.all([
    makeTestImage(work, { format: 'png', name: 'kim_lee' }),
    makeTestAudio(work, { format: 'mp3', seconds: AUDIO_SECONDS, name: 'voice' }),
    // Latency keeps a job running long enough to be interrupted.
    startTestStack({ env: { LOCAL_RENDER_LATENCY_MS: '1500' } }),
  ]);
});

afterAll(async () => {
  await stack?.close();
  await rm(work, { recursive: true, force: true });
});

describe('npx avatar-video generate', () => {
  test('when the job completes, it shows each step, saves an h264+aac MP4 of the audio length and exits 0', async () => {
    const out = path.join(work, 'result.mp4');
    const { code, stdout, stderr } = await cli(['--image', image, '--audio', audio, '--server', stack.baseUrl, '--out', out, '--bio', 'Teaches']).done;
    expect({ code, stderr }).toMatchObject({ code: 0 });
    expect(stdout).toBe(`${out}\n`);

    const jobId = /Job ([0-9a-f-]{36}) accepted for "kim lee"/.exec(stderr)?.[1];
    expect(jobId).toBeDefined();
    const steps = [...stderr.matchAll(/^ {2}(\d)\/4 /gm)].map((m) => Number(m[1]));
    expect(steps).toEqual([...steps].sort()); // in order, each once
    expect(new Set(steps).size).toBe(steps.length);
    expect(steps).toContain(3);
    expect(steps[steps.length - 1]).toBe(4);
    expect(stderr).toMatch(/^ +100% · local-render created · /m);
    expect(stderr).toMatch(/^Completed in \d+:\d\d$/m);

    const info = await probe(out);
    expect(info.streams.find((s) => s.codecType === 'video')?.codecName).toBe('h264');
    const a = info.streams.find((s) => s.codecType === 'audio');
    expect(a?.codecName).toBe('aac');
    expect(Math.abs((a?.durationSec ?? info.durationSec ?? 0) - AUDIO_SECONDS)).toBeLessThan(0.3);
    expect(existsSync(`${out}.part`)).toBe(false);
    await expect(getJob(stack.baseUrl, jobId!)).resolves.toMatchObject({ status: 'completed', input: { instructorName: 'kim lee', instructorBio: 'Teaches' } });
  });

  test('when the photo passes the type check but does not decode, the job fails, the reason is printed and the exit is 1', async () => {
    // A real PNG header (640×480, so the upload checks pass) over pixel data that does not inflate.
    const broken = await makeHugeDeclaredPng(work, { width: 640, height: 480, bytes: 4096, name: 'broken' });
    const cwd = await mkdtemp(path.join(work, 'cwd-'));
    const { code, stdout, stderr } = await cli(['--image', broken, '--audio', audio, '--name', 'Ana', '--server', stack.baseUrl], { cwd }).done;
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^avatar-video: the job failed after \d+:\d\d: .+ \(bad_media\)$/m);
    await expect(readdir(cwd)).resolves.toEqual([]); // no video, no partial file
  });

  test('when the usage is wrong, it exits 2 with the usage line and sends nothing', async () => {
    const before = (await stack.service.store.listByOwner('local-user', { limit: 100 })).jobs.length;
    const runs = await Promise.all([
      cli(['--image', image, '--audio', audio, '--colour', 'red']).done,
      cli(['--image', image]).done,
      cli(['--image', path.join(work, 'missing.jpg'), '--audio', audio]).done,
      cli(['--image', audio, '--audio', audio, '--server', stack.baseUrl]).done, // a recording as the photo
      cli(['--image', image, '--audio', audio, 'extra']).done,
      cli(['generate', '--image', image, '--audio', audio, 'extra']).done,
      cli(['watch']).done,
      cli(['list', '--limit', '0']).done,
      cli(['cancel', 'some-id', '--image', image]).done,
    ]);
    for (const run of runs) expect(run.code).toBe(2);
    expect(runs[0]!.stderr).toMatch(/^avatar-video: Unknown option '--colour'.*\nusage: npx avatar-video \[generate\] --image FILE --audio FILE/s);
    expect(runs[1]!.stderr).toBe(`avatar-video: missing --audio\n${runs[0]!.stderr.split('\n').slice(1).join('\n')}`);
    expect(runs[2]!.stderr).toMatch(/^avatar-video: --image: no such file: .*missing\.jpg\nusage: /);
    expect(runs[3]!.stderr).toMatch(/^avatar-video: --image: .*voice\.mp3 is not a JPEG, PNG, WebP or HEIC image/);
    expect(runs[4]!.stderr).toMatch(/^avatar-video: unknown command "extra"\nusage: /);
    expect(runs[5]!.stderr).toMatch(/^avatar-video: Unexpected argument 'extra'/);
    expect(runs[6]!.stderr).toMatch(/^avatar-video: watch needs a job id\n/);
    expect(runs[7]!.stderr).toMatch(/^avatar-video: --limit must be a whole number from 1 to 100\n/);
    expect(runs[8]!.stderr).toMatch(/^avatar-video: --image is not an option of cancel\n/);
    expect((await stack.service.store.listByOwner('local-user', { limit: 100 })).jobs.length).toBe(before);
  });

  test('when the server restarts while the job runs, it reconnects after the retry hint, resumes, and saves the video', async () => {
    const dataDir = await mkdtemp(path.join(work, 'restart-'));
    const port = await freePort();
    // The same port and data: the restarted server finds the job and its pending tasks.
    const env = { PORT: String(port), LOCAL_RENDER_LATENCY_MS: '2500' };
    let server = await startTestStack({ env, dataDir });
    try {
      const out = path.join(work, 'restarted.mp4');
      const run = cli(['--image', image, '--audio', audio, '--name', 'Restart', '--server', server.baseUrl, '--out', out]);
      await until(() => /^ {2}[23]\/4 /m.test(run.stderrSoFar()), 30_000, 'the job to be running');
      await server.close({ keepData: true }); // the open stream ends with a retry hint
      server = await startTestStack({ env, dataDir });
      const { code, stdout, stderr } = await run.done;
      expect({ code, stderr }).toMatchObject({ code: 0 });
      expect(stdout).toBe(`${out}\n`);
      expect(stderr).not.toMatch(/cannot (reach|follow)/);
      expect((await probe(out)).streams.map((s) => s.codecName).sort()).toEqual(['aac', 'h264']);
    } finally {
      await server.close();
    }
  });

  test('when the server cannot be reached, it says so and exits 1', async () => {
    const { code, stderr } = await cli(['--image', image, '--audio', audio, '--server', 'http://127.0.0.1:9']).done;
    expect(code).toBe(1);
    expect(stderr).toMatch(/^avatar-video: cannot reach http:\/\/127\.0\.0\.1:9 \(ECONNREFUSED\); is the service running\?/m);
  });

  test('when Ctrl-C arrives without a terminal, the job is cancelled and the exit is 1', async () => {
    const run = cli(['--image', image, '--audio', audio, '--name', 'Stop Me', '--server', stack.baseUrl]);
    await until(() => / accepted for /.test(run.stderrSoFar()), 20_000, 'the job to be accepted');
    const jobId = /Job ([0-9a-f-]{36}) accepted/.exec(run.stderrSoFar())![1]!;
    run.child.kill('SIGINT');
    const { code, stdout, stderr } = await run.done;
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^avatar-video: (interrupted: cancel requested|the job was cancelled)/m);
    const job = await waitForJob(stack.baseUrl, jobId);
    expect(job.cancelRequested).toBe(true);
    expect(job.status).toBe('cancelled');
  });
});

/** Each stdout line parsed as JSON (the test fails on any line that is not). */
function jsonLines(stdout: string): Array<Record<string, any>> {
  expect(stdout.endsWith('\n')).toBe(true);
  return stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, any>);
}

async function jobCount(): Promise<number> {
  return (await stack.service.store.listByOwner('local-user', { limit: 100 })).jobs.length;
}

/** A job started over HTTP (as another client would), for the commands that take a job id. */
async function startJob(instructorName: string): Promise<string> {
  const res = await upload(stack.baseUrl, { image, audio, instructorName });
  expect(res.status).toBe(202);
  return res.body.jobId as string;
}

describe('npx avatar-video: scripts, server address and --out', () => {
  test('with --json, stdout holds only JSON lines: accepted, each job change, then the result with the saved path', async () => {
    const folder = await mkdtemp(path.join(work, 'json-'));
    const { code, stdout, stderr } = await cli(['--image', image, '--audio', audio, '--json', '--server', stack.baseUrl, '--out', folder]).done;
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const lines = jsonLines(stdout);
    expect(lines[0]).toMatchObject({ type: 'accepted', jobId: expect.any(String), statusUrl: expect.stringContaining('/jobs/') });
    const jobId = lines[0]!.jobId as string;
    const changes = lines.slice(1, -1);
    expect(changes.length).toBeGreaterThanOrEqual(2);
    for (const change of changes) expect(change).toMatchObject({ type: 'job', job: { jobId } });
    expect(changes[changes.length - 1]!.job.status).toBe('completed');
    const saved = path.join(folder, `${jobId}.mp4`); // --out as a folder: <jobId>.mp4 inside
    expect(lines[lines.length - 1]).toEqual({ type: 'result', jobId, status: 'completed', path: saved, bytes: (await stat(saved)).size });
  });

  test('the server comes from AVATAR_API_URL when --server is not given, and host:port needs no scheme', async () => {
    const jobId = await startJob('From Env');
    const hostPort = stack.baseUrl.replace(/^http:\/\//, '');
    const { code, stdout } = await cli(['list', '--json'], { env: { AVATAR_API_URL: hostPort } }).done;
    expect(code).toBe(0);
    expect(jsonLines(stdout).map((l) => l.job.jobId)).toContain(jobId);
    // --server wins over the environment.
    const wrong = await cli(['list', '--server', 'http://127.0.0.1:9'], { env: { AVATAR_API_URL: hostPort } }).done;
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^avatar-video: cannot reach http:\/\/127\.0\.0\.1:9 /);
  });

  test('--out is checked before the upload: a missing folder or an existing file (without --force) exits 2 and sends nothing', async () => {
    const existing = path.join(work, 'keep.mp4');
    await writeFile(existing, 'precious');
    const before = await jobCount();
    const [missingDir, exists] = await Promise.all([
      cli(['--image', image, '--audio', audio, '--server', stack.baseUrl, '--out', path.join(work, 'no-such-dir', 'v.mp4')]).done,
      cli(['--image', image, '--audio', audio, '--server', stack.baseUrl, '--out', existing]).done,
    ]);
    expect(missingDir.code).toBe(2);
    expect(missingDir.stderr).toMatch(/^avatar-video: --out: the folder .*no-such-dir does not exist\n/);
    expect(exists.code).toBe(2);
    expect(exists.stderr).toMatch(/^avatar-video: --out: .*keep\.mp4 already exists; add --force to replace it\n/);
    await expect(readFile(existing, 'utf8')).resolves.toBe('precious');
    expect(await jobCount()).toBe(before);
  });

  test('--help documents every command and the exit statuses 0, 1, 2 and 130', async () => {
    const { code, stdout } = await cli(['--help']).done;
    expect(code).toBe(0);
    for (const command of ['generate', 'watch <jobId>', 'download <jobId>', 'list', 'cancel <jobId>', 'retry <jobId>', 'delete <jobId>']) expect(stdout).toContain(`  ${command}`);
    expect(stdout).toMatch(/^ {2}0 {4}done/m);
    expect(stdout).toMatch(/^ {2}1 {4}the job failed/m);
    expect(stdout).toMatch(/^ {2}2 {4}bad usage/m);
    expect(stdout).toMatch(/^ {2}130 {2}interrupted \(Ctrl-C\): the job is left running/m);
  });
});

describe('npx avatar-video watch, download, list, cancel', () => {
  test('watch re-attaches to a running job, follows it to the end and prints the video URL', async () => {
    const jobId = await startJob('Watch Me');
    const { code, stdout, stderr } = await cli(['watch', jobId, '--server', stack.baseUrl]).done;
    expect({ code, stderr }).toMatchObject({ code: 0 });
    expect(stderr).toMatch(new RegExp(`^Following job ${jobId}`));
    expect(stderr).toMatch(/^ {2}4\/4 Save the video$/m);
    expect(stdout).toBe(`${stack.baseUrl}/jobs/${jobId}/video\n`);
  });

  test('Ctrl-C during watch leaves the job running and exits 130', async () => {
    const jobId = await startJob('Leave Me');
    const run = cli(['watch', jobId, '--server', stack.baseUrl]);
    await until(() => /^ {2}\d\/4 /m.test(run.stderrSoFar()), 20_000, 'the first step');
    run.child.kill('SIGINT');
    const { code, stderr } = await run.done;
    expect(code).toBe(130);
    expect(stderr).toContain(`left the job ${jobId} running`);
    const job = await waitForJob(stack.baseUrl, jobId);
    expect(job.cancelRequested).toBe(false);
    expect(job.status).toBe('completed');
  });

  test('download saves a finished job to --out, refuses to overwrite it without --force, and replaces it with --force', async () => {
    const jobId = await startJob('Download Me');
    await waitForJob(stack.baseUrl, jobId);
    const folder = await mkdtemp(path.join(work, 'dl-'));
    const first = await cli(['download', jobId, '--server', stack.baseUrl, '--out', folder]).done;
    const saved = path.join(folder, `${jobId}.mp4`);
    expect({ code: first.code, stdout: first.stdout }).toEqual({ code: 0, stdout: `${saved}\n` });
    expect((await probe(saved)).streams.map((s) => s.codecName).sort()).toEqual(['aac', 'h264']);
    const again = await cli(['download', jobId, '--server', stack.baseUrl, '--out', saved]).done;
    expect(again.code).toBe(2);
    const forced = await cli(['download', jobId, '--server', stack.baseUrl, '--out', saved, '--force']).done;
    expect(forced.code).toBe(0);
    expect(await readdir(folder)).toEqual([`${jobId}.mp4`]);
  });

  test('download of an unknown job exits 1 with the server error code', async () => {
    const { code, stderr } = await cli(['download', 'no-such-job', '--server', stack.baseUrl, '--out', work]).done;
    expect(code).toBe(1);
    expect(stderr).toMatch(/^avatar-video: .+ \(job_not_found\)$/m);
  });

  test('list prints a table of the jobs, newest first', async () => {
    const older = await startJob('Older Kim');
    const newer = await startJob('Newer Lee');
    const { code, stdout } = await cli(['list', '--server', stack.baseUrl, '--limit', '100']).done;
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^JOB ID +STATUS +PROGRESS +NAME +CREATED$/);
    const at = (id: string) => lines.findIndex((l) => l.startsWith(id));
    expect(at(newer)).toBeGreaterThan(0);
    expect(at(newer)).toBeLessThan(at(older));
    expect(lines[at(newer)]).toContain('Newer Lee');
  });

  test('cancel stops a running job (exit 0); cancelling it again after it ended exits 1 with job_finished', async () => {
    const jobId = await startJob('Cancel Me');
    const first = await cli(['cancel', jobId, '--server', stack.baseUrl]).done;
    expect({ code: first.code, stdout: first.stdout }).toEqual({ code: 0, stdout: `${jobId}\n` });
    expect((await waitForJob(stack.baseUrl, jobId)).status).toBe('cancelled');
    const second = await cli(['cancel', jobId, '--server', stack.baseUrl, '--json']).done;
    expect(second.code).toBe(1);
    expect(jsonLines(second.stdout)).toEqual([{ type: 'error', exitCode: 1, code: 'job_finished', message: expect.stringContaining('(job_finished)') }]);
  });
});

// Needs the server's POST /jobs/:id/retry (202 {success, jobId, statusUrl, eventsUrl, retriedFrom}).
describe('npx avatar-video retry', () => {
  test('a cancelled job starts again as a new job with the same photo and recording, which completes', async () => {
    const jobId = await startJob('Again Kim');
    await cli(['cancel', jobId, '--server', stack.baseUrl]).done;
    expect((await waitForJob(stack.baseUrl, jobId)).status).toBe('cancelled');
    const { code, stdout, stderr } = await cli(['retry', jobId, '--server', stack.baseUrl, '--json']).done;
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const [accepted, ...rest] = jsonLines(stdout);
    expect(rest).toEqual([]);
    expect(accepted).toMatchObject({ type: 'accepted', retriedFrom: jobId, jobId: expect.any(String) });
    expect(accepted!.jobId).not.toBe(jobId);
    const retried = await waitForJob(stack.baseUrl, accepted!.jobId);
    expect(retried).toMatchObject({ status: 'completed', input: { instructorName: 'Again Kim' } });
  });

  test('a job that is still running is not retried: exit 1 with the server reason', async () => {
    const jobId = await startJob('Still Running');
    const { code, stderr } = await cli(['retry', jobId, '--server', stack.baseUrl]).done;
    expect(code).toBe(1);
    expect(stderr).toMatch(/^avatar-video: the server did not retry: .+ \([a-z_]+\)$/m);
    expect(stderr).not.toMatch(/\(not_found\)/); // the route exists and refused
    await waitForJob(stack.baseUrl, jobId);
  });
});

describe('npx avatar-video in Korean', () => {
  test('with LANG=ko_KR.UTF-8 the messages are Korean and a failed job shows the translated reason with its code', async () => {
    const broken = await makeHugeDeclaredPng(work, { width: 640, height: 480, bytes: 4096, name: 'broken-ko' });
    const cwd = await mkdtemp(path.join(work, 'ko-'));
    const { code, stderr } = await cli(['--image', broken, '--audio', audio, '--name', 'Ana', '--server', stack.baseUrl], { cwd, env: { LANG: 'ko_KR.UTF-8' } }).done;
    expect(code).toBe(1);
    expect(stderr).toMatch(/"Ana"의 작업 [0-9a-f-]{36}이\(가\) 접수되었습니다/);
    expect(stderr).toMatch(/^avatar-video: 작업이 \d+:\d\d 만에 실패했습니다: 사진이나 녹음 파일을 읽을 수 없습니다\. \(bad_media\)$/m);
  });

  test('LC_ALL wins over LANG, and any other language falls back to English', async () => {
    const [ko, fr] = await Promise.all([
      cli(['watch'], { env: { LANG: 'en_US.UTF-8', LC_ALL: 'ko_KR.UTF-8' } }).done,
      cli(['watch'], { env: { LANG: 'fr_FR.UTF-8' } }).done,
    ]);
    expect(ko.stderr).toMatch(/^avatar-video: watch에는 작업 ID가 필요합니다\n사용법: /);
    expect(fr.stderr).toMatch(/^avatar-video: watch needs a job id\nusage: /);
  });
});
