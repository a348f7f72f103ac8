import path from 'node:path';
import { z } from 'zod';

/**
 * The whole environment, read once at start and checked by one schema. A bad value stops the
 * process with a message naming the variable. Nothing else in the code reads process.env.
 *
 * With no Google settings at all, everything runs on the local stack: SQLite, local blobs, the
 * embedded Cloud Tasks emulator and the ffmpeg render provider.
 */

const seconds = z.coerce.number().positive();
const secondsList = z
  .string()
  .trim()
  .regex(/^\d+(\.\d+)?(\s*,\s*\d+(\.\d+)?)*$/, 'a comma-separated list of seconds, e.g. "5,15,30,60"')
  .transform((s) => s.split(',').map((x) => Number(x.trim())));
const optionalString = z
  .string()
  .trim()
  .transform((s) => (s === '' ? undefined : s))
  .optional();
const optionalUrl = z
  .string()
  .trim()
  .transform((s) => (s === '' ? undefined : s))
  .pipe(z.url().optional())
  .optional();

const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default('0.0.0.0'),
  SERVICE_ROLE: z.enum(['all', 'api', 'worker']).default('all'),
  DATA_DIR: z.string().default('./.data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PUBLIC_URL: optionalUrl,
  /**
   * Serve HTTP/2 cleartext (h2c) on PORT. Cloud Run refuses HTTP/1 requests over 32 MiB; with
   * HTTP/2 end-to-end (`--use-http2`) 40 MB uploads pass. The api service turns this on.
   */
  HTTP2_CLEARTEXT: z
    .enum(['true', 'false', '1', '0', ''])
    .default('false')
    .transform((v) => v === 'true' || v === '1'),

  GOOGLE_CLOUD_PROJECT: optionalString,
  CLOUD_TASKS_LOCATION: optionalString,
  CLOUD_TASKS_QUEUE: z.string().default('video-generation-queue'),
  /** host:port of a Cloud Tasks emulator to use instead of the embedded one or Google's. */
  CLOUD_TASKS_EMULATOR_HOST: optionalString,
  /**
   * embedded | emulator | cloud. Defaults: `emulator` with CLOUD_TASKS_EMULATOR_HOST, `cloud`
   * with GOOGLE_CLOUD_PROJECT, else `embedded`. `embedded` with a project lets the local stack
   * write to the Firestore emulator (the Flutter app's development loop).
   */
  TASKS: z.enum(['embedded', 'emulator', 'cloud']).optional(),
  /** Port of the embedded Cloud Tasks emulator (0: any free port). */
  TASKS_EMULATOR_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  WORKER_URL: optionalUrl,
  TASKS_SERVICE_ACCOUNT: optionalString,
  WORKER_AUDIENCE: optionalString,
  TASK_MAX_ATTEMPTS: z.coerce.number().int().min(-1).default(3),
  TASK_MIN_BACKOFF: seconds.default(60),
  TASK_MAX_BACKOFF: seconds.default(3600),
  TASK_MAX_DOUBLINGS: z.coerce.number().int().min(0).default(16),
  TASK_MAX_DISPATCHES_PER_SECOND: z.coerce.number().positive().default(100),
  TASK_MAX_CONCURRENT_DISPATCHES: z.coerce.number().int().positive().default(1000),
  TASK_DISPATCH_DEADLINE: seconds.min(15).max(1800).default(600),

  JOB_STORE: z.enum(['sqlite', 'firestore']).optional(),
  FIRESTORE_COLLECTION: z.string().default('avatarJobs'),
  BLOB_STORE: z.enum(['local', 'gcs']).optional(),
  GCS_BUCKET: optionalString,
  SIGNED_URL_TTL: seconds.default(3600),

  PROVIDER: z.enum(['local', 'visionstory']).optional(),
  VISIONSTORY_API_KEY: optionalString,
  VISIONSTORY_API_BASE: z.url().default('https://openapi.visionstory.ai'),
  VISIONSTORY_TIMEOUT: seconds.default(30),
  LOCAL_RENDER_LATENCY_MS: z.coerce.number().int().min(0).default(0),

  AUTH_MODE: z.enum(['local', 'firebase']).optional(),

  POLL_SCHEDULE: secondsList.default([5, 15, 30, 60]),
  POLL_MAX_INTERVAL: seconds.default(60),
  STEP_LEASE: seconds.default(120),
  JOB_DEADLINE: seconds.default(24 * 3600),
  MAX_ACTIVE_JOBS_PER_USER: z.coerce.number().int().positive().default(5),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10000),
  /** Seconds a client has to send a request's headers. */
  HEADERS_TIMEOUT: seconds.default(20),
  /**
   * Seconds a client has to send a whole request, body included (0: no limit). Only receiving
   * counts: an event stream's answer may last for hours.
   */
  REQUEST_TIMEOUT: z.coerce.number().min(0).default(900),
  /** Seconds an upload may go without sending a byte before it is stopped with 408 (0: never). */
  UPLOAD_IDLE_TIMEOUT: z.coerce.number().min(0).default(30),
});

