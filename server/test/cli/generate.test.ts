import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeHugeDeclaredPng, makeTestAudio, makeTestImage, probe } from '../support/media';
import { getJob, startTestStack, waitForJob, type TestStack } from '../support/stack';

// `npm run generate` as a real process against the real local stack in this test process.
// It runs under node with tsx's loader (what `npm run generate` does, without npm's wrapper,
// so signals reach the command itself).

const ROOT = path.resolve(__dirname, '..', '..', '..');
const AUDIO_SECONDS = 2;
// By file URL: a bare `--import tsx` is resolved from the working directory, which varies.
const TSX = pathToFileURL(require.resolve('tsx')).href;

interface Run {
  child: ChildProcess;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  stderrSoFar(): string;
}

function generate(args: string[], options: { cwd?: string } = {}): Run {
  const child = spawn(process.execPath, ['--import', TSX, path.join(ROOT, 'cli', 'generate.ts'), ...args], {
    cwd: options.cwd ?? ROOT,
    stdio: ['ignore', 'pipe', 'pipe'], // no terminal: progress is printed line by line
    env: { ...process.env, AVATAR_TOKEN: '' },
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

describe('npm run generate', () => {
  test('when the job completes, it shows each step, saves an h264+aac MP4 of the audio length and exits 0', async () => {
    const out = path.join(work, 'result.mp4');
    const { code, stdout, stderr } = await generate(['--image', image, '--audio', audio, '--server', stack.baseUrl, '--out', out, '--bio', 'Teaches']).done;
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
    const { code, stdout, stderr } = await generate(['--image', broken, '--audio', audio, '--name', 'Ana', '--server', stack.baseUrl], { cwd }).done;
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^generate: the job failed after \d+:\d\d: .+ \(bad_media\)$/m);
    await expect(readdir(cwd)).resolves.toEqual([]); // no video, no partial file
  });

  test('when the usage is wrong, it exits 2 with the usage line and sends nothing', async () => {
    const before = (await stack.service.store.listByOwner('local-user', { limit: 100 })).jobs.length;
    const runs = await Promise.all([
      generate(['--image', image, '--audio', audio, '--colour', 'red']).done,
      generate(['--image', image]).done,
      generate(['--image', path.join(work, 'missing.jpg'), '--audio', audio]).done,
      generate(['--image', audio, '--audio', audio, '--server', stack.baseUrl]).done, // a recording as the photo
      generate(['--image', image, '--audio', audio, 'extra']).done,
    ]);
    for (const run of runs) expect(run.code).toBe(2);
    expect(runs[0]!.stderr).toMatch(/^generate: Unknown option '--colour'.*\nusage: npm run generate -- --image FILE --audio FILE/s);
    expect(runs[1]!.stderr).toBe(`generate: missing --audio\n${runs[0]!.stderr.split('\n')[1]}\n`);
    expect(runs[2]!.stderr).toMatch(/^generate: --image: no such file: .*missing\.jpg\nusage: /);
    expect(runs[3]!.stderr).toMatch(/^generate: --image: .*voice\.mp3 is not a JPEG, PNG, WebP or HEIC image/);
    expect(runs[4]!.stderr).toMatch(/^generate: Unexpected argument 'extra'/);
    expect((await stack.service.store.listByOwner('local-user', { limit: 100 })).jobs.length).toBe(before);
  });

  test('when the server cannot be reached, it says so and exits 1', async () => {
    const { code, stderr } = await generate(['--image', image, '--audio', audio, '--server', 'http://127.0.0.1:9']).done;
    expect(code).toBe(1);
    expect(stderr).toMatch(/^generate: cannot reach http:\/\/127\.0\.0\.1:9 \(ECONNREFUSED\); is the service running\?/m);
  });

  test('when Ctrl-C arrives without a terminal, the job is cancelled and the exit is 1', async () => {
    const run = generate(['--image', image, '--audio', audio, '--name', 'Stop Me', '--server', stack.baseUrl]);
    await until(() => / accepted for /.test(run.stderrSoFar()), 20_000, 'the job to be accepted');
    const jobId = /Job ([0-9a-f-]{36}) accepted/.exec(run.stderrSoFar())![1]!;
    run.child.kill('SIGINT');
    const { code, stdout, stderr } = await run.done;
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^generate: (interrupted: cancel requested|the job was cancelled)/m);
    const job = await waitForJob(stack.baseUrl, jobId);
    expect(job.cancelRequested).toBe(true);
    expect(job.status).toBe('cancelled');
  });
});
