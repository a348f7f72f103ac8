import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startCloudTasksEmulator, type CloudTasksEmulator } from '../../src/cloudTasksEmulator';
import { startGcsEmulator, type GcsEmulator } from '../../standins/gcsEmulator';
import { startVisionStorySimulator, type VisionStorySimulator } from '../../standins/visionStorySimulator';
import { buildDockerStages, treeBytes, type Stage } from '../support/dockerStages';
import { googleFirestoreEmulator, mustHaveGoogleEmulator, probeGoogleFirestoreEmulator, type GoogleFirestoreEmulator } from '../support/googleFirestoreEmulator';
import { makeTestAudio, makeTestImage } from '../support/media';
import { FAST_ENV, freePort, upload, waitForJob } from '../support/stack';

/*
 * No Docker engine runs here, so this test repeats the Dockerfile's build in a temporary folder
 * instead (support/dockerStages.ts: each stage a folder, each COPY copied, each RUN through a
 * known equivalent, and a RUN it does not know fails). Then it starts the runtime stage's CMD:
 * with the cloud settings in each role, against local stand-ins for what Google runs (Google's
 * Firestore emulator, the Cloud Storage stand-in, the product's Cloud Tasks emulator, the
 * VisionStory simulator), and once with the local stack's settings, which the lean image cannot
 * run.
 */

/** The runtime image's node_modules budget (bytes of its files, summed). */
const NODE_MODULES_MAX_MB = 120;
/** Installed for the local stack only: never in the runtime image. */
const LOCAL_ONLY = ['better-sqlite3', '@ffmpeg-installer', '@ffprobe-installer', 'tsx', 'esbuild', '@esbuild'];

interface Answer {
  status: number;
  body: string;
}

/** One request on a fresh connection (no keep-alive left behind to hold the server open). */
function request(url: string, options: { method?: string; json?: unknown; timeoutMs?: number } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = options.json === undefined ? undefined : JSON.stringify(options.json);
    const req = http.request(
      url,
      {
        method: options.method ?? 'GET',
        agent: false,
        timeout: options.timeoutMs ?? 10_000,
        headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function waitForHealth(url: string, child: ChildProcess, output: () => string): Promise<Answer> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}:\n${output()}`);
    try {
      // Short timeout: service.ts listens before it attaches the app, so a request that lands in
      // that window is never answered (a known start-up race); the next attempt gets through.
      return await request(`${url}/health`, { timeoutMs: 1500 });
    } catch {
      if (Date.now() > deadline) throw new Error(`no answer from ${url}/health:\n${output()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Files under `dir` whose names match. */
function filesMatching(dir: string, re: RegExp): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...filesMatching(full, re));
    else if (re.test(entry.name)) found.push(full);
  }
  return found;
}

