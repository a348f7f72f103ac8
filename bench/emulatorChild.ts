/**
 * The Cloud Tasks emulator in a process of its own, for measuring a worker without the queue's
 * bookkeeping on its event loop (as in production, where Cloud Tasks is Google's). Reports
 * `{ready, port, pid}` over IPC; closes on 'close' or when the parent goes.
 */
import { startCloudTasksEmulator } from '../server/src/cloudTasksEmulator';

async function main(): Promise<void> {
  const emulator = await startCloudTasksEmulator({ dbPath: process.env.TASKS_EMULATOR_DB ?? ':memory:' });
  const close = (): void => {
    emulator.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('message', (m) => m === 'close' && close());
  process.on('disconnect', close);
  process.send?.({ ready: true, port: emulator.port, pid: process.pid });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
