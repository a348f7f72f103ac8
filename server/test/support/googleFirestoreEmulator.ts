import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * Google's own Firestore emulator (`gcloud emulators firestore start`, Java), the one that
 * serialises transactions and enforces security rules like production Firestore.
 *
 * Where it comes from, in order:
 * 1. FIRESTORE_EMULATOR_HOST set when jest started (`.ci/run` starts one and exports it);
 * 2. otherwise, where gcloud and its emulator component are installed, ONE emulator for the
 *    whole jest run: the first test file that asks starts it (the others wait for it), and
 *    jest's global teardown stops its process group (see googleFirestoreEmulatorSetup.js);
 * 3. otherwise none: callers skip the cases that need it and say why, and under CI=true fail.
 */
export type GoogleFirestoreEmulator =
  | { available: true; host: string; hostname: string; port: number; source: 'FIRESTORE_EMULATOR_HOST' | 'started for this run' }
  | { available: false; reason: string };

/** Where globalSetup keeps the shared emulator's files (pid, host, log). */
export const RUN_DIR_VARIABLE = 'TEST_GOOGLE_FIRESTORE_EMULATOR_DIR';
/** FIRESTORE_EMULATOR_HOST as it was when jest started (test files set it for the npm stand-in). */
export const GIVEN_HOST_VARIABLE = 'TEST_GIVEN_FIRESTORE_EMULATOR_HOST';

const READY_TIMEOUT_MS = 90_000;

let cached: Promise<GoogleFirestoreEmulator> | undefined;
let probed: { available: true } | { available: false; reason: string } | undefined;

/**
 * Whether Google's emulator can be had, decided synchronously (jest declares tests before any
 * hook runs): a given FIRESTORE_EMULATOR_HOST, or gcloud with its emulator component.
 */
export function probeGoogleFirestoreEmulator(): { available: true } | { available: false; reason: string } {
  probed ??= probe();
  return probed;
}

function probe(): { available: true } | { available: false; reason: string } {
  if (process.env[GIVEN_HOST_VARIABLE]) return { available: true };
  const gcloud = spawnSync('gcloud', ['--version'], { encoding: 'utf8', timeout: 60_000 });
  if (gcloud.error || gcloud.status !== 0) {
    return { available: false, reason: "needs Google's Firestore emulator: gcloud is not installed (or set FIRESTORE_EMULATOR_HOST)" };
  }
  if (!/cloud-firestore-emulator/.test(gcloud.stdout)) {
    return { available: false, reason: "needs Google's Firestore emulator: gcloud components install cloud-firestore-emulator" };
  }
  if (!process.env[RUN_DIR_VARIABLE]) {
    return { available: false, reason: `needs Google's Firestore emulator: ${RUN_DIR_VARIABLE} is unset (run through jest.config.js)` };
  }
  return { available: true };
}

/** The Google emulator for this jest run, started on first use when it can be. */
export function googleFirestoreEmulator(): Promise<GoogleFirestoreEmulator> {
  cached ??= locate();
  return cached;
}

/**
 * The tests that need Google's emulator run without it only off CI: there they skip, naming
 * the reason; under CI=true a missing emulator is a failure, so CI can never pass quietly
 * without them.
 */
export function mustHaveGoogleEmulator(): boolean {
  return process.env.CI === 'true';
}

async function locate(): Promise<GoogleFirestoreEmulator> {
  const given = process.env[GIVEN_HOST_VARIABLE] ?? '';
  if (given) return described(given, 'FIRESTORE_EMULATOR_HOST');
  const probe = probeGoogleFirestoreEmulator();
  if (!probe.available) return probe;
  const runDir = process.env[RUN_DIR_VARIABLE] as string;
  const hostFile = path.join(runDir, 'host');
  const failedFile = path.join(runDir, 'failed');
  let starter = false;
  try {
    fs.closeSync(fs.openSync(path.join(runDir, 'lock'), 'wx'));
    starter = true;
  } catch {
    // Another test file of this run is starting it: wait for its host file below.
  }
  if (starter) {
    try {
      fs.writeFileSync(hostFile, await start(runDir));
    } catch (err) {
      fs.writeFileSync(failedFile, String(err instanceof Error ? err.message : err));
    }
  }
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (fs.existsSync(failedFile)) {
      return { available: false, reason: `Google's Firestore emulator did not start: ${fs.readFileSync(failedFile, 'utf8')}` };
    }
    if (fs.existsSync(hostFile)) return described(fs.readFileSync(hostFile, 'utf8').trim(), 'started for this run');
    await new Promise((r) => setTimeout(r, 200));
  }
  return { available: false, reason: "Google's Firestore emulator did not become ready in time" };
}

function described(host: string, source: 'FIRESTORE_EMULATOR_HOST' | 'started for this run'): GoogleFirestoreEmulator {
  const at = host.lastIndexOf(':');
  return { available: true, host, hostname: host.slice(0, at), port: Number(host.slice(at + 1)), source };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts the emulator in a process group of its own (gcloud runs it as bash → java). */
async function start(runDir: string): Promise<string> {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const log = fs.openSync(path.join(runDir, 'emulator.log'), 'a');
  const child = spawn('gcloud', ['emulators', 'firestore', 'start', `--host-port=${host}`, '--quiet'], {
    detached: true,
    stdio: ['ignore', log, log],
    env: {
      ...process.env,
      // A throw-away configuration: no account, no update check, no metadata-server probe.
      CLOUDSDK_CONFIG: fs.mkdtempSync(path.join(os.tmpdir(), 'gcloud-config-')),
      CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: 'true',
      CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: 'true',
      CLOUDSDK_CORE_CHECK_GCE_METADATA: 'false',
    },
  });
  fs.closeSync(log);
  fs.writeFileSync(path.join(runDir, 'pid'), String(child.pid));
  child.unref();
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? -1));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited !== null) throw new Error(`gcloud exited with ${exited} (see ${path.join(runDir, 'emulator.log')})`);
    try {
      const res = await fetch(`http://${host}/`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return host;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no answer on ${host} after ${READY_TIMEOUT_MS / 1000} s`);
}
