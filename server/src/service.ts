import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { CloudTasksQueue, ensureQueue } from './adapters/cloudTasksQueue';
import { LocalBlobStore } from './adapters/localBlobStore';
import type { AppConfig } from './config';
import { createApp, type AppDeps } from './http/app';
import { EventStreams } from './http/eventStreams';
import { startH2cBridge, type H2cBridge } from './http/h2cBridge';
import { videoPath } from './http/routes/links';
import type { Authenticate, AuthenticateWorker } from './http/auth';
import { createWorkerOidcAuthenticate } from './http/workerOidcAuth';
import type { CloudTasksEmulator } from './cloudTasksEmulator';
import type { JobsDeps } from './pipeline/createJob';
import { onJobEnded, sweepRetention, type LifecycleDeps } from './pipeline/lifecycle';
import type { DeviceStore } from './ports/deviceStore';
import type { Notifier } from './ports/notifier';
import type { CallbackPolicy, ResolveHost } from './adapters/webhookSender';
import type { PipelineDeps } from './pipeline/advanceJob';
import { sweepOverdueJobs, type SweepDeps, type SweepResult } from './pipeline/sweep';
import type { AvatarProvider } from './ports/avatarProvider';
import type { BlobStore } from './ports/blobStore';
import { msToDuration } from './time';
import type { JobStore } from './ports/jobStore';
import { deferredBlobStore, deferredDeviceStore, deferredJobStore, deferredProvider, loadOnce } from './adapters/deferred';

/** The `retry:` hint sent on event streams ended by a shutdown: soon, but not all at once. */
const SHUTDOWN_RETRY_MS = 1000;

/** A running service: its URL and how to stop it. */
export interface RunningService {
  /** The app's HTTP/1 URL (on loopback when the public port speaks h2c). */
  url: string;
  /** The public port (the h2c port when HTTP2_CLEARTEXT is on). */
  port: number;
  server: http.Server;
  store: JobStore;
  blobs: BlobStore;
  provider: AvatarProvider;
  queue: CloudTasksQueue;
  emulator?: CloudTasksEmulator;
  /** What the sweep works with (tests run it with their own options). */
  sweepDeps: SweepDeps;
  /** Runs the sweep now, page after page until no overdue job is left (what the local timer does). */
  sweep(): Promise<SweepResult>;
  devices: DeviceStore;
  /** Runs the local retention sweep now (the timer runs it every RETENTION_SWEEP_INTERVAL). */
  sweepRetention(): Promise<{ uploads: number; videos: number; jobs: number }>;
  /** Stop accepting, let in-flight requests finish (up to the grace period), close everything. */
  close(): Promise<void>;
}

/** Options tests use to swap a piece or observe the stack. */
export interface ServiceOverrides {
  provider?: AvatarProvider;
  /** A ready blob store (tests pass a GcsBlobStore pointed at the local GCS server). */
  blobs?: BlobStore;
  authenticate?: Authenticate;
  authenticateWorker?: AuthenticateWorker;
  heartbeatMs?: number;
  /** Lowest dispatch deadline the embedded emulator accepts (tests use short ones). */
  emulatorMinDispatchDeadlineMs?: number;
  /** Push sender (tests: an FcmNotifier aimed at the stand-in). */
  notifier?: Notifier;
  /** DNS for callback URLs (tests: a name that resolves to a private address). */
  resolveHost?: ResolveHost;
  /** Callback URL policy (tests: the cloud's https-only policy on the local stack). */
  callbackPolicy?: CallbackPolicy;
}

/**
 * Loads a part of the local stack. SQLite, ffmpeg and the Cloud Tasks emulator are development
 * dependencies: the production image installs only what the cloud runs, so there a local
 * setting names what is missing instead of failing deep inside a require.
 */
async function loadLocalPart<T>(what: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException)?.code;
    if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND') throw err;
    throw new Error(
      `${what} is part of the local stack, whose dependencies are not installed here (${(err as Error).message.split('\n')[0]}). ` +
        'Run `npm install` (with development dependencies) to use it; the production image runs only the cloud settings.',
      { cause: err },
    );
  }
}

/** What the service warms up right after it listens: the cloud adapters made on first use. */
type WarmUps = (() => Promise<unknown>)[];

