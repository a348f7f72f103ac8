import express, { type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { ServiceRole } from '../config';
import type { JobsDeps } from '../pipeline/jobs';
import type { PipelineDeps } from '../pipeline/runner';
import type { BlobStore } from '../ports/blobStore';
import type { JobStore } from '../ports/jobStore';
import type { TaskQueue } from '../ports/taskQueue';
import { allowAnyWorker, localAuthenticate, type Authenticate, type AuthenticateWorker } from './auth';
import { errorMiddleware, notFoundHandler } from './errors';
import { requestLogging } from './logging';
import { securityHeaders } from './securityHeaders';
import { generateRoutes } from './routes/generate';
import { jobsRoutes } from './routes/jobs';
import { workerRoutes } from './routes/worker';
import type { UploadLimits } from './upload';

export interface AppDeps {
  role: ServiceRole;
  store: JobStore;
  queue: TaskQueue;
  blobs: BlobStore;
  pipeline: PipelineDeps;
  jobs: JobsDeps;
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
    res.status(ok ? 200 : 503).json({ success: ok, role: deps.role, store, queue });
  });

  const authenticate = deps.authenticate ?? localAuthenticate;
  if (deps.role !== 'worker') {
    for (const handler of deps.extraRoutes ?? []) app.use(handler);
    app.use(
      generateRoutes({
        jobs: deps.jobs,
        blobs: deps.blobs,
        limits: deps.limits,
        authenticate,
        allowUserIdField: deps.allowUserIdField ?? false,
        publicUrl: deps.publicUrl,
        uploadIdleTimeoutMs: deps.uploadIdleTimeoutMs ?? 30_000,
      }),
    );
    app.use(
      jobsRoutes({
        store: deps.store,
        blobs: deps.blobs,
        jobs: deps.jobs,
        authenticate,
        signedUrlTtlSec: deps.signedUrlTtlSec,
        heartbeatMs: deps.heartbeatMs,
      }),
    );
  }
  if (deps.role !== 'api') {
    app.use(workerRoutes({ pipeline: deps.pipeline, authenticateWorker: deps.authenticateWorker ?? allowAnyWorker }));
  }
  app.use(notFoundHandler);
  app.use(errorMiddleware);
  return app;
}
