import express, { type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { ServiceRole } from '../config';
import type { JobsDeps } from '../pipeline/createJob';
import type { LifecycleDeps } from '../pipeline/lifecycle';
import type { PipelineDeps } from '../pipeline/advanceJob';
import type { BlobStore } from '../ports/blobStore';
import type { JobStore } from '../ports/jobStore';
import type { TaskQueue } from '../ports/taskQueue';
import { corsMiddleware } from './cors';
import { allowAnyWorker, localAuthenticate, type Authenticate, type AuthenticateWorker } from './auth';
import { errorMiddleware, notFoundHandler } from './errors';
import type { EventStreams } from './eventStreams';
import { requestLogging } from './logging';
import { securityHeaders } from './securityHeaders';
import type { SweepSettings } from '../pipeline/decisions';
import type { UploadLimits } from './upload';

export interface AppDeps {
  role: ServiceRole;
  store: JobStore;
  queue: TaskQueue;
  blobs: BlobStore;
  pipeline: PipelineDeps;
  /** The sweep's grace period (SWEEP_GRACE); 120 s when absent. */
  sweep?: SweepSettings;
  jobs: JobsDeps;
  /** Notifications, delete and retention; absent in tests that need none of them. */
  lifecycle?: LifecycleDeps;
  logger: Logger;
  limits: UploadLimits;
  signedUrlTtlSec: number;
  authenticate?: Authenticate;
  authenticateWorker?: AuthenticateWorker;
  /** Local mode: the `userId` form field may name the caller. */
  allowUserIdField?: boolean;
  publicUrl?: string;
  projectId?: string;
  heartbeatMs?: number;
  /** Browser origins allowed to call the public API (CORS); none by default. */
  corsOrigins?: readonly string[];
  /** Open event streams, so a shutdown can end them at once. */
  eventStreams?: EventStreams;
  /** An upload that sends no byte for this long is stopped with 408 (default 30 s; 0: never). */
  uploadIdleTimeoutMs?: number;
  /** Extra routes mounted before the 404 handler (the web page, for example). */
  extraRoutes?: RequestHandler[];
}

/**
 * Builds the Express app for a role; never listens (main.ts and the tests do). The api role
 * serves the public routes, the worker role the worker route, `all` both.
 */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // Cloud Run terminates TLS in front of us: trust its X-Forwarded-* for links we hand out.
  app.set('trust proxy', true);
  app.use(requestLogging(deps.logger, deps.projectId));
  app.use(securityHeaders());

  app.get('/health', async (_req, res) => {
    const checks = await Promise.allSettled([deps.store.ping(), deps.queue.ping()]);
    const [store, queue] = checks.map((c) => (c.status === 'fulfilled' ? 'ok' : `error: ${(c.reason as Error)?.message ?? c.reason}`));
    const ok = checks.every((c) => c.status === 'fulfilled');
    if (ok) {
      res.status(200).json({ success: true, role: deps.role, store, queue });
      return;
    }
    // An answer and a log line, never a crash: outside Google Cloud without credentials this is
    // where a cloud-configured service first learns it cannot reach its store or queue.
    const reason = [store !== 'ok' ? `store ${store}` : '', queue !== 'ok' ? `queue ${queue}` : ''].filter(Boolean).join('; ');
    deps.logger.error({ message: `health check failed: ${reason}`, store, queue });
    res.status(503).json({ success: false, role: deps.role, store, queue, error: { code: 'unhealthy', message: reason } });
  });

  const authenticate = deps.authenticate ?? localAuthenticate;
  // Each role loads only the route modules it serves: the worker starts without the upload
  // path (the multipart reader, the media checks), the api without the pipeline's worker routes.
  /* eslint-disable @typescript-eslint/no-require-imports */
  if (deps.role !== 'worker') {
    const { generateRoutes } = require('./routes/generate') as typeof import('./routes/generate');
    const { jobsRoutes } = require('./routes/jobs') as typeof import('./routes/jobs');
    const { deviceRoutes } = require('./routes/devices') as typeof import('./routes/devices');
    app.use(corsMiddleware(deps.corsOrigins ?? []));
    for (const handler of deps.extraRoutes ?? []) app.use(handler);
    app.use(
      generateRoutes({
        jobs: deps.jobs,
        blobs: deps.blobs,
        limits: deps.limits,
        authenticate,
        allowUserIdField: deps.allowUserIdField ?? false,
        publicUrl: deps.publicUrl,
        webhooks: deps.lifecycle?.webhooks,
        uploadIdleTimeoutMs: deps.uploadIdleTimeoutMs ?? 30_000,
      }),
    );
    app.use(
      jobsRoutes({
        store: deps.store,
        blobs: deps.blobs,
        jobs: deps.jobs,
        lifecycle: deps.lifecycle,
        authenticate,
        signedUrlTtlSec: deps.signedUrlTtlSec,
        heartbeatMs: deps.heartbeatMs,
        publicUrl: deps.publicUrl,
        eventStreams: deps.eventStreams,
      }),
    );
    if (deps.lifecycle?.devices) app.use(deviceRoutes({ devices: deps.lifecycle.devices, authenticate }));
  }
  if (deps.role !== 'api') {
    const { workerRoutes } = require('./routes/worker') as typeof import('./routes/worker');
    app.use(
      workerRoutes({
        pipeline: deps.pipeline,
        lifecycle: deps.lifecycle,
        sweep: deps.sweep ?? { graceSec: 120 },
        authenticateWorker: deps.authenticateWorker ?? allowAnyWorker,
      }),
    );
  }
  /* eslint-enable @typescript-eslint/no-require-imports */
  app.use(notFoundHandler);
  app.use(errorMiddleware);
  return app;
}
