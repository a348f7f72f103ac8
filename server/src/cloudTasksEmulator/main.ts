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
import { readToolEnv, stopOnSignals } from '../toolMain';
import { startCloudTasksEmulator } from './server';

const schema = z.object({
  TASKS_EMULATOR_PORT: z.coerce.number().int().min(0).max(65535).default(8123),
  TASKS_EMULATOR_HOST: z.string().min(1).default('127.0.0.1'),
  TASKS_EMULATOR_DB: z.string().min(1).default('./.data/tasks-emulator.sqlite'),
  TASKS_EMULATOR_TOMBSTONE_MS: z.coerce.number().int().min(0).default(3_600_000),
  LOG_LEVEL: z.string().default('info'),
});

async function main(): Promise<void> {
  const cfg = readToolEnv('cloud tasks emulator', schema, process.env);
  const logger = createLogger({ level: cfg.LOG_LEVEL, name: 'cloud-tasks-emulator' });
  const emulator = await startCloudTasksEmulator({
    host: cfg.TASKS_EMULATOR_HOST,
    port: cfg.TASKS_EMULATOR_PORT,
    dbPath: cfg.TASKS_EMULATOR_DB,
    tombstoneMs: cfg.TASKS_EMULATOR_TOMBSTONE_MS,
    logger,
  });
  const { apiEndpoint, port } = emulator.endpoint;
  logger.info({ message: `Cloud Tasks emulator listening on ${apiEndpoint}:${port}`, apiEndpoint, port, db: cfg.TASKS_EMULATOR_DB });
  logger.info({
    message: `use it with: new CloudTasksClient({apiEndpoint: '${apiEndpoint}', port: ${port}, sslCreds: grpc.credentials.createInsecure()})`,
  });
  stopOnSignals(logger, 'Cloud Tasks emulator', () => emulator.close());
}

void main();
