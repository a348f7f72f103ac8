import { ConfigError, applyProcessDefaults, loadConfig, loadEnvFile } from './config';
import { createLogger } from './logger';
import { startService } from './service';

/** Composition root: config → adapters → app → listen; SIGTERM drains and closes. */
async function main(): Promise<void> {
  let config;
  let fromFile: string[] = [];
  try {
    fromFile = loadEnvFile();
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  applyProcessDefaults(config);
  const logger = createLogger({ level: config.logLevel });
  // The last net: a client library that drops a rejected promise of its own (gax does when
  // credentials are missing) must not take every open request down with the process. Each
  // such failure also reaches its caller, which answers it (503); here it is only logged.
  process.on('unhandledRejection', (reason: unknown) => {
    logger.error({
      message: `unhandled rejection: ${reason instanceof Error ? reason.message : String(reason)}`,
      stack: reason instanceof Error ? reason.stack : undefined,
    });
  });
  const service = await startService(config, logger);
  const publicUrl = config.publicUrl ?? `http://localhost:${service.port}`;
  logger.info({
    message: `listening on ${publicUrl}${config.http2Cleartext ? ' (HTTP/2 cleartext)' : ''} (role ${config.role}, store ${config.jobStore.kind}, blobs ${config.blobStore.kind}, tasks ${config.tasks.kind}, provider ${config.provider.kind})`,
    url: publicUrl,
    dataDir: config.jobStore.kind === 'sqlite' ? config.dataDir : undefined,
    fromEnvFile: fromFile.length > 0 ? fromFile : undefined,
  });
  if (config.role !== 'worker') {
    logger.info({
      message: `try it: curl${config.http2Cleartext ? ' --http2-prior-knowledge' : ''} -X POST ${publicUrl}/generate-with-tasks -F image=@face.jpg -F audio=@voice.wav -F instructorName=Kim -F instructorBio=Teacher`,
    });
  }

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ message: `${signal}: finishing in-flight requests, then closing` });
    service.close().then(
      () => {
        logger.info({ message: 'stopped' });
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ message: 'error while stopping', error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
