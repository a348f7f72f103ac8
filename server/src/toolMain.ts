import type { z } from 'zod';
import type { Logger } from './logger';

/*
 * What the entry points of the standalone tools share (the Cloud Tasks emulator's main here, the
 * VisionStory simulator's main among the test stand-ins): each reads its own few variables
 * instead of the app's config, and runs until SIGINT or SIGTERM.
 */

/**
 * The tool's variables checked against `schema`; on a bad one it writes
 * `<tool>: bad environment: VARIABLE: problem` to stderr and exits with status 2.
 */
export function readToolEnv<S extends z.ZodType>(tool: string, schema: S, env: NodeJS.ProcessEnv): z.output<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  process.stderr.write(`${tool}: bad environment: ${problems}\n`);
  process.exit(2);
}

/**
 * On SIGINT or SIGTERM: logs `<name> stopping` with the signal (and `fields()` read at that
 * moment), closes, and exits 0, or 1 when closing fails.
 */
export function stopOnSignals(logger: Logger, name: string, close: () => Promise<void>, fields: () => Record<string, unknown> = () => ({})): void {
  const stop = (signal: string): void => {
    logger.info({ message: `${name} stopping`, signal, ...fields() });
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}