async function firestoreOf(config: AppConfig) {
  // firebase-admin and the Firestore client are large and slow to load: only in the cloud.
  const { initializeApp, getApps } = await import('firebase-admin/app');
  const { getFirestore } = await import('firebase-admin/firestore');
  return getFirestore(getApps()[0] ?? initializeApp({ projectId: config.projectId }));
}

async function buildJobStore(config: AppConfig, warmUps: WarmUps): Promise<JobStore> {
  if (config.jobStore.kind === 'sqlite') {
    const { SqliteJobStore } = await loadLocalPart('JOB_STORE=sqlite', () => import('./adapters/sqliteJobStore'));
    return new SqliteJobStore({ file: config.jobStore.file });
  }
  const { collection } = config.jobStore;
  const store = deferredJobStore(async () => {
    const { FirestoreJobStore } = await import('./adapters/firestoreJobStore');
    return new FirestoreJobStore({ firestore: await firestoreOf(config), collection });
  });
  warmUps.push(store.ready);
  return store.port;
}

async function buildDeviceStore(config: AppConfig, warmUps: WarmUps): Promise<DeviceStore> {
  if (config.jobStore.kind === 'sqlite') {
    const { SqliteDeviceStore } = await import('./adapters/sqliteDeviceStore');
    return new SqliteDeviceStore({ file: config.push.kind === 'fcm' ? config.push.devicesFile : `${config.dataDir}/devices.sqlite` });
  }
  const devices = deferredDeviceStore(async () => {
    const { FirestoreDeviceStore } = await import('./adapters/firestoreDeviceStore');
    return new FirestoreDeviceStore({
      firestore: await firestoreOf(config),
      collection: config.push.kind === 'fcm' ? config.push.devicesCollection : undefined,
    });
  });
  warmUps.push(devices.ready);
  return devices.port;
}

/**
 * FCM HTTP v1 with an OAuth token from the runtime's service account (google-auth-library). A
 * stand-in (FCM_API_BASE not Google's) gets a fixed token: there is no account to mint one.
 */
