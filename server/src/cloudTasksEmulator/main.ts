/**
 * Runs the Cloud Tasks emulator on its own (`npm run emulator:tasks`), for pointing a separately
 * started api/worker, a script or gcloud-free experiments at it:
 *
 *   TASKS_EMULATOR_PORT=8123 TASKS_EMULATOR_DB=./.data/tasks-emulator.sqlite npm run emulator:tasks
 *
 * A standalone tool: it reads its own few variables (checked here with zod, failing fast with
 * the variable's name) instead of the app's config.
 */
import { z } from 'zod';
import { createLogger } from '../logger';
import { startCloudTasksEmulator } from './server';

const env = z
  .object({
    TASKS_EMULATOR_PORT: z.coerce.number().int().min(0).max(65535).default(8123),
    TASKS_EMULATOR_HOST: z.string().min(1).default('127.0.0.1'),
    TASKS_EMULATOR_DB: z.string().min(1).default('./.data/tasks-emulator.sqlite'),
    TASKS_EMULATOR_TOMBSTONE_MS: z.coerce.number().int().min(0).default(3_600_000),
    LOG_LEVEL: z.string().default('info'),
  })
  .safeParse(process.env);

async function main(): Promise<void> {
  if (!env.success) {
    const problems = env.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    process.stderr.write(`cloud tasks emulator: bad environment: ${problems}\n`);
    process.exit(2);
  }
  const cfg = env.data;
  const logger = createLogger({ level: cfg.LOG_LEVEL, name: 'cloud-tasks-emulator' });
  const emulator = await startCloudTasksEmulator({
    host: cfg.TASKS_EMULATOR_HOST,
    port: cfg.TASKS_EMULATOR_PORT,
    dbPath: cfg.TASKS_EMULATOR_DB,
    tombstoneMs: cfg.TASKS_EMULATOR_TOMBSTONE_MS,
    logger,
  });
  const { apiEndpoint, port } = emulator.endpoint;
  logger.info({ apiEndpoint, port, db: cfg.TASKS_EMULATOR_DB }, `Cloud Tasks emulator listening on ${apiEndpoint}:${port}`);
  logger.info(
    `use it with: new CloudTasksClient({apiEndpoint: '${apiEndpoint}', port: ${port}, sslCreds: grpc.credentials.createInsecure()})`,
  );
  const stop = (signal: string): void => {
    logger.info({ signal }, 'Cloud Tasks emulator stopping');
    emulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

void main();
