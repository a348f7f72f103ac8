/**
 * The production image, repeated without a Docker engine the way its test does
 * (server/test/support/dockerStages.ts): how large its node_modules is, and how fast the
 * compiled worker starts in it with the cloud settings.
 *
 *   node_modules  bytes of the files, summed: after `npm ci --omit=dev` (before) and in the
 *                 runtime stage (after the Dockerfile deletes what is never read at run time)
 *   start-up      7 starts of the runtime's CMD with SERVICE_ROLE=worker and the cloud settings:
 *                 from spawning the process to its "listening" log line, and to the answer of
 *                 its first worker request (sent as soon as it listens: a real Firestore read,
 *                 against the npm Firestore stand-in, with a task token as Cloud Run's front end
 *                 hands it on). The Google clients are made right after listening (the warm-up),
 *                 so the second figure is what a first task really waits for.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startFirestoreEmulator } from '../server/test/support/firestoreEmulator';
import { buildDockerStages, treeBytes, type Stage } from '../server/test/support/dockerStages';
import { freePort } from '../server/test/support/stack';
import { fmt, median, type BenchRow } from './support';

const RUNS = 7;
const NODE_MODULES_MAX_MB = 120;
const LISTENING_MAX_SEC = 0.5;

const WORKER_URL = 'https://worker.example/worker/process-avatar';
const TASKS_SA = 'avatar-tasks@demo-bench.iam.gserviceaccount.com';

/** The cloud settings of the worker service (infra/deploy.sh), with nothing reachable but loopback. */
function workerEnv(firestoreHost: string, port: number): Record<string, string> {
  return {
    GOOGLE_CLOUD_PROJECT: 'demo-bench',
    CLOUD_TASKS_LOCATION: 'europe-west1',
    WORKER_URL,
    TASKS_SERVICE_ACCOUNT: TASKS_SA,
    JOB_STORE: 'firestore',
    FIRESTORE_EMULATOR_HOST: firestoreHost,
    BLOB_STORE: 'gcs',
    GCS_BUCKET: 'bench-bucket',
    PROVIDER: 'visionstory',
    VISIONSTORY_API_KEY: 'k',
    AUTH_MODE: 'firebase',
    SERVICE_ROLE: 'worker',
    K_SERVICE: 'worker',
    PORT: String(port),
    HOST: '127.0.0.1',
    METADATA_SERVER_DETECTION: 'none',
  };
}

/** A task's OIDC token as Cloud Run's front end hands it to the container: signature removed. */
function frontEndToken(): string {
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: 'https://accounts.google.com', aud: WORKER_URL, email: TASKS_SA, email_verified: true, iat: now, exp: now + 3600, sub: '1' };
  return `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(claims)}.SIGNATURE_REMOVED_BY_GOOGLE`;
}

function post(url: string, body: object, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.setTimeout(30_000, () => req.destroy(new Error('no answer in 30 s')));
    req.on('error', reject);
    req.end(text);
  });
}

interface StartRun {
  listeningMs: number;
  firstAnswerMs: number;
  firstStatus: number;
}

/** One start of the runtime's CMD: spawn → "listening" line → first worker request answered → SIGTERM. */
async function startOnce(runtime: Stage, firestoreHost: string): Promise<StartRun> {
  const port = await freePort();
  const [, ...args] = runtime.cmd!;
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: runtime.dir,
    env: { PATH: process.env.PATH, ...runtime.env, ...workerEnv(firestoreHost, port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    const listeningMs = await new Promise<number>((resolve, reject) => {
      let seen = '';
      child.stdout!.on('data', (d: Buffer) => {
        seen += d.toString();
        if (seen.includes('listening on')) resolve(performance.now() - started);
      });
      void exited.then((code) => reject(new Error(`the worker exited with ${code} before listening:\n${seen}${output}`)));
    });
    const firstStatus = await post(
      `http://127.0.0.1:${port}/worker/process-avatar`,
      { jobId: 'bench-no-such-job', stepSeq: 1 },
      { authorization: `Bearer ${frontEndToken()}` },
    );
    return { listeningMs, firstAnswerMs: performance.now() - started, firstStatus };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

export async function runImageBench(options: { log: (line: string) => void }): Promise<BenchRow[]> {
  const { log } = options;
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-image-'));
  const firestore = await startFirestoreEmulator();
  try {
    let fullBytes = 0;
    const stages = buildDockerStages(work, {
      afterRun: (stage, part) => {
        if (/^npm ci\b.*--omit=dev/.test(part)) fullBytes = treeBytes(path.join(stage.dir, 'node_modules'));
      },
    });
    const runtime = stages[stages.length - 1]!;
    const leanMb = treeBytes(path.join(runtime.dir, 'node_modules')) / 1e6;
    const fullMb = fullBytes / 1e6;
    log(`node_modules: ${fmt(fullMb)} MB after npm ci --omit=dev, ${fmt(leanMb)} MB in the runtime stage (files' bytes, 1 MB = 10^6 bytes)`);

    await startOnce(runtime, firestore.host); // the first start fills the page cache: not counted
    const loadBefore = os.loadavg();
    const runs: StartRun[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await startOnce(runtime, firestore.host));
    const loadAfter = os.loadavg();
    const listening = runs.map((r) => r.listeningMs / 1000);
    const first = runs.map((r) => r.firstAnswerMs / 1000);
    const load = `load average ${fmt(loadBefore[0]!, 2)} → ${fmt(loadAfter[0]!, 2)} on ${os.cpus().length} CPUs`;
    log(`worker start → listening (s): ${listening.map((s) => fmt(s, 3)).join(' ')}`);
    log(`worker start → first answered request (s): ${first.map((s) => fmt(s, 3)).join(' ')}; answers ${[...new Set(runs.map((r) => r.firstStatus))].join(', ')}`);
    log(load);
    const statuses = runs.map((r) => r.firstStatus);
    if (statuses.some((s) => s !== 200)) throw new Error(`the first worker request was not answered 200: ${statuses.join(', ')}`);

    return [
      {
        target: 'image: runtime node_modules',
        measured: `${fmt(leanMb)} MB (full production install ${fmt(fullMb)} MB)`,
        goal: `≤ ${NODE_MODULES_MAX_MB} MB`,
        pass: leanMb <= NODE_MODULES_MAX_MB,
        detail: { leanMb, fullMb },
      },
      {
        target: 'image: compiled worker, start → listening',
        measured: `median ${fmt(median(listening), 3)} s, max ${fmt(Math.max(...listening), 3)} s of ${RUNS} (${load})`,
        goal: `≤ ${LISTENING_MAX_SEC} s (median)`,
        pass: median(listening) <= LISTENING_MAX_SEC,
        detail: { listeningSec: listening, loadBefore, loadAfter },
      },
      {
        target: 'image: compiled worker, start → first worker request answered',
        measured: `median ${fmt(median(first), 3)} s, max ${fmt(Math.max(...first), 3)} s of ${RUNS}`,
        goal: 'reported (the warm-up after listening)',
        pass: null,
        detail: { firstAnswerSec: first },
      },
    ];
  } finally {
    await firestore.stop();
    await fs.rm(work, { recursive: true, force: true });
  }
}
