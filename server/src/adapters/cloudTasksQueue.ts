import type { CloudTasksClient, protos } from '@google-cloud/tasks';
import { RetryableError, PermanentError } from '../domain/errors';
import { silentLogger, type Logger } from '../logger';
import type { EnqueueOptions, EnqueueResult, TaskQueue, WorkerTask } from '../ports/taskQueue';
import { msToDuration } from '../time';

/** The client's own option type (google-gax ClientOptions), without importing google-gax. */
export type ClientOptions = NonNullable<ConstructorParameters<typeof CloudTasksClient>[0]>;
type IRetryConfig = protos.google.cloud.tasks.v2.IRetryConfig;
type IRateLimits = protos.google.cloud.tasks.v2.IRateLimits;

/** gRPC status codes this adapter tells apart (numbers, as google-gax reports them). */
const GRPC = {
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;
const RETRYABLE_CODES = new Set<number>([GRPC.UNAVAILABLE, GRPC.DEADLINE_EXCEEDED, GRPC.RESOURCE_EXHAUSTED, GRPC.INTERNAL]);

/** Options of {@link CloudTasksQueue}. */
export interface CloudTasksQueueOptions {
  project: string;
  location: string;
  queue: string;
  /** Full URL of the worker's POST /worker/process-avatar. */
  workerUrl: string;
  /** When set, each task carries an OIDC token minted for this service account. */
  serviceAccountEmail?: string;
  /** OIDC audience; Cloud Tasks uses the task URL when absent. */
  audience?: string;
  /** Per-task dispatch deadline (Cloud Tasks allows 15 s to 30 min; default 10 min). */
  dispatchDeadlineSec?: number;
  /** Passed to CloudTasksClient: the emulator's `endpoint` locally, nothing in the cloud. */
  clientOptions?: ClientOptions;
  logger?: Logger;
}

/** Queue settings for {@link ensureQueue}, in the API's own shapes. */
export interface QueueSettings {
  retryConfig?: IRetryConfig;
  rateLimits?: IRateLimits;
  /** Required when passing a bare client; an adapter knows its queue. */
  queuePath?: string;
}

function grpcCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** A Cloud Tasks failure as one of our two error kinds. */
function wrapError(action: string, err: unknown): Error {
  const code = grpcCode(err);
  const message = `${action} failed: ${err instanceof Error ? err.message : String(err)}`;
  if (code !== undefined && RETRYABLE_CODES.has(code)) return new RetryableError('queue_unavailable', message, { cause: err });
  return new PermanentError('queue_error', message, { cause: err, detail: { grpcCode: code } });
}

/**
 * TaskQueue on Cloud Tasks through the official v2 client, in both modes: in the cloud it talks
 * to cloudtasks.googleapis.com, locally to the in-process emulator over the same gRPC protocol.
 */
export class CloudTasksQueue implements TaskQueue {
  /** `projects/P/locations/L/queues/Q`. */
  readonly queuePath: string;
  private readonly log: Logger;
  private connected?: CloudTasksClient;
  private connecting?: Promise<CloudTasksClient>;

  constructor(private readonly options: CloudTasksQueueOptions) {
    // The client's own queuePath() template, without loading the client to call it.
    this.queuePath = `projects/${options.project}/locations/${options.location}/queues/${options.queue}`;
    this.log = options.logger ?? silentLogger;
  }

  /**
   * Loads the client library and makes the client, once. google-gax and the Cloud Tasks protos
   * take about a third of a second to load: a service calls this right after it listens (or on
   * the first call), not before.
   */
  connect(): Promise<CloudTasksClient> {
    this.connecting ??= import('@google-cloud/tasks').then(({ CloudTasksClient }) => {
      this.connected = new CloudTasksClient(this.options.clientOptions);
      return this.connected;
    });
    return this.connecting;
  }

  /** The client, once {@link connect} has made it (every method of the queue does first). */
  get client(): CloudTasksClient {
    if (!this.connected) throw new Error('CloudTasksQueue.client before connect(): await queue.connect() first');
    return this.connected;
  }

  /** Full resource name of a task from its short, deterministic id. */
  taskPath(name: string): string {
    return `${this.queuePath}/tasks/${name}`;
  }

  private credentialsChecked = false;

  /**
   * Loads Google credentials before the client's first call. Without them, every method of
   * the client rejects twice: once for the caller, and once more from its own
   * `initialize().catch(err => { throw err })`, which nobody can catch and which kills the
   * process (unhandled rejection, "Could not load the default credentials"). Checked here first,
   * the failure is an ordinary error the caller can catch. An emulator endpoint (insecure channel)
   * needs no credentials.
   */
  private async ready(action: string): Promise<void> {
    const client = await this.connect();
    if (this.credentialsChecked || this.options.clientOptions?.sslCreds) return;
    try {
      await client.auth.getClient();
      this.credentialsChecked = true;
    } catch (err) {
      throw new RetryableError('queue_unavailable', `${action} failed: Google credentials could not be loaded: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
  }

  async enqueue(task: WorkerTask, options: EnqueueOptions): Promise<EnqueueResult> {
    await this.ready('enqueue');
    const request: protos.google.cloud.tasks.v2.ITask = {
      name: this.taskPath(options.name),
      httpRequest: {
        url: this.options.workerUrl,
        httpMethod: 'POST',
        // Cloud Tasks sends the body as bytes and sets no JSON content type by itself.
        headers: { 'Content-Type': 'application/json' },
        body: Buffer.from(JSON.stringify(task)),
        ...(this.options.serviceAccountEmail
          ? { oidcToken: { serviceAccountEmail: this.options.serviceAccountEmail, ...(this.options.audience ? { audience: this.options.audience } : {}) } }
          : {}),
      },
    };
    if (options.scheduleTime) {
      // Must be a protobuf Timestamp {seconds, nanos}: the client silently drops a JS Date and
      // the task then runs at once.
      request.scheduleTime = msToDuration(options.scheduleTime.getTime());
    }
    if (this.options.dispatchDeadlineSec) request.dispatchDeadline = { seconds: this.options.dispatchDeadlineSec };
    try {
      await this.client.createTask({ parent: this.queuePath, task: request });
      this.log.debug({ message: 'task enqueued', jobId: task.jobId, task: options.name });
      return { created: true };
    } catch (err) {
      // A named task that exists (or ran within the last hour or so) is already enqueued.
      if (grpcCode(err) === GRPC.ALREADY_EXISTS) {
        this.log.debug({ message: 'task already enqueued', jobId: task.jobId, task: options.name });
        return { created: false };
      }
      throw wrapError('enqueue', err);
    }
  }

  async delete(name: string): Promise<void> {
    await this.ready('delete task');
    try {
      await this.client.deleteTask({ name: this.taskPath(name) });
    } catch (err) {
      if (grpcCode(err) === GRPC.NOT_FOUND) return;
      throw wrapError('delete task', err);
    }
  }

  async ping(): Promise<void> {
    await this.ready('get queue');
    try {
      await this.client.getQueue({ name: this.queuePath });
    } catch (err) {
      throw wrapError('get queue', err);
    }
  }

  async close(): Promise<void> {
    // A queue never used has no client to close.
    const client = await this.connecting?.catch(() => undefined);
    await client?.close();
  }
}

/**
 * Makes sure the queue exists with these settings: creates it when missing, otherwise updates
 * only the given settings (an update mask of the fields present). Safe to call at every start.
 * Returns the queue as the API now reports it.
 */
export async function ensureQueue(
  target: CloudTasksQueue | CloudTasksClient,
  settings: QueueSettings,
): Promise<protos.google.cloud.tasks.v2.IQueue> {
  const client = target instanceof CloudTasksQueue ? await target.connect() : target;
  const queuePath = target instanceof CloudTasksQueue ? target.queuePath : settings.queuePath;
  if (!queuePath) throw new PermanentError('queue_error', 'ensureQueue needs settings.queuePath when given a bare client');
  const parent = queuePath.replace(/\/queues\/[^/]+$/, '');
  const wanted: protos.google.cloud.tasks.v2.IQueue = { name: queuePath };
  const paths: string[] = [];
  if (settings.retryConfig) {
    wanted.retryConfig = settings.retryConfig;
    paths.push('retry_config');
  }
  if (settings.rateLimits) {
    wanted.rateLimits = settings.rateLimits;
    paths.push('rate_limits');
  }
  try {
    try {
      await client.getQueue({ name: queuePath });
    } catch (err) {
      if (grpcCode(err) !== GRPC.NOT_FOUND) throw err;
      try {
        const [created] = await client.createQueue({ parent, queue: wanted });
        return created;
      } catch (createErr) {
        // Someone else created it between our get and create: fall through to the update.
        if (grpcCode(createErr) !== GRPC.ALREADY_EXISTS) throw createErr;
      }
    }
    if (paths.length === 0) {
      const [queue] = await client.getQueue({ name: queuePath });
      return queue;
    }
    const [updated] = await client.updateQueue({ queue: wanted, updateMask: { paths } });
    return updated;
  } catch (err) {
    throw wrapError('ensure queue', err);
  }
}
