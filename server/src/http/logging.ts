import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import { traceField } from '../logger';

declare module 'express-serve-static-core' {
  interface Request {
    log?: Logger;
  }
}

/**
 * One JSON line per request, in Cloud Logging's httpRequest shape, with the trace id so a
 * request's lines group together. Also gives each request a child logger (`req.log`).
 */
export function requestLogging(logger: Logger, projectId?: string): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    req.log = logger.child(traceField(projectId, req.header('x-cloud-trace-context')));
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const line = {
        message: `${req.method} ${req.originalUrl} ${res.statusCode}`,
        // Routes that know the job put its id here, so a job's lines can be found together.
        jobId: typeof res.locals.jobId === 'string' ? res.locals.jobId : undefined,
        httpRequest: {
          requestMethod: req.method,
          requestUrl: req.originalUrl,
          status: res.statusCode,
          latency: `${(ms / 1000).toFixed(3)}s`,
          userAgent: req.header('user-agent'),
        },
      };
      if (res.statusCode >= 500) req.log?.error(line);
      else if (req.path === '/health') req.log?.debug(line);
      else req.log?.info(line);
    });
    next();
  };
}
