/**
 * Runs the VisionStory simulator on its own, for a full local dress rehearsal of the paid path:
 *
 *   SIM_PORT=8790 SIM_API_KEY=local-key npx tsx server/standins/visionStorySimulatorMain.ts
 *   PROVIDER=visionstory VISIONSTORY_API_BASE=http://127.0.0.1:8790 VISIONSTORY_API_KEY=local-key npm start
 *
 * A standalone tool, like the Cloud Tasks emulator's main: it reads its own few variables
 * (checked here with zod, failing fast with the variable's name) instead of the app's config.
 */
import { z } from 'zod';
import { createLogger } from '../src/logger';
import { readToolEnv, stopOnSignals } from '../src/toolMain';
import { startVisionStorySimulator } from './visionStorySimulator';

const schema = z.object({
  SIM_PORT: z.coerce.number().int().min(0).max(65535).default(8790),
  SIM_HOST: z.string().min(1).default('127.0.0.1'),
  SIM_API_KEY: z
    .string({ error: 'is required: the key clients must send in X-API-Key' })
    .min(1, 'is required: the key clients must send in X-API-Key'),
  SIM_LATENCY_MS: z.coerce.number().int().min(0).default(15_000),
  SIM_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0),
  LOG_LEVEL: z.string().default('info'),
});

async function main(): Promise<void> {
  const cfg = readToolEnv('visionstory simulator', schema, process.env);
  const logger = createLogger({ level: cfg.LOG_LEVEL, name: 'visionstory-simulator' });
  const sim = await startVisionStorySimulator({
    port: cfg.SIM_PORT,
    host: cfg.SIM_HOST,
    apiKey: cfg.SIM_API_KEY,
    latencyMs: cfg.SIM_LATENCY_MS,
    failureRate: cfg.SIM_FAILURE_RATE,
  });
  logger.info({ message: `VisionStory simulator listening on ${sim.baseUrl}`, baseUrl: sim.baseUrl, latencyMs: cfg.SIM_LATENCY_MS });
  stopOnSignals(logger, 'VisionStory simulator', () => sim.close(), () => ({ calls: sim.calls }));
}

void main();
