import { openAsBlob } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type AppConfig } from '../../src/config';
import { silentLogger, type Logger } from '../../src/logger';
import type { Job } from '../../src/domain/job';
import { startService, type RunningService, type ServiceOverrides } from '../../src/service';
import { startCloudRunFrontEnd, type CloudRunFrontEnd } from '../../standins/cloudRunFrontEnd';

/** Settings that make the local stack quick enough for tests: short polls and backoffs. */
export const FAST_ENV: Record<string, string> = {
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'silent',
  POLL_SCHEDULE: '0.2,0.3,0.5',
  POLL_MAX_INTERVAL: '0.5',
  // Predictive polling (on with VisionStory) on the same short scale.
  POLL_MIN_INTERVAL: '0.2',
  POLL_FORECAST_MAX_INTERVAL: '0.5',
  TASK_MIN_BACKOFF: '0.2',
  TASK_MAX_BACKOFF: '1',
  STEP_LEASE: '30',
  PROVIDER_RETRY_MIN_BACKOFF: '0.2',
  PROVIDER_RETRY_MAX_BACKOFF: '1',
  SHUTDOWN_GRACE_MS: '2000',
};

export interface TestStack {
  service: RunningService;
  config: AppConfig;
  baseUrl: string;
  dataDir: string;
  /** Stops the service; removes the data dir unless `keepData`. */
  close(options?: { keepData?: boolean }): Promise<void>;
}

/** Starts the real service on 127.0.0.1:0 with its data in a fresh temp dir (or `dataDir`). */
export async function startTestStack(
  options: { env?: Record<string, string>; overrides?: ServiceOverrides; dataDir?: string; logger?: Logger } = {},
): Promise<TestStack> {
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'avatar-test-')));
  const config = loadConfig({ ...FAST_ENV, DATA_DIR: dataDir, ...options.env });
  const service = await startService(config, options.logger ?? silentLogger, options.overrides);
  return {
    service,
    config,
    baseUrl: service.url,
    dataDir,
    async close({ keepData = false } = {}) {
      await service.close();
      if (!keepData) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The tasks service account the rehearsals behind the Cloud Run front end use. */
export const TASKS_SA = 'avatar-tasks@test-project.iam.gserviceaccount.com';

export interface StackBehindFrontEnd extends TestStack {
  frontEnd: CloudRunFrontEnd;
  /** The worker URL the tasks are sent to (the front end's). */
  workerUrl: string;
}

/**
 * The worker the way Cloud Run runs it: the embedded Cloud Tasks emulator sends every task to
 * the Cloud Run front-end stand-in (WORKER_URL), which checks the emulator-signed OIDC token
 * against the invoker list and hands the worker the token with its signature removed. The
 * worker runs in on-Cloud-Run mode (K_SERVICE set) unless `onCloudRun: false`.
 */
export async function startTestStackBehindFrontEnd(
  options: { env?: Record<string, string>; overrides?: ServiceOverrides; onCloudRun?: boolean; timeoutMs?: number } = {},
): Promise<StackBehindFrontEnd> {
  let stack: TestStack | undefined;
  const frontEnd = await startCloudRunFrontEnd({
    target: () => stack!.baseUrl,
    certs: () => stack!.service.emulator!.publicCerts(),
    invokers: [options.env?.TASKS_SERVICE_ACCOUNT ?? TASKS_SA],
    timeoutMs: options.timeoutMs,
  });
  const workerUrl = `${frontEnd.url}/worker/process-avatar`;
  try {
    stack = await startTestStack({
      env: {
        TASKS_SERVICE_ACCOUNT: TASKS_SA,
        WORKER_URL: workerUrl,
        ...(options.onCloudRun === false ? {} : { K_SERVICE: 'avatar-worker' }),
        ...options.env,
      },
      overrides: options.overrides,
    });
  } catch (err) {
    await frontEnd.close();
    throw err;
  }
  const started = stack;
  return {
    ...started,
    frontEnd,
    workerUrl,
    async close(closeOptions) {
      await started.close(closeOptions);
      await frontEnd.close();
    },
  };
}

export interface UploadFields {
  image?: string;
  audio?: string;
  instructorName?: string;
  instructorBio?: string;
  extra?: Record<string, string>;
  extraFiles?: Record<string, string>;
  userId?: string;
}

/** POSTs /generate-with-tasks the way curl -F does; files are streamed from disk. */
export async function upload(baseUrl: string, fields: UploadFields, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const form = new FormData();
  if (fields.image) form.append('image', await openAsBlob(fields.image), path.basename(fields.image));
  if (fields.audio) form.append('audio', await openAsBlob(fields.audio), path.basename(fields.audio));
  if (fields.instructorName !== undefined) form.append('instructorName', fields.instructorName);
  if (fields.instructorBio !== undefined) form.append('instructorBio', fields.instructorBio);
  if (fields.userId !== undefined) form.append('userId', fields.userId);
  for (const [k, v] of Object.entries(fields.extra ?? {})) form.append(k, v);
  for (const [k, v] of Object.entries(fields.extraFiles ?? {})) form.append(k, await openAsBlob(v), path.basename(v));
  const res = await fetch(`${baseUrl}/generate-with-tasks`, { method: 'POST', body: form, headers });
  return { status: res.status, body: await res.json() };
}

export async function getJob(baseUrl: string, jobId: string, headers: Record<string, string> = {}): Promise<Job> {
  const res = await fetch(`${baseUrl}/jobs/${jobId}`, { headers });
  if (res.status !== 200) throw new Error(`GET /jobs/${jobId} answered ${res.status}`);
  return (await res.json()) as Job;
}

/** Polls the job until `done(job)` or the timeout; returns the last document seen. */
export async function waitForJob(
  baseUrl: string,
  jobId: string,
  done: (job: Job) => boolean = (j) => ['completed', 'failed', 'cancelled'].includes(j.status),
  timeoutMs = 30000,
  headers: Record<string, string> = {},
): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  let job = await getJob(baseUrl, jobId, headers);
  while (!done(job)) {
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.status} at ${job.progress.currentStep} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
    job = await getJob(baseUrl, jobId, headers);
  }
  return job;
}

/** A port that was free a moment ago (for restarts that must keep the worker URL). */
export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Reads an SSE stream until it closes; returns the parsed events. */
export async function readEvents(url: string, headers: Record<string, string> = {}, timeoutMs = 30000): Promise<{ event: string; data: any }[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const res = await fetch(url, { headers, signal: controller.signal });
    if (!res.ok || !res.body) throw new Error(`events answered ${res.status}`);
    const text = await new Response(res.body).text();
    const events: { event: string; data: any }[] = [];
    for (const block of text.split('\n\n')) {
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
      const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
      if (event) events.push({ event, data: JSON.parse(data) });
    }
    return events;
  } finally {
    clearTimeout(timer);
  }
}

/** Every file under `dir` (recursively), relative paths. */
export async function listFiles(dir: string): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath ?? (e as any).path, e.name)));
  } catch {
    return [];
  }
}
