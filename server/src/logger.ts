import pino, { type Logger } from 'pino';

/**
 * JSON lines as Cloud Logging reads them: `severity` instead of pino's numeric level,
 * `message` instead of `msg`, and the trace id under the key Cloud Logging links to traces.
 */
const SEVERITY: Record<string, string> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL',
};

export type { Logger };

export function createLogger(options: { level?: string; name?: string; destination?: pino.DestinationStream } = {}): Logger {
  const opts: pino.LoggerOptions = {
    name: options.name,
    level: options.level ?? 'info',
    messageKey: 'message',
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level(label) {
        return { severity: SEVERITY[label] ?? 'DEFAULT' };
      },
    },
    // Never log credentials, whatever a caller passes in.
    redact: {
      paths: ['apiKey', '*.apiKey', 'headers.authorization', 'headers["x-api-key"]', '*.headers["x-api-key"]', 'authorization', 'token'],
      censor: '[redacted]',
    },
  };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}

/** The trace field Cloud Logging uses to group a request's lines. */
export function traceField(project: string | undefined, traceHeader: string | undefined): Record<string, string> {
  if (!traceHeader) return {};
  const traceId = traceHeader.split('/')[0];
  if (!traceId) return {};
  return {
    'logging.googleapis.com/trace': project ? `projects/${project}/traces/${traceId}` : traceId,
  };
}

/** A logger that drops everything; for tests and tools. */
export const silentLogger: Logger = pino({ level: 'silent' });