async function buildNotifier(config: AppConfig): Promise<Notifier | undefined> {
  if (config.push.kind !== 'fcm') return undefined;
  const { FcmNotifier } = await import('./adapters/fcmNotifier');
  let getAccessToken: () => Promise<string> = async () => 'stand-in-token';
  if (config.push.baseUrl === 'https://fcm.googleapis.com') {
    // google-auth-library is loaded by the first push, not at start-up.
    let auth: Promise<import('google-auth-library').GoogleAuth> | undefined;
    getAccessToken = async () => {
      auth ??= import('google-auth-library').then(({ GoogleAuth }) => new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/firebase.messaging'] }));
      const token = await (await auth).getAccessToken();
      if (!token) throw new Error('no access token for FCM');
      return token;
    };
  }
  return new FcmNotifier({ projectId: config.push.projectId, baseUrl: config.push.baseUrl, getAccessToken });
}

async function buildBlobStore(config: AppConfig, logger: Logger, warmUps: WarmUps): Promise<BlobStore> {
  if (config.blobStore.kind === 'local') return new LocalBlobStore({ rootDir: config.blobStore.rootDir });
  const { bucket } = config.blobStore;
  const blobs = deferredBlobStore(async () => {
    const { GcsBlobStore } = await import('./adapters/gcsBlobStore');
    return new GcsBlobStore({ bucket, signedUrlTtlSec: config.signedUrlTtlSec, logger });
  });
  warmUps.push(blobs.ready);
  return blobs.port;
}

async function buildProvider(config: AppConfig, blobs: BlobStore, logger: Logger, warmUps: WarmUps): Promise<AvatarProvider> {
  if (config.provider.kind === 'local') {
    const { LocalRenderProvider } = await loadLocalPart('PROVIDER=local', () => import('./adapters/localRender/localRenderProvider'));
    return new LocalRenderProvider({ blobs, workDir: config.provider.workDir, latencyMs: config.provider.latencyMs, logger });
  }
  const { apiKey } = config.provider;
  if (!apiKey) return keylessProvider('visionstory');
  const { baseUrl, timeoutMs } = config.provider;
  const provider = deferredProvider('visionstory', async () => {
    const { VisionStoryProvider } = await import('./adapters/visionStoryProvider');
    return new VisionStoryProvider({ apiKey, baseUrl, timeoutMs, signedUrlTtlSec: config.signedUrlTtlSec, blobs, logger });
  });
  warmUps.push(provider.ready);
  return provider.port;
}

/**
 * The provider as the api service holds it in the cloud: a name for new jobs, and no key. Only
 * the worker runs steps, so only the worker may read the provider key's secret; a call here means
 * a step ran on the api, which the role split rules out.
 */
function keylessProvider(name: string): AvatarProvider {
  const refuse = async (): Promise<never> => {
    throw new Error(`the ${name} provider has no key in this service (SERVICE_ROLE=api): steps run on the worker`);
  };
  return { name, createAvatar: refuse, createVideo: refuse, getVideo: refuse, openVideo: refuse };
}

async function buildAuthenticate(config: AppConfig, warmUps: WarmUps): Promise<Authenticate | undefined> {
  // The worker role serves no public route: no need to load firebase-admin for it.
  if (config.auth.kind !== 'firebase' || config.role === 'worker') return undefined;
  // Made on first use (or by the warm-up), like the Firestore adapter: firebase-admin is slow to load.
  const { ready } = loadOnce(async (): Promise<Authenticate> => {
    const { createFirebaseAuthenticate } = await import('./http/firebaseAuth');
    const { initializeApp, getApps } = await import('firebase-admin/app');
    const { getAuth } = await import('firebase-admin/auth');
    const app = getApps().find((a) => a.name === '[DEFAULT]') ?? initializeApp({ projectId: config.projectId });
    return createFirebaseAuthenticate({ auth: getAuth(app) });
  });
  warmUps.push(ready);
  return async (req) => (await ready())(req);
}

/**
 * With TASKS_SERVICE_ACCOUNT set, the worker accepts only OIDC tokens minted for it. The
 * embedded emulator signs with its own key, so locally the worker trusts that key; otherwise
 * Google's published certificates.
 */
function buildWorkerAuthenticate(
  config: AppConfig,
  workerUrl: string,
  emulator: CloudTasksEmulator | undefined,
  logger: Logger,
): AuthenticateWorker | undefined {
  const { serviceAccount, audience, kind } = config.tasks;
  if (!serviceAccount) return undefined;
  if (kind === 'emulator') {
    logger.warn({ message: 'TASKS_SERVICE_ACCOUNT with CLOUD_TASKS_EMULATOR_HOST: the worker checks tokens against Google\'s keys, which a separate emulator does not sign with' });
  }
  return createWorkerOidcAuthenticate({
    audience: audience ?? workerUrl,
    serviceAccountEmail: serviceAccount,
    certs: emulator ? () => emulator.publicCerts() : undefined,
    onCloudRun: config.onCloudRun,
  });
}

/**
 * Node's answer to a request it could not parse or that took too long (headers or body past
 * HEADERS_TIMEOUT / REQUEST_TIMEOUT), in the API's JSON shape, then the connection closes.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: import('node:stream').Duplex): void {
  const pending = (socket as { _httpMessage?: http.ServerResponse })._httpMessage;
  if (socket.writable && !pending?.headersSent) {
    const [status, reason, code, message] =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'request_timeout', 'The request took too long to arrive']
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'Request Header Fields Too Large', 'headers_too_large', 'The request headers are too large']
          : [400, 'Bad Request', 'bad_request', 'The request is not valid HTTP'];
    const body = JSON.stringify({ success: false, error: { code, message } });
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    return; // end() closes the connection once the answer is out
  }
  socket.destroy();
}

/**
 * Temporary files of writes that a crash cut short never become blobs: remove them, and the
 * upload folders they leave empty. In one process (SERVICE_ROLE=all) nothing else is writing
 * at start-up; with the api and worker as two processes on one DATA_DIR, the other one may be,
 * so only files idle for longer than an upload may be idle are touched. (Cloud Storage keeps
 * no partial objects: an unfinished resumable upload never becomes one.)
 */
async function removeCrashLeftovers(blobs: LocalBlobStore, config: AppConfig, logger: Logger): Promise<void> {
  const olderThanMs = config.role === 'all' ? 0 : Math.max(60_000, 2 * config.timeouts.uploadIdleMs);
  const removed = await blobs.removeCrashLeftovers(olderThanMs);
  if (removed.partials.length + removed.folders.length > 0) {
    logger.info({ message: `removed ${removed.partials.length} partial files and ${removed.folders.length} empty folders left by a crash`, ...removed });
  }
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * The composition root's work: config → adapters → app → listening server. The HTTP server
 * listens first so the local stack knows the worker URL (PORT may be 0) before it makes the
 * queue; requests are attached once the app exists.
 */
export async function startService(config: AppConfig, logger: Logger, overrides: ServiceOverrides = {}): Promise<RunningService> {
  const { headersMs, requestMs } = config.timeouts;
  const server = http.createServer({
    headersTimeout: headersMs,
    // Only receiving the request counts: an event stream's answer may stay open for hours.
    requestTimeout: requestMs,
    // Node checks both timeouts on this interval (default 30 s): a fraction of the shorter one.
    connectionsCheckingInterval: Math.max(100, Math.min(5000, Math.floor(headersMs / 4))),
  });
  server.on('clientError', answerClientError);
  // Requests that arrive before the app is built (the port is open a moment earlier, and Cloud
  // Run sends traffic as soon as it is) are held and replayed, not left unanswered.
  let handle: http.RequestListener | undefined;
  const early: [http.IncomingMessage, http.ServerResponse][] = [];
  server.on('request', (req, res) => (handle ? handle(req, res) : early.push([req, res])));
  server.keepAliveTimeout = 65_000;
  let bridge: H2cBridge | undefined;
  let port: number;
  let url: string;
  if (config.http2Cleartext) {
    // The app speaks HTTP/1 on loopback; the public port speaks h2c (see h2cBridge.ts).
    const internal = await listen(server, 0, '127.0.0.1');
    url = `http://127.0.0.1:${internal}`;
    bridge = await startH2cBridge({ host: config.host, port: config.port, target: { host: '127.0.0.1', port: internal } });
    port = bridge.port;
  } else {
    port = await listen(server, config.port, config.host);
    const localHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    url = `http://${localHost === '::1' ? '[::1]' : localHost}:${port}`;
  }

  try {
    return await assemble({
      config,
      logger,
      overrides,
      server,
      port,
      url,
      bridge,
      serve: (app) => {
        handle = app;
        for (const [req, res] of early.splice(0)) app(req, res);
      },
    });
  } catch (err) {
    // Nothing will serve the held requests: answer them, and free the port.
    for (const [, res] of early.splice(0)) res.writeHead(503, { 'content-type': 'application/json' }).end(
      JSON.stringify({ success: false, error: { code: 'starting_failed', message: 'The service failed to start' } }),
    );
    server.close();
    await bridge?.close();
    throw err;
  }
}

/** What {@link assemble} builds the service from: the config and the server already listening. */
interface AssembleOptions {
  config: AppConfig;
  logger: Logger;
  overrides: ServiceOverrides;
  server: http.Server;
  /** The public port (the h2c port when HTTP2_CLEARTEXT is on). */
  port: number;
  /** The app's HTTP/1 URL. */
  url: string;
  bridge?: H2cBridge;
  /** Attaches the app to the listening server (and replays the requests held until now). */
  serve: (app: http.RequestListener) => void;
}

async function assemble(options: AssembleOptions): Promise<RunningService> {
  const { config, logger, overrides, server, port, url, bridge, serve } = options;
  const warmUps: WarmUps = [];
  const store = await buildJobStore(config, warmUps);
  const blobs = overrides.blobs ?? (await buildBlobStore(config, logger, warmUps));
  if (blobs instanceof LocalBlobStore) await removeCrashLeftovers(blobs, config, logger);
  const provider = overrides.provider ?? (await buildProvider(config, blobs, logger, warmUps));

  let emulator: CloudTasksEmulator | undefined;
  const tasks = config.tasks;
  const workerUrl = tasks.workerUrl ?? `${url}/worker/process-avatar`;
  let clientOptions: ConstructorParameters<typeof CloudTasksQueue>[0]['clientOptions'];
  if (tasks.kind === 'embedded') {
    const { startCloudTasksEmulator } = await loadLocalPart('The embedded Cloud Tasks emulator (TASKS=embedded)', () => import('./cloudTasksEmulator'));
    emulator = await startCloudTasksEmulator({
      port: tasks.emulatorPort,
      dbPath: tasks.emulatorDbFile,
      logger: logger.child({ component: 'tasks-emulator' }),
      minDispatchDeadlineMs: overrides.emulatorMinDispatchDeadlineMs,
      // A restart on another port (or PORT=0) must not leave queued tasks aimed at the old one.
      retargetUrl: workerUrl,
      extraDeliveries: tasks.emulatorExtraDeliveries,
    });
    clientOptions = emulator.endpoint;
  } else if (tasks.kind === 'emulator') {
    const grpc = await import('@grpc/grpc-js');
    const [host, portText] = (tasks.emulatorHost as string).split(':');
    clientOptions = { apiEndpoint: host, port: Number(portText), sslCreds: grpc.credentials.createInsecure() };
  }
  const queue = new CloudTasksQueue({
    project: tasks.project,
    location: tasks.location,
    queue: tasks.queue,
    workerUrl,
    serviceAccountEmail: tasks.serviceAccount,
    audience: tasks.audience,
    dispatchDeadlineSec: tasks.dispatchDeadlineSec,
    clientOptions,
    logger,
  });
  warmUps.push(() => queue.connect());
  if (tasks.kind !== 'cloud') {
    // Locally the queue is ours to make; in the cloud setup-cloud-tasks.sh makes it.
    await ensureQueue(queue, {
      retryConfig: {
        maxAttempts: tasks.retry.maxAttempts,
        minBackoff: msToDuration(tasks.retry.minBackoffSec * 1000),
        maxBackoff: msToDuration(tasks.retry.maxBackoffSec * 1000),
        maxDoublings: tasks.retry.maxDoublings,
      },
      rateLimits: {
        maxDispatchesPerSecond: tasks.rate.maxDispatchesPerSecond,
        maxConcurrentDispatches: tasks.rate.maxConcurrentDispatches,
      },
    });
  }

  const devices = await buildDeviceStore(config, warmUps);
  let webhooks: LifecycleDeps['webhooks'];
  if (config.webhooks.secret) {
    const { SignedWebhookSender } = await import('./adapters/webhookSender');
    webhooks = new SignedWebhookSender({
      secret: config.webhooks.secret,
      policy: overrides.callbackPolicy ?? { allowLoopbackAndHttp: config.webhooks.allowLoopbackAndHttp },
      resolveHost: overrides.resolveHost,
      timeoutMs: config.webhooks.timeoutMs,
    });
  }
  const lifecycle: LifecycleDeps = {
    store,
    queue,
    blobs,
    provider,
    devices,
    notifier: overrides.notifier ?? (await buildNotifier(config)),
    webhooks,
    retention: config.retention,
    logger,
  };
  const pipeline: PipelineDeps = {
    store,
    queue,
    blobs,
    provider,
    settings: config.pipeline,
    logger,
    onJobEnded: (jobId) => onJobEnded(lifecycle, jobId),
    media: { maxPixels: config.limits.media.imageMaxPixels, maxBytes: config.limits.imageMaxBytes },
    videoUrl: videoPath,
  };
  const jobs: JobsDeps = {
    store,
    queue,
    providerName: provider.name,
    logger,
    maxActiveJobsPerUser: config.limits.maxActiveJobsPerUser,
  };
  const eventStreams = new EventStreams();
  const appDeps: AppDeps = {
    role: config.role,
    store,
    queue,
    blobs,
    pipeline,
    sweep: { graceSec: config.sweep.graceSec },
    jobs,
    lifecycle,
    logger,
    limits: config.limits,
    signedUrlTtlSec: config.signedUrlTtlSec,
    authenticate: overrides.authenticate ?? (await buildAuthenticate(config, warmUps)),
    authenticateWorker: overrides.authenticateWorker ?? buildWorkerAuthenticate(config, workerUrl, emulator, logger),
    allowUserIdField: config.auth.kind === 'local',
    publicUrl: config.publicUrl,
    corsOrigins: config.corsOrigins,
    projectId: config.projectId,
    heartbeatMs: overrides.heartbeatMs,
    eventStreams,
    uploadIdleTimeoutMs: config.timeouts.uploadIdleMs,
    // The web page is a public route: the worker role does not load it.
    extraRoutes: config.role === 'worker' ? [] : [(await import('./http/routes/web')).webRoutes({ limits: config.limits, watch: config.watch })],
  };
  serve(createApp(appDeps));
  // Right after listening, load what the first requests need (the Google clients), so the first
  // request does not wait for all of it; a request sooner waits for the same loads. One after
  // the other, the job store first (every request reads it), so a request that arrives meanwhile
  // waits only for what it uses. Scheduled after this turn so the service reports itself
  // listening first.
  const warmUp = (async () => {
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (const load of warmUps) {
      await load().catch((err: unknown) => logger.warn({ message: `warm-up: ${err instanceof Error ? err.message : String(err)}` }));
    }
  })();

  const sweepDeps: SweepDeps = { store, queue, settings: config.pipeline, logger, onJobEnded: pipeline.onJobEnded, sweep: { graceSec: config.sweep.graceSec } };
  const sweep = async (): Promise<SweepResult> => {
    const deps = sweepDeps;
    let result = await sweepOverdueJobs(deps);
    const total = { ...result };
    while (result.more) {
      result = await sweepOverdueJobs(deps, { cursor: result.cursor });
      for (const key of ['examined', 'rescued', 'timedOut', 'errors'] as const) total[key] += result[key];
    }
    return { ...total, more: false, cursor: null };
  };
  // In the cloud, Cloud Scheduler calls POST /worker/sweep; locally the stack sweeps by itself:
  // once at start-up (jobs a crash left behind), then every SWEEP_INTERVAL seconds.
  let sweepTimer: NodeJS.Timeout | undefined;
  let sweeping: Promise<unknown> = Promise.resolve();
  let stopped = false;
  if (tasks.kind !== 'cloud' && config.role !== 'api') {
    const runSweep = (): void => {
      sweeping = sweep()
        .catch((err: unknown) => logger.error({ message: 'sweep failed', err }))
        .finally(() => {
          if (!stopped && config.sweep.intervalSec > 0) {
            sweepTimer = setTimeout(runSweep, config.sweep.intervalSec * 1000);
            sweepTimer.unref();
          }
        });
    };
    runSweep();
  }

  // Locally nothing else deletes what is past its retention; in the cloud Cloud Storage
  // lifecycle rules and Firestore's TTL policy do (infra/deploy.sh).
  const retentionSweep = () => sweepRetention(lifecycle);
  let retentionTimer: NodeJS.Timeout | undefined;
  if (config.jobStore.kind === 'sqlite' && config.role !== 'api' && config.retention.sweepIntervalSec > 0) {
    retentionTimer = setInterval(() => {
      retentionSweep().catch((err: unknown) => logger.warn({ message: 'retention sweep failed', error: String(err) }));
    }, config.retention.sweepIntervalSec * 1000);
    retentionTimer.unref();
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      stopped = true;
      await warmUp; // nothing is still being made while it closes
      clearTimeout(sweepTimer);
      await sweeping;
      // Open event streams end now with a retry hint (clients reconnect elsewhere and resume)
      // instead of holding the shutdown for the whole grace period.
      eventStreams.endAll(SHUTDOWN_RETRY_MS);
      // Stop accepting; idle keep-alive sockets go now, busy ones when their request ends.
      clearInterval(retentionTimer);
      const bridgeClosed = bridge?.close();
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = new Promise<void>((resolve) => setTimeout(resolve, config.shutdownGraceMs).unref());
      await Promise.race([drained, grace]);
      server.closeAllConnections();
      await bridgeClosed;
      await emulator?.close();
      await queue.close().catch(() => undefined);
      await provider.close?.();
      await devices.close();
      await store.close();
    })();
    return closing;
  };

  return { url, port, server, store, blobs, provider, queue, emulator, sweepDeps, sweep, devices, sweepRetention: retentionSweep, close };
}
