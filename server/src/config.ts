import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import { UPLOAD_RULES, type UploadLimitValues } from './domain/uploadRules';
import { DEFAULT_POLL_DENSITY, type PollScheduleSettings } from './pipeline/pollForecast';

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
  /** Test aid: the embedded emulator sends every task this many extra times (chaos runs). */
  TASKS_EMULATOR_EXTRA_DELIVERIES: z.coerce.number().int().min(0).max(5).default(0),
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
  /**
   * Set by Cloud Run on every service (the service name). On Cloud Run the front end has
   * already checked the worker's OIDC token and hands it on with its signature removed.
   */
  K_SERVICE: optionalString,

  POLL_SCHEDULE: secondsList.default([5, 15, 30, 60]),
  POLL_MAX_INTERVAL: seconds.default(60),
  /**
   * Predictive polling: plan polls around the render time learned from past jobs (default on
   * with VisionStory, off with the local ffmpeg render, which ends in seconds).
   */
  POLL_FORECAST: z.enum(['on', 'off']).optional(),
  /** The longest gap between two polls while the forecast says the video is still far off. */
  POLL_FORECAST_MAX_INTERVAL: seconds.default(600),
  /** The shortest gap between two polls (VisionStory asks for at least 5 s). */
  POLL_MIN_INTERVAL: seconds.default(5),
  STEP_LEASE: seconds.default(120),
  JOB_DEADLINE: seconds.default(24 * 3600),
  /** Provider trouble (network, timeout, 5xx, 429) is retried by the pipeline for this long (6 h). */
  PROVIDER_RETRY_WINDOW: seconds.default(6 * 3600),
  PROVIDER_RETRY_MIN_BACKOFF: seconds.default(10),
  PROVIDER_RETRY_MAX_BACKOFF: seconds.default(600),
  /** Seconds between sweeps of the local stack (0: off); in the cloud Cloud Scheduler calls it. */
  SWEEP_INTERVAL: z.coerce.number().min(0).default(300),
  /** How long past its due time (plus STEP_LEASE) a job waits before the sweep rescues it. */
  SWEEP_GRACE: z.coerce.number().min(0).default(120),
  IMAGE_MAX_PIXELS: z.coerce.number().int().positive().default(UPLOAD_RULES.imageMaxPixels),
  AUDIO_MAX_SECONDS: seconds.min(1).default(UPLOAD_RULES.audioMaxSec),
  MAX_ACTIVE_JOBS_PER_USER: z.coerce.number().int().positive().default(5),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10000),
  /**
   * Browser origins allowed to call the API from another site (the Flutter web build, other
   * front ends): comma-separated, exact `scheme://host[:port]`. None by default.
   */
  CORS_ORIGINS: z
    .string()
    .trim()
    .default('')
    .transform((s) => s.split(',').map((o) => o.trim().replace(/\/$/, '')).filter((o) => o !== ''))
    .pipe(z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'each origin is scheme://host[:port], without a path, e.g. "https://app.example.com"'))),

  UPLOAD_RETENTION_DAYS: z.coerce.number().positive().default(7),
  VIDEO_RETENTION_DAYS: z.coerce.number().positive().default(30),
  JOB_RETENTION_DAYS: z.coerce.number().positive().default(90),
  /** Local stack: how often the retention sweep runs, in seconds (0: never). */
  RETENTION_SWEEP_INTERVAL: z.coerce.number().min(0).default(3600),
  /** Standard Webhooks secret: `whsec_` + base64 of 24 to 64 random bytes. */
  WEBHOOK_SECRET: optionalString.pipe(
    z
      .string()
      .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, 'must be whsec_ followed by base64 (e.g. whsec_$(openssl rand -base64 32))')
      .refine((v) => {
        const n = Buffer.from(v.slice(6), 'base64').length;
        return n >= 24 && n <= 64;
      }, 'the base64 part must decode to 24 to 64 bytes')
      .optional(),
  ),
  WEBHOOK_TIMEOUT: seconds.default(10),
  /** fcm | off. Default: fcm with GOOGLE_CLOUD_PROJECT or FCM_API_BASE, else off. */
  PUSH: z.enum(['fcm', 'off']).optional(),
  FCM_API_BASE: optionalUrl,
  FIRESTORE_DEVICES_COLLECTION: z.string().default('userDevices'),
  /** Seconds a client has to send a request's headers. */
  HEADERS_TIMEOUT: seconds.default(20),
  /**
   * Seconds a client has to send a whole request, body included (0: no limit). Only receiving
   * counts: an event stream's answer may last for hours.
   */
  REQUEST_TIMEOUT: z.coerce.number().min(0).default(900),
  /** Seconds an upload may go without sending a byte before it is stopped with 408 (0: never). */
  UPLOAD_IDLE_TIMEOUT: z.coerce.number().min(0).default(30),
  /**
   * How clients follow a job. stream: Server-Sent Events for every client. cloud: no open
   * request bills an api instance while someone watches: the web page follows the job document
   * through a Firestore listener (with FIREBASE_WEB_CONFIG and the Firestore job store, else
   * Server-Sent Events), the CLI polls GET /jobs/:id with If-None-Match. Default: cloud with the
   * Firestore job store, else stream. curl can always use GET /jobs/:id/events.
   */
  WATCH: z.enum(['stream', 'cloud']).optional(),
  /** Seconds between the CLI's polls of GET /jobs/:id when WATCH=cloud. */
  WATCH_POLL_INTERVAL: seconds.min(1).default(10),
  /**
   * The Firebase web app's config as JSON (Firebase console → project settings → your apps),
   * e.g. {"apiKey":"…","authDomain":"…","projectId":"…","appId":"…"}; `firestoreEmulatorHost`
   * (host:port) points the page at the Firestore emulator instead. Lets the web page follow
   * jobs through Firestore.
   */
  FIREBASE_WEB_CONFIG: optionalString.pipe(
    z
      .string()
      .refine((text) => {
        try {
          JSON.parse(text);
          return true;
        } catch {
          return false;
        }
      }, 'must be JSON, e.g. {"apiKey":"…","projectId":"my-project","appId":"…"}')
      .transform((text) => JSON.parse(text) as unknown)
      .pipe(z.record(z.string(), z.string()).refine((c) => typeof c.projectId === 'string' && c.projectId !== '', 'needs "projectId"'))
      .optional(),
  ),
});