type Env = z.infer<typeof EnvSchema>;

export type ServiceRole = Env['SERVICE_ROLE'];

export interface AppConfig {
  port: number;
  host: string;
  /** Public port speaks h2c (Cloud Run HTTP/2 end-to-end) instead of HTTP/1. */
  http2Cleartext: boolean;
  role: ServiceRole;
  dataDir: string;
  logLevel: Env['LOG_LEVEL'];
  /** Base URL clients use to reach the api (for absolute links); derived from the request when absent. */
  publicUrl?: string;
  projectId?: string;
  jobStore: { kind: 'sqlite'; file: string } | { kind: 'firestore'; collection: string };
  blobStore: { kind: 'local'; rootDir: string } | { kind: 'gcs'; bucket: string };
  signedUrlTtlSec: number;
  tasks: {
    /** embedded: start the Cloud Tasks emulator in this process; emulator: use one at `host`; cloud: Google. */
    kind: 'embedded' | 'emulator' | 'cloud';
    emulatorHost?: string;
    emulatorPort: number;
    emulatorDbFile: string;
    project: string;
    location: string;
    queue: string;
    /** Where tasks are sent; in local modes derived from the listening port when absent. */
    workerUrl?: string;
    serviceAccount?: string;
    audience?: string;
    retry: { maxAttempts: number; minBackoffSec: number; maxBackoffSec: number; maxDoublings: number };
    rate: { maxDispatchesPerSecond: number; maxConcurrentDispatches: number };
    dispatchDeadlineSec: number;
  };
  provider:
    | { kind: 'local'; latencyMs: number; workDir: string }
    | { kind: 'visionstory'; apiKey: string; baseUrl: string; timeoutMs: number };
  auth: { kind: 'local' } | { kind: 'firebase' };
  pipeline: {
    pollScheduleSec: number[];
    pollMaxIntervalSec: number;
    stepLeaseSec: number;
    jobDeadlineSec: number;
    /** The queue's maxAttempts; the worker fails the job on the last one (-1: unlimited). */
    maxAttempts: number;
  };
  limits: {
    imageMaxBytes: number;
    audioMaxBytes: number;
    nameMaxChars: number;
    bioMaxChars: number;
    maxActiveJobsPerUser: number;
  };
  shutdownGraceMs: number;
  /** Slow clients: how long they may take over headers, a whole request, a silent upload. */
  timeouts: { headersMs: number; requestMs: number; uploadIdleMs: number };
}

/** Thrown when the environment is not valid; the message names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Process-wide settings that follow from the config. Locally, Google client libraries must not
 * probe the cloud metadata server (there is none; the probe only slows the start and warns).
 */
