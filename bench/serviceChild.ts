/**
 * The real service, alone in its own process so that its RSS can be read from /proc without
 * the benchmark's clients in it. Configured by the environment exactly like main.ts; tells its
 * parent `{ready, url, pid}` over IPC and closes when the parent disconnects or says 'close'.
 */
import { applyProcessDefaults, loadConfig } from '../server/src/config';
import { silentLogger } from '../server/src/logger';
import { startService } from '../server/src/service';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  applyProcessDefaults(config);
  const service = await startService(config, silentLogger);
  let closing = false;
  const close = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    await service.close();
    process.exit(0);
  };
  process.on('message', (m) => {
    if (m === 'close') void close();
  });
  process.on('disconnect', () => void close());
  process.send?.({ ready: true, url: service.url, pid: process.pid });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