type Env = z.infer<typeof EnvSchema>;

/** How each kind of client follows a job; GET /config tells clients. */
export interface WatchConfig {
  /** The web page: Server-Sent Events, or a Firestore listener on the job document. */
  browser: 'sse' | 'firestore';
  /** The command line: Server-Sent Events, or polling GET /jobs/:id with If-None-Match. */
  cli: 'sse' | 'poll';
  pollIntervalSec: number;
  /** With browser=firestore: the Firebase web config and the jobs collection. */
  firebase?: { config: Record<string, string>; collection: string };
}

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
  /** How clients follow a job (served at GET /config). */
  watch: WatchConfig;
  blobStore: { kind: 'local'; rootDir: string } | { kind: 'gcs'; bucket: string };
  signedUrlTtlSec: number;
  tasks: {
    /** embedded: start the Cloud Tasks emulator in this process; emulator: use one at `host`; cloud: Google. */
    kind: 'embedded' | 'emulator' | 'cloud';
    emulatorHost?: string;
    emulatorPort: number;
    /** Test aid: extra copies of every delivery made by the embedded emulator. */
    emulatorExtraDeliveries: number;
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
    /** apiKey is absent only for SERVICE_ROLE=api, which never calls the provider. */
    | { kind: 'visionstory'; apiKey: string | undefined; baseUrl: string; timeoutMs: number };
  auth: { kind: 'local' } | { kind: 'firebase' };
  /**
   * Running on Cloud Run (K_SERVICE set): the worker trusts the front end's signature check and
   * verifies the claims of the token it forwards (signature replaced by
   * `SIGNATURE_REMOVED_BY_GOOGLE`).
   */
  onCloudRun: boolean;
  pipeline: {
    pollScheduleSec: number[];
    pollMaxIntervalSec: number;
    stepLeaseSec: number;
    jobDeadlineSec: number;
    /** The queue's maxAttempts; the worker fails the job on the last one (-1: unlimited). */
    maxAttempts: number;
    providerRetryWindowSec: number;
    providerRetryMinBackoffSec: number;
    providerRetryMaxBackoffSec: number;
    /** Predictive polling (null: the fixed POLL_SCHEDULE). */
    pollForecast: PollScheduleSettings | null;
  };
  sweep: {
    /** Seconds between local sweeps; 0 turns the timer off (the start-up sweep still runs). */
    intervalSec: number;
    /** SWEEP_GRACE: added to the step lease to make the whole grace period. */
    graceSec: number;
  };
  /** Upload limits (served at GET /config) and the per-user limit of jobs in progress. */
  limits: UploadLimitValues & { maxActiveJobsPerUser: number };
  shutdownGraceMs: number;
  /** Origins allowed by CORS (exact match); empty: no cross-origin access. */
  corsOrigins: string[];
  retention: { uploadDays: number; videoDays: number; jobDays: number; sweepIntervalSec: number };
  webhooks: {
    /** Unset: callbackUrl is refused at upload. */
    secret?: string;
    timeoutMs: number;
    /** Locally (not TASKS=cloud) plain http and loopback receivers are allowed, for tests. */
    allowLoopbackAndHttp: boolean;
  };
  push:
    | { kind: 'off' }
    | { kind: 'fcm'; projectId: string; baseUrl: string; devicesCollection: string; devicesFile: string };
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

/**
 * Reads `file` (a `.env` in the working directory by default) into `env` when it exists, as
 * `.env.example` promises. A variable already set in the real environment wins over the file.
 * The file is parsed by Node's own `.env` parser (the one behind process.loadEnvFile); merging
 * by hand keeps the precedence explicit. Returns the names taken from the file.
 */
export function loadEnvFile(file = '.env', env: NodeJS.ProcessEnv = process.env): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ConfigError([`${file}: cannot be read (${(err as Error).message})`]);
  }
  const taken: string[] = [];
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (env[name] !== undefined || value === undefined) continue;
    env[name] = value;
    taken.push(name);
  }
  return taken;
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
  // Only the roles that run pipeline steps call the provider: the api service only names it on
  // new jobs, so in the cloud it runs without the key (least privilege: only the worker may read
  // the secret).
  if (providerKind === 'visionstory' && e.SERVICE_ROLE !== 'api') need('VISIONSTORY_API_KEY', 'for PROVIDER=visionstory');
  if (tasksKind === 'cloud') {
    need('GOOGLE_CLOUD_PROJECT', 'for TASKS=cloud');
    need('CLOUD_TASKS_LOCATION', 'with GOOGLE_CLOUD_PROJECT (the queue region, e.g. us-central1)');
    if (e.SERVICE_ROLE !== 'worker') need('WORKER_URL', 'with Google Cloud Tasks (the worker service URL)');
    // The worker route checks the OIDC token of this account; without it the route would be open.
    if (e.SERVICE_ROLE !== 'api') {
      need('TASKS_SERVICE_ACCOUNT', `for SERVICE_ROLE=${e.SERVICE_ROLE} with Google Cloud Tasks (the worker accepts only tokens of this service account)`);
    }
  }
  // Settings that would run, but open a hole: refused, naming the variables.
  if (authKind === 'local' && e.GOOGLE_CLOUD_PROJECT !== undefined && tasksKind === 'cloud' && e.SERVICE_ROLE !== 'worker') {
    problems.push(
      'AUTH_MODE: local with GOOGLE_CLOUD_PROJECT and Google Cloud Tasks (TASKS=cloud) would let anyone act as any user through X-User-Id; use AUTH_MODE=firebase',
    );
  }
  if (authKind === 'firebase' && e.GOOGLE_CLOUD_PROJECT === undefined) {
    problems.push('AUTH_MODE: firebase needs GOOGLE_CLOUD_PROJECT (the Firebase project whose ID tokens are accepted)');
  }
  if (providerKind === 'visionstory' && e.STEP_LEASE <= e.VISIONSTORY_TIMEOUT) {
    problems.push(
      `STEP_LEASE: must be longer than VISIONSTORY_TIMEOUT (${e.STEP_LEASE} s ≤ ${e.VISIONSTORY_TIMEOUT} s): a step still waiting for the provider would lose its lease and run twice`,
    );
  }
  if (e.POLL_MIN_INTERVAL > e.POLL_FORECAST_MAX_INTERVAL) problems.push('POLL_MIN_INTERVAL: must not exceed POLL_FORECAST_MAX_INTERVAL');
  for (const [i, s] of e.POLL_SCHEDULE.entries()) {
    if (s <= 0) problems.push(`POLL_SCHEDULE: entry ${i + 1} must be positive`);
  }
  if (e.TASK_MIN_BACKOFF > e.TASK_MAX_BACKOFF) problems.push('TASK_MIN_BACKOFF: must not exceed TASK_MAX_BACKOFF');
  if (e.PROVIDER_RETRY_MIN_BACKOFF > e.PROVIDER_RETRY_MAX_BACKOFF) {
    problems.push('PROVIDER_RETRY_MIN_BACKOFF: must not exceed PROVIDER_RETRY_MAX_BACKOFF');
  }
  const watchKind = e.WATCH ?? (jobStoreKind === 'firestore' ? 'cloud' : 'stream');
  const browserFirestore = watchKind === 'cloud' && jobStoreKind === 'firestore' && e.FIREBASE_WEB_CONFIG !== undefined;
  const pushKind = e.PUSH ?? (cloud || e.FCM_API_BASE ? 'fcm' : 'off');
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
    watch: {
      browser: browserFirestore ? 'firestore' : 'sse',
      cli: watchKind === 'cloud' ? 'poll' : 'sse',
      pollIntervalSec: e.WATCH_POLL_INTERVAL,
      ...(browserFirestore ? { firebase: { config: e.FIREBASE_WEB_CONFIG!, collection: e.FIRESTORE_COLLECTION } } : {}),
    },
    blobStore:
      blobKind === 'gcs' ? { kind: 'gcs', bucket: e.GCS_BUCKET as string } : { kind: 'local', rootDir: path.join(dataDir, 'blobs') },
    signedUrlTtlSec: e.SIGNED_URL_TTL,
    tasks: {
      kind: tasksKind,
      emulatorHost: e.CLOUD_TASKS_EMULATOR_HOST,
      emulatorPort: e.TASKS_EMULATOR_PORT,
      emulatorExtraDeliveries: e.TASKS_EMULATOR_EXTRA_DELIVERIES,
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
            apiKey: e.VISIONSTORY_API_KEY,
            baseUrl: e.VISIONSTORY_API_BASE.replace(/\/$/, ''),
            timeoutMs: e.VISIONSTORY_TIMEOUT * 1000,
          }
        : { kind: 'local', latencyMs: e.LOCAL_RENDER_LATENCY_MS, workDir: path.join(dataDir, 'render') },
    auth: { kind: authKind },
    onCloudRun: e.K_SERVICE !== undefined,
    pipeline: {
      pollScheduleSec: e.POLL_SCHEDULE,
      pollMaxIntervalSec: e.POLL_MAX_INTERVAL,
      stepLeaseSec: e.STEP_LEASE,
      jobDeadlineSec: e.JOB_DEADLINE,
      maxAttempts: e.TASK_MAX_ATTEMPTS,
      providerRetryWindowSec: e.PROVIDER_RETRY_WINDOW,
      providerRetryMinBackoffSec: e.PROVIDER_RETRY_MIN_BACKOFF,
      providerRetryMaxBackoffSec: e.PROVIDER_RETRY_MAX_BACKOFF,
      pollForecast:
        (e.POLL_FORECAST ?? (providerKind === 'visionstory' ? 'on' : 'off')) === 'on'
          ? {
              minIntervalSec: e.POLL_MIN_INTERVAL,
              maxIntervalSec: e.POLL_FORECAST_MAX_INTERVAL,
              fallbackIntervalSec: e.POLL_MAX_INTERVAL,
              density: DEFAULT_POLL_DENSITY,
            }
          : null,
    },
    sweep: { intervalSec: e.SWEEP_INTERVAL, graceSec: e.SWEEP_GRACE },
    limits: {
      imageMaxBytes: UPLOAD_RULES.imageMaxBytes,
      audioMaxBytes: UPLOAD_RULES.audioMaxBytes,
      nameMaxChars: UPLOAD_RULES.nameMaxChars,
      bioMaxChars: UPLOAD_RULES.bioMaxChars,
      media: {
        imageMinSide: UPLOAD_RULES.imageMinShortSidePx,
        imageMaxPixels: e.IMAGE_MAX_PIXELS,
        audioMinSec: UPLOAD_RULES.audioMinSec,
        audioMaxSec: e.AUDIO_MAX_SECONDS,
      },
      maxActiveJobsPerUser: e.MAX_ACTIVE_JOBS_PER_USER,
    },
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    corsOrigins: e.CORS_ORIGINS,
    retention: {
      uploadDays: e.UPLOAD_RETENTION_DAYS,
      videoDays: e.VIDEO_RETENTION_DAYS,
      jobDays: e.JOB_RETENTION_DAYS,
      sweepIntervalSec: e.RETENTION_SWEEP_INTERVAL,
    },
    webhooks: { secret: e.WEBHOOK_SECRET, timeoutMs: e.WEBHOOK_TIMEOUT * 1000, allowLoopbackAndHttp: tasksKind !== 'cloud' },
    push:
      pushKind === 'fcm'
        ? {
            kind: 'fcm',
            projectId: e.GOOGLE_CLOUD_PROJECT ?? 'local-project',
            baseUrl: (e.FCM_API_BASE ?? 'https://fcm.googleapis.com').replace(/\/$/, ''),
            devicesCollection: e.FIRESTORE_DEVICES_COLLECTION,
            devicesFile: path.join(dataDir, 'devices.sqlite'),
          }
        : { kind: 'off' },
    timeouts: {
      headersMs: Math.round(e.HEADERS_TIMEOUT * 1000),
      requestMs: Math.round(e.REQUEST_TIMEOUT * 1000),
      uploadIdleMs: Math.round(e.UPLOAD_IDLE_TIMEOUT * 1000),
    },
  };
}