export function applyProcessDefaults(config: AppConfig, env: NodeJS.ProcessEnv = process.env): void {
  const offCloud = !config.projectId || config.tasks.kind !== 'cloud';
  if (offCloud && env.METADATA_SERVER_DETECTION === undefined) env.METADATA_SERVER_DETECTION = 'none';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(environment)'}: ${i.message}`));
  }
  const e = parsed.data;
  const problems: string[] = [];
  const need = (name: keyof Env, why: string): string => {
    const value = e[name];
    if (value === undefined || value === '') problems.push(`${name}: required ${why}`);
    return String(value ?? '');
  };

  const cloud = e.GOOGLE_CLOUD_PROJECT !== undefined;
  const jobStoreKind = e.JOB_STORE ?? (cloud ? 'firestore' : 'sqlite');
  const blobKind = e.BLOB_STORE ?? (e.GCS_BUCKET ? 'gcs' : 'local');
  const providerKind = e.PROVIDER ?? (e.VISIONSTORY_API_KEY ? 'visionstory' : 'local');
  const tasksKind = e.TASKS ?? (e.CLOUD_TASKS_EMULATOR_HOST ? 'emulator' : cloud ? 'cloud' : 'embedded');
  if (tasksKind === 'emulator') need('CLOUD_TASKS_EMULATOR_HOST', 'for TASKS=emulator');
  const authKind = e.AUTH_MODE ?? (cloud ? 'firebase' : 'local');
  const dataDir = path.resolve(e.DATA_DIR);

  if (jobStoreKind === 'firestore') need('GOOGLE_CLOUD_PROJECT', 'for JOB_STORE=firestore');
  if (blobKind === 'gcs') need('GCS_BUCKET', 'for BLOB_STORE=gcs');
  if (providerKind === 'visionstory') need('VISIONSTORY_API_KEY', 'for PROVIDER=visionstory');
  if (tasksKind === 'cloud') {
    need('GOOGLE_CLOUD_PROJECT', 'for TASKS=cloud');
    need('CLOUD_TASKS_LOCATION', 'with GOOGLE_CLOUD_PROJECT (the queue region, e.g. us-central1)');
    if (e.SERVICE_ROLE !== 'worker') need('WORKER_URL', 'with Google Cloud Tasks (the worker service URL)');
    // The worker route checks the OIDC token of this account; without it the route would be open.
    if (e.SERVICE_ROLE !== 'api') {
      need('TASKS_SERVICE_ACCOUNT', `for SERVICE_ROLE=${e.SERVICE_ROLE} with Google Cloud Tasks (the worker accepts only tokens of this service account)`);
    }
  }
  for (const [i, s] of e.POLL_SCHEDULE.entries()) {
    if (s <= 0) problems.push(`POLL_SCHEDULE: entry ${i + 1} must be positive`);
  }
  if (e.TASK_MIN_BACKOFF > e.TASK_MAX_BACKOFF) problems.push('TASK_MIN_BACKOFF: must not exceed TASK_MAX_BACKOFF');
  // Node refuses a headers timeout longer than the whole-request timeout.
  if (e.REQUEST_TIMEOUT > 0 && e.HEADERS_TIMEOUT > e.REQUEST_TIMEOUT) problems.push('HEADERS_TIMEOUT: must not exceed REQUEST_TIMEOUT');
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    port: e.PORT,
    host: e.HOST,
    http2Cleartext: e.HTTP2_CLEARTEXT,
    role: e.SERVICE_ROLE,
    dataDir,
    logLevel: e.LOG_LEVEL,
    publicUrl: e.PUBLIC_URL?.replace(/\/$/, ''),
    projectId: e.GOOGLE_CLOUD_PROJECT,
    jobStore:
      jobStoreKind === 'firestore'
        ? { kind: 'firestore', collection: e.FIRESTORE_COLLECTION }
        : { kind: 'sqlite', file: path.join(dataDir, 'jobs.sqlite') },
    blobStore:
      blobKind === 'gcs' ? { kind: 'gcs', bucket: e.GCS_BUCKET as string } : { kind: 'local', rootDir: path.join(dataDir, 'blobs') },
    signedUrlTtlSec: e.SIGNED_URL_TTL,
    tasks: {
      kind: tasksKind,
      emulatorHost: e.CLOUD_TASKS_EMULATOR_HOST,
      emulatorPort: e.TASKS_EMULATOR_PORT,
      emulatorDbFile: path.join(dataDir, 'tasks.sqlite'),
      project: e.GOOGLE_CLOUD_PROJECT ?? 'local-project',
      location: e.CLOUD_TASKS_LOCATION ?? 'local',
      queue: e.CLOUD_TASKS_QUEUE,
      workerUrl: e.WORKER_URL,
      serviceAccount: e.TASKS_SERVICE_ACCOUNT,
      audience: e.WORKER_AUDIENCE,
      retry: {
        maxAttempts: e.TASK_MAX_ATTEMPTS,
        minBackoffSec: e.TASK_MIN_BACKOFF,
        maxBackoffSec: e.TASK_MAX_BACKOFF,
        maxDoublings: e.TASK_MAX_DOUBLINGS,
      },
      rate: {
        maxDispatchesPerSecond: e.TASK_MAX_DISPATCHES_PER_SECOND,
        maxConcurrentDispatches: e.TASK_MAX_CONCURRENT_DISPATCHES,
      },
      dispatchDeadlineSec: e.TASK_DISPATCH_DEADLINE,
    },
    provider:
      providerKind === 'visionstory'
        ? {
            kind: 'visionstory',
            apiKey: e.VISIONSTORY_API_KEY as string,
            baseUrl: e.VISIONSTORY_API_BASE.replace(/\/$/, ''),
            timeoutMs: e.VISIONSTORY_TIMEOUT * 1000,
          }
        : { kind: 'local', latencyMs: e.LOCAL_RENDER_LATENCY_MS, workDir: path.join(dataDir, 'render') },
    auth: { kind: authKind },
    pipeline: {
      pollScheduleSec: e.POLL_SCHEDULE,
      pollMaxIntervalSec: e.POLL_MAX_INTERVAL,
      stepLeaseSec: e.STEP_LEASE,
      jobDeadlineSec: e.JOB_DEADLINE,
      maxAttempts: e.TASK_MAX_ATTEMPTS,
    },
    limits: {
      imageMaxBytes: 10 * 1024 * 1024,
      audioMaxBytes: 30 * 1024 * 1024,
      nameMaxChars: 100,
      bioMaxChars: 1000,
      maxActiveJobsPerUser: e.MAX_ACTIVE_JOBS_PER_USER,
    },
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    timeouts: {
      headersMs: Math.round(e.HEADERS_TIMEOUT * 1000),
      requestMs: Math.round(e.REQUEST_TIMEOUT * 1000),
      uploadIdleMs: Math.round(e.UPLOAD_IDLE_TIMEOUT * 1000),
    },
  };
}
