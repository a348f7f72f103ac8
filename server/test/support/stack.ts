import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AvatarClient } from '../../../clients/avatarClient';
import { ApiError } from '../../../clients/errors';
import { serverSentEvents } from '../../../clients/events';
import type { MultipartPart } from '../../../clients/multipart';
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

/** A file on disk as a multipart part, typed application/octet-stream as curl -F sends it. */
async function filePart(name: string, file: string): Promise<MultipartPart> {
  return { name, filename: path.basename(file), contentType: 'application/octet-stream', path: file, bytes: (await stat(file)).size };
}

/** POSTs /generate-with-tasks the way curl -F does; files are streamed from disk. */
export async function upload(baseUrl: string, fields: UploadFields, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const parts: MultipartPart[] = [];
  if (fields.image) parts.push(await filePart('image', fields.image));
  if (fields.audio) parts.push(await filePart('audio', fields.audio));
  if (fields.instructorName !== undefined) parts.push({ name: 'instructorName', value: fields.instructorName });
  if (fields.instructorBio !== undefined) parts.push({ name: 'instructorBio', value: fields.instructorBio });
  if (fields.userId !== undefined) parts.push({ name: 'userId', value: fields.userId });
  for (const [name, value] of Object.entries(fields.extra ?? {})) parts.push({ name, value });
  for (const [name, file] of Object.entries(fields.extraFiles ?? {})) parts.push(await filePart(name, file));
  const answer = await new AvatarClient(baseUrl, { headers }).postJob(parts);
  return { status: answer.status, body: JSON.parse(answer.body) };
}

export async function getJob(baseUrl: string, jobId: string, headers: Record<string, string> = {}): Promise<Job> {
  try {
    return await new AvatarClient(baseUrl, { headers }).getJob<Job>(jobId);
  } catch (e) {
    if (e instanceof ApiError) throw new Error(`GET /jobs/${jobId} answered ${e.status}`);
    throw e;
  }
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

/**
 * Pauses the stack's Cloud Tasks queue: tasks are kept and none is delivered, so a story can
 * hold a job where it is however slow the machine (the state is kept across a restart on the
 * same data dir, as Cloud Tasks keeps it).
 */
export async function pauseQueue(stack: TestStack): Promise<void> {
  await stack.service.queue.client.pauseQueue({ name: stack.service.queue.queuePath });
}

/** Lets a paused queue deliver again. */
export async function resumeQueue(stack: TestStack): Promise<void> {
  await stack.service.queue.client.resumeQueue({ name: stack.service.queue.queuePath });
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

/** Reads a job's event stream (its eventsUrl) until it closes; returns the named events, parsed. */
export async function readEvents(url: string, headers: Record<string, string> = {}, timeoutMs = 30000): Promise<{ event: string; data: any }[]> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok || !res.body) throw new Error(`events answered ${res.status}`);
  const events: { event: string; data: any }[] = [];
  for await (const message of serverSentEvents(res.body)) {
    if (message.data !== '' && message.event !== 'message') events.push({ event: message.event, data: JSON.parse(message.data) });
  }
  return events;
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