/** The runtime stage's CMD in its folder, with only the given environment (and PATH). */
function startRuntime(runtime: Stage, env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const [command, ...args] = runtime.cmd!;
  expect(command).toBe('node');
  const child = spawn(process.execPath, args, {
    cwd: runtime.dir,
    env: { PATH: process.env.PATH, ...runtime.env, HOST: '127.0.0.1', LOG_LEVEL: 'info', METADATA_SERVER_DETECTION: 'none', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

// Whether Google's Firestore emulator can be had decides whether the cloud cases run (skipped
// locally with the reason; under CI=true they run, and fail when it is missing).
const googleAtLoad = probeGoogleFirestoreEmulator();
const cloudTest = googleAtLoad.available || mustHaveGoogleEmulator() ? test : test.skip;
const skipped = googleAtLoad.available ? '' : ` (skipped: ${googleAtLoad.reason})`;

describe('the Dockerfile, repeated step by step without a Docker engine', () => {
  let work: string;
  let runtime: Stage;

  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'docker-build-'));
    const stages = buildDockerStages(work);
    runtime = stages[stages.length - 1]!;
  }, 240_000);
  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test('the runtime stage is a supported Node LTS image running as a non-root user in production mode', () => {
    const m = /^node:(\d+)(-slim)?$/.exec(runtime.base);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(22);
    expect(runtime.user).toBe('node');
    expect(runtime.env).toMatchObject({ NODE_ENV: 'production', PORT: '8080' });
    expect(runtime.cmd).toEqual(['node', 'dist/server/src/main.js']);
  });

  test('the runtime folder holds production dependencies only (none of the local stack\'s), the compiled server and the web page, and no sources', () => {
    const has = (p: string) => fs.existsSync(path.join(runtime.dir, p));
    expect(has('dist/server/src/main.js')).toBe(true);
    for (const dep of ['express', 'firebase-admin', '@google-cloud/tasks', '@google-cloud/storage', 'sharp', 'music-metadata']) expect(has(`node_modules/${dep}`)).toBe(true);
    for (const dev of ['typescript', 'jest', '@swc/core', '@firestore-emulator/server']) expect(has(`node_modules/${dev}`)).toBe(false);
    // SQLite, both ffmpeg builds and the TypeScript runner are the local stack's (npm install).
    // A scope counts by the packages in it (the prune that stands in for `npm ci --omit=dev`
    // leaves empty scope folders behind).
    const installed = LOCAL_ONLY.flatMap((dep) =>
      !has(`node_modules/${dep}`) ? [] : dep.startsWith('@') ? fs.readdirSync(path.join(runtime.dir, 'node_modules', dep)).map((p) => `${dep}/${p}`) : [dep],
    );
    expect(installed).toEqual([]);
    expect(has('server/src/http/web/index.html')).toBe(true);
    // The web page's Firestore listener: three SDK modules, not the whole firebase package.
    for (const file of ['firebase-app.js', 'firebase-auth.js', 'firebase-firestore.js']) expect(has(`vendor/firebase/${file}`)).toBe(true);
    expect(has('node_modules/firebase')).toBe(false);
    expect(has('server/src/main.ts')).toBe(false);
    expect(has('server/test')).toBe(false);
    // Test-only servers (the GCS server, the VisionStory simulator, the Cloud Run front end) stay out.
    expect(has('server/standins')).toBe(false);
    expect(has('dist/server/standins')).toBe(false);
    expect(has('flutter_client')).toBe(false);
  });

  test(`node_modules in the runtime folder holds at most ${NODE_MODULES_MAX_MB} MB, without source maps, type declarations or markdown`, () => {
    const mb = treeBytes(path.join(runtime.dir, 'node_modules')) / 1e6;
    console.log(`runtime node_modules: ${mb.toFixed(1)} MB (files' bytes summed; budget ${NODE_MODULES_MAX_MB} MB)`);
    expect(mb).toBeLessThanOrEqual(NODE_MODULES_MAX_MB);
    expect(filesMatching(path.join(runtime.dir, 'node_modules'), /\.(map|d\.ts|d\.mts|d\.cts)$|^(?!license).*\.md$/i).slice(0, 5)).toEqual([]);
  });

  test('started with the local stack\'s settings, the runtime stops at once with a message to run `npm install`', async () => {
    const data = fs.mkdtempSync(path.join(work, 'data-local-'));
    const { output, exited } = startRuntime(runtime, { PORT: '0', DATA_DIR: data });
    const code = await exited;
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(output()).toContain('JOB_STORE=sqlite is part of the local stack');
    expect(output()).toContain('npm install');
  }, 30_000);

  describe('with the cloud settings, against local stand-ins for Google Cloud and VisionStory', () => {
    const BUCKET = 'avatar-docker';
    const PROJECT = 'demo-docker';
    const CLIENT_EMAIL = `avatar-runtime@${PROJECT}.iam.gserviceaccount.com`;
    let google: GoogleFirestoreEmulator;
    let gcs: GcsEmulator;
    let sim: VisionStorySimulator;
    let tasks: CloudTasksEmulator;
    let cloudEnv: Record<string, string>;

    beforeAll(async () => {
      google = await googleFirestoreEmulator();
      if (!google.available) return; // each case fails under CI=true (cloudTest runs them there)
      const keys = generateKeyPairSync('rsa', {
        modulusLength: 2048,
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      });
      // The runtime's service account key, as GOOGLE_APPLICATION_CREDENTIALS names one: the
      // Cloud Storage client signs the provider's and the caller's URLs with it.
      const keyFile = path.join(work, 'service-account.json');
      fs.writeFileSync(keyFile, JSON.stringify({ type: 'service_account', project_id: PROJECT, client_email: CLIENT_EMAIL, private_key: keys.privateKey }));
      gcs = await startGcsEmulator({ serviceAccounts: { [CLIENT_EMAIL]: keys.publicKey } });
      sim = await startVisionStorySimulator({ apiKey: 'k', latencyMs: 300 });
      tasks = await startCloudTasksEmulator({ dbPath: path.join(work, 'tasks.sqlite') });
      cloudEnv = {
        ...FAST_ENV,
        LOG_LEVEL: 'info',
        GOOGLE_CLOUD_PROJECT: PROJECT,
        GOOGLE_APPLICATION_CREDENTIALS: keyFile,
        JOB_STORE: 'firestore',
        FIRESTORE_EMULATOR_HOST: google.host,
        FIRESTORE_COLLECTION: `docker-${randomUUID()}`,
        BLOB_STORE: 'gcs',
        GCS_BUCKET: BUCKET,
        STORAGE_EMULATOR_HOST: gcs.baseUrl,
        CLOUD_TASKS_EMULATOR_HOST: `${tasks.endpoint.apiEndpoint}:${tasks.endpoint.port}`,
        CLOUD_TASKS_LOCATION: 'europe-west1',
        PROVIDER: 'visionstory',
        VISIONSTORY_API_KEY: 'k',
        VISIONSTORY_API_BASE: sim.baseUrl,
        VISIONSTORY_TIMEOUT: '10',
        // Callers are named by X-User-Id: a Firebase Auth emulator is not part of this rehearsal
        // (auth.firebaseEmulator.test.ts covers ID tokens). Push is off: no FCM stand-in either.
        AUTH_MODE: 'local',
        PUSH: 'off',
      };
    }, 120_000);
    afterAll(async () => {
      await tasks?.close();
      await sim?.close();
      await gcs?.close();
    });

    const needGoogle = (): void => {
      if (!google.available) throw new Error(`CI must run the lean image against Google's Firestore emulator: ${google.reason}`);
    };

    cloudTest.each([
      ['all', { '/jobs': 200, '/worker/process-avatar': 'not 404', '/': 200 }],
      ['api', { '/jobs': 200, '/worker/process-avatar': 404, '/': 200 }],
      ['worker', { '/jobs': 404, '/worker/process-avatar': 'not 404', '/': 404 }],
    ] as const)(`started with SERVICE_ROLE=%s it reaches Firestore and Cloud Tasks, answers /health on PORT and serves only its routes${skipped}`, async (role, expected) => {
      needGoogle();
      const port = await freePort();
      const data = fs.mkdtempSync(path.join(work, `data-${role}-`));
      const env = { ...cloudEnv, PORT: String(port), SERVICE_ROLE: role, DATA_DIR: data, CLOUD_TASKS_QUEUE: `docker-${role}` };
      const { child, output, exited } = startRuntime(runtime, env);
      try {
        const url = `http://127.0.0.1:${port}`;
        const health = await waitForHealth(url, child, output);
        expect(health.status).toBe(200);
        expect(JSON.parse(health.body)).toMatchObject({ success: true, role, store: 'ok', queue: 'ok' });

        const jobs = await request(`${url}/jobs`);
        expect(jobs.status).toBe(expected['/jobs']);
        const page = await request(`${url}/`);
        expect(page.status).toBe(expected['/']);
        const worker = await request(`${url}/worker/process-avatar`, { method: 'POST', json: { jobId: 'no-such-job', stepSeq: 1 } });
        if (expected['/worker/process-avatar'] === 404) expect(worker.status).toBe(404);
        else expect(worker.status).not.toBe(404);
        // Logs are JSON lines, as Cloud Logging reads them; the start line names the cloud parts.
        const listening = JSON.parse(output().split('\n').find((l) => l.startsWith('{') && l.includes('listening on'))!);
        expect(listening).toHaveProperty('severity');
        expect(listening.message).toContain(`(role ${role}, store firestore, blobs gcs, tasks emulator, provider visionstory)`);
      } finally {
        child.kill('SIGTERM');
      }
      // SIGTERM drains and exits cleanly (Cloud Run sends it before stopping an instance).
      expect(await exited).toBe(0);
    }, 60_000);

    cloudTest(`one whole job runs through the runtime folder in role all: upload, every step, the video in Cloud Storage${skipped}`, async () => {
      needGoogle();
      const port = await freePort();
      const data = fs.mkdtempSync(path.join(work, 'data-job-'));
      const media = fs.mkdtempSync(path.join(work, 'media-'));
      const { child, output, exited } = startRuntime(runtime, { ...cloudEnv, PORT: String(port), SERVICE_ROLE: 'all', DATA_DIR: data, CLOUD_TASKS_QUEUE: 'docker-job' });
      try {
        const url = `http://127.0.0.1:${port}`;
        expect((await waitForHealth(url, child, output)).status).toBe(200);
        const image = await makeTestImage(media, { format: 'jpeg', name: 'face' });
        const audio = await makeTestAudio(media, { format: 'wav', seconds: 1.5, name: 'voice' });
        const res = await upload(url, { image, audio, instructorName: 'Lean' });
        expect(res.status).toBe(202);
        const job = await waitForJob(url, res.body.jobId, undefined, 60_000);
        expect({ status: job.status, error: job.error ?? null }).toEqual({ status: 'completed', error: null });
        expect(gcs.objectNames(BUCKET)).toContain(`videos/${job.jobId}.mp4`);
        // The video is handed out as a URL signed with the runtime's key, which the stand-in checks.
        const redirect = await fetch(`${url}/jobs/${job.jobId}/video`, { redirect: 'manual' });
        expect(redirect.status).toBe(302);
        const video = await fetch(redirect.headers.get('location')!);
        expect(video.status).toBe(200);
        expect((await video.arrayBuffer()).byteLength).toBeGreaterThan(1000);
        // Nothing of the local stack was written: no SQLite file, no local blob.
        expect(fs.readdirSync(data)).toEqual([]);
      } catch (err) {
        throw new Error(`${(err as Error).message}\n--- runtime output ---\n${output()}`, { cause: err });
      } finally {
        child.kill('SIGTERM');
      }
      expect(await exited).toBe(0);
    }, 120_000);
  });
});
