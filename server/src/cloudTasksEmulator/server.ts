import * as grpc from '@grpc/grpc-js';
import { silentLogger, type Logger } from '../logger';
import { Dispatcher } from './dispatcher';
import { CloudTasksService } from './grpcService';
import type { Req } from './protoMapping';
import { loadCloudTasksService } from './protos';
import { EmulatorStore } from './store';
import { RpcError } from './validation';

/** Options of {@link startCloudTasksEmulator}. */
export interface CloudTasksEmulatorOptions {
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Port; 0 (default) picks a free one. */
  port?: number;
  /** SQLite file for queues and tasks, or ':memory:'. */
  dbPath: string;
  logger?: Logger;
  /** How long a used task name stays reserved after the task ran or was deleted; default 1 h. */
  tombstoneMs?: number;
  /** Smallest dispatchDeadline accepted; the real API's 15 s by default. Tests lower it. */
  minDispatchDeadlineMs?: number;
  /**
   * The worker's URL in this run. Tasks stored by an earlier run on another port (or another
   * host) with the same path are re-pointed at it before dispatching starts, so a restart of
   * the local stack on a new port strands no job.
   */
  retargetUrl?: string;
  /**
   * A test aid: every dispatch is also sent this many more times (0 by default, like the real
   * service on a good day). Cloud Tasks delivers at least once, so a worker must stand a task
   * arriving two or three times, at once or a moment apart; with 1 or 2 every task does. The
   * copies' answers are ignored: the first delivery's answer decides the attempt.
   */
  extraDeliveries?: number;
}

/** A running emulator. */
export interface CloudTasksEmulator {
  port: number;
  /** Spread into `new CloudTasksClient({...emulator.endpoint})`. */
  endpoint: { apiEndpoint: string; port: number; sslCreds: grpc.ChannelCredentials };
  /** `{[kid]: pem}` of the key that signs OIDC tokens, for OAuth2Client.verifySignedJwtWithCertsAsync. */
  publicCerts(): Record<string, string>;
  /** An ID token signed with that key, as Cloud Tasks attaches it (for deliveries made by hand). */
  signIdToken(serviceAccountEmail: string, audience: string): string;
  /** Stops serving and dispatching; in-flight requests are aborted (and run again after a restart). */
  close(): Promise<void>;
}

/**
 * Starts the Cloud Tasks emulator: a gRPC server speaking `google.cloud.tasks.v2.CloudTasks`
 * (queues, tasks, pause/resume/purge, RunTask) plus a timer-driven dispatcher for HTTP tasks.
 * Point the official client at it with
 * `new CloudTasksClient({...emulator.endpoint})` (plain-text gRPC: without `sslCreds` the
 * client tries TLS and hangs).
 */
export async function startCloudTasksEmulator(opts: CloudTasksEmulatorOptions): Promise<CloudTasksEmulator> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.logger ?? silentLogger;
  const store = new EmulatorStore(opts.dbPath);
  const tombstoneMs = opts.tombstoneMs ?? 3_600_000;
  const dispatcher = new Dispatcher(store, log, tombstoneMs, opts.extraDeliveries ?? 0);
  const service = new CloudTasksService(store, dispatcher, log, tombstoneMs, opts.minDispatchDeadlineMs ?? 15_000);

  const unary =
    (fn: (req: Req) => unknown): grpc.handleUnaryCall<Req, unknown> =>
    (call, callback) => {
      try {
        callback(null, fn(call.request));
      } catch (err) {
        if (err instanceof RpcError) {
          callback({ code: err.code, details: err.message });
        } else {
          log.error({ message: 'cloud tasks emulator: internal error', err });
          callback({ code: grpc.status.INTERNAL, details: err instanceof Error ? err.message : String(err) });
        }
      }
    };

  const server = new grpc.Server();
  server.addService(loadCloudTasksService(), {
    createQueue: unary((r) => service.createQueue(r)),
    getQueue: unary((r) => service.getQueue(r)),
    updateQueue: unary((r) => service.updateQueue(r)),
    listQueues: unary((r) => service.listQueues(r)),
    deleteQueue: unary((r) => service.deleteQueue(r)),
    purgeQueue: unary((r) => service.purgeQueue(r)),
    pauseQueue: unary((r) => service.setQueueState(r, 'PAUSED')),
    resumeQueue: unary((r) => service.setQueueState(r, 'RUNNING')),
    createTask: unary((r) => service.createTask(r)),
    getTask: unary((r) => service.getTask(r)),
    listTasks: unary((r) => service.listTasks(r)),
    deleteTask: unary((r) => service.deleteTask(r)),
    runTask: unary((r) => service.runTask(r)),
  });

  const bindHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${bindHost}:${opts.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      );
    });
  } catch (err) {
    store.close();
    throw err;
  }
  log.info({ message: 'cloud tasks emulator listening', host, port });
  if (opts.retargetUrl) {
    const moved = store.retargetTasks(opts.retargetUrl);
    if (moved > 0) log.info({ message: 'stored tasks re-pointed at the current worker URL', tasks: moved, url: opts.retargetUrl });
  }
  // Tasks left from an earlier run are due now or later: start the loop.
  dispatcher.wake();

  let closed: Promise<void> | undefined;
  return {
    port,
    endpoint: { apiEndpoint: host, port, sslCreds: grpc.credentials.createInsecure() },
    publicCerts: () => dispatcher.oidc.publicCerts(),
    signIdToken: (serviceAccountEmail, audience) => dispatcher.oidc.sign(serviceAccountEmail, audience),
    close() {
      closed ??= (async () => {
        const shutdown = new Promise<void>((resolve) => {
          // Let in-progress RPCs finish, but not for long: close() should take well under 1 s.
          const force = setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, 300);
          server.tryShutdown(() => {
            clearTimeout(force);
            resolve();
          });
        });
        await Promise.all([shutdown, dispatcher.close()]);
        store.close();
        log.info({ message: 'cloud tasks emulator closed', port });
      })();
      return closed;
    },
  };
}
