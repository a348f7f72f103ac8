/**
 * The service's HTTP API for Node programs (the command line, the benchmarks, the chaos harness,
 * the tests): upload with progress, the job, the list, live events (reconnecting) or ETag
 * polling, the video, cancel, retry, delete and GET /config. Errors come back as ApiError (the
 * server answered `{success:false, error:{code,message}}`) or Unreachable.
 */
import { ApiError, apiError, Unreachable, unreachable } from './errors';
import { saveBody } from './download';
import { serverSentEvents, type ServerSentEvent } from './events';
import { postMultipart, type MultipartOptions, type MultipartPart } from './multipart';
import { TERMINAL, type Accepted, type ClientConfig, type JobPage, type JobSnapshot, type UploadFile, type UploadRules, type WatchSettings } from './types';

export interface AvatarClientOptions {
  /** A bearer token (Firebase ID token) sent with every request. */
  token?: string;
  /** Headers sent with every request (for example X-User-Id, on a server without auth). */
  headers?: Record<string, string>;
}

/** Call options: an abort signal. */
export interface CallOptions {
  signal?: AbortSignal;
}

/** One conditional GET /jobs/:id: `job` is null when the server answered 304. */
export interface PollAnswer<J> {
  etag: string | null;
  job: J | null;
}

const sleepUnless = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });

export class AvatarClient {
  readonly server: string;

  constructor(
    server: string,
    private readonly options: AvatarClientOptions = {},
  ) {
    this.server = server.replace(/\/+$/, '');
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...this.options.headers, ...(this.options.token ? { Authorization: `Bearer ${this.options.token}` } : {}), ...extra };
  }

  jobUrl(jobId: string, suffix = ''): string {
    return `${this.server}/jobs/${encodeURIComponent(jobId)}${suffix}`;
  }

  /** The web page's view of a job, for people to open. */
  pageUrl(jobId: string): string {
    return `${this.server}/?job=${encodeURIComponent(jobId)}`;
  }

  /** fetch with this client's headers; a non-2xx answer is an ApiError, a network failure Unreachable. */
  async request(url: string, init: RequestInit = {}): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(url, { ...init, headers: this.headers(init.headers as Record<string, string>) });
    } catch (e) {
      if ((init.signal as AbortSignal | undefined)?.aborted) throw e;
      throw unreachable(e);
    }
    if (!res.ok) throw apiError(res.status, await res.text());
    return res;
  }

  private async json<T>(url: string, init: RequestInit = {}): Promise<T> {
    const res = await this.request(url, { ...init, headers: { Accept: 'application/json', ...(init.headers as Record<string, string>) } });
    return (await res.json()) as T;
  }

  async getJob<J = JobSnapshot>(jobId: string, call: CallOptions = {}): Promise<J> {
    return this.json<J>(this.jobUrl(jobId), { signal: call.signal });
  }

  /** One page of the caller's jobs, newest first. */
  async listPage<J = JobSnapshot>(limit: number, cursor?: string, call: CallOptions = {}): Promise<JobPage<J>> {
    const query = `limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    return this.json<JobPage<J>>(`${this.server}/jobs?${query}`, { signal: call.signal });
  }

  async listJobs<J = JobSnapshot>(limit: number, call: CallOptions = {}): Promise<J[]> {
    return (await this.listPage<J>(limit, undefined, call)).jobs;
  }

  /** Every job of the caller, page after page. */
  async listAll<J = JobSnapshot>(pageSize = 50, call: CallOptions = {}): Promise<J[]> {
    const jobs: J[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.listPage<J>(pageSize, cursor, call);
      jobs.push(...page.jobs);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return jobs;
  }

  async cancel(jobId: string): Promise<void> {
    await this.request(this.jobUrl(jobId, '/cancel'), { method: 'POST' });
  }

  /** DELETE /jobs/:id: the job, its uploads and its video (a running job is cancelled first). */
  async delete(jobId: string): Promise<void> {
    await this.request(this.jobUrl(jobId), { method: 'DELETE' });
  }

  async retry(jobId: string): Promise<Accepted> {
    return (await (await this.request(this.jobUrl(jobId, '/retry'), { method: 'POST' })).json()) as Accepted;
  }

  /** GET /config: what the server tells its clients (watch method, upload limits, step labels). */
  async config<C = Record<string, unknown>>(): Promise<C> {
    return this.json<C>(`${this.server}/config`);
  }

  /**
   * POST /generate-with-tasks with the parts in the order given, whatever the server answers
   * (status and raw body). For the typed 202, see upload().
   */
  postJob(parts: MultipartPart[], options: MultipartOptions = {}): ReturnType<typeof postMultipart> {
    return postMultipart(`${this.server}/generate-with-tasks`, parts, { ...options, headers: this.headers(options.headers) });
  }

  /**
   * POST /generate-with-tasks: the name and bio, then the photo and the recording streamed from
   * disk, counting bytes as they go out. Resolves with the 202; any other answer is an ApiError.
   */
  async upload(
    fields: { name: string; bio: string },
    image: UploadFile,
    audio: UploadFile,
    signal: AbortSignal,
    onProgress: (sent: number, total: number) => void,
  ): Promise<Accepted> {
    const file = (name: string, f: UploadFile): MultipartPart => ({ name, filename: f.name, contentType: f.mime, path: f.path, bytes: f.bytes });
    let answer;
    try {
      answer = await this.postJob(
        [{ name: 'instructorName', value: fields.name }, { name: 'instructorBio', value: fields.bio }, file('image', image), file('audio', audio)],
        { signal, onProgress, headers: { Accept: 'application/json' } },
      );
    } catch (e) {
      throw signal.aborted ? e : unreachable(e);
    }
    if (answer.status === 202) return JSON.parse(answer.body) as Accepted;
    throw apiError(answer.status, answer.body);
  }

  private configAnswer?: Promise<ClientConfig | null>;

  /** GET /config, asked once and kept; null from a server without /config (404). */
  clientConfig(): Promise<ClientConfig | null> {
    this.configAnswer ??= this.config<ClientConfig>().catch((e: unknown) => {
      if (e instanceof ApiError && e.status === 404) return null;
      this.configAnswer = undefined;
      throw e;
    });
    return this.configAnswer;
  }

  /** What an upload must be here (GET /config `upload`); null when the server does not say. */
  async uploadRules(): Promise<UploadRules | null> {
    return (await this.clientConfig())?.upload ?? null;
  }

  /**
   * How this server wants jobs followed (GET /config): in the cloud, by polling GET /jobs/:id,
   * so no open stream keeps an api instance billed. A server without /config streams.
   */
  async watchMethod(): Promise<WatchSettings> {
    const body = await this.clientConfig();
    const cli = body?.watch?.cli === 'poll' ? 'poll' : 'sse';
    const interval = Number(body?.watch?.pollIntervalSec);
    return { cli, pollIntervalSec: Number.isFinite(interval) && interval > 0 ? interval : 10 };
  }

  /**
   * Follows the job until it ends, calling `onJob` for every snapshot: by polling or through
   * the event stream, as the server says (see watchMethod).
   */
  async follow(jobId: string, onJob: (job: JobSnapshot) => void, signal: AbortSignal): Promise<JobSnapshot> {
    const settings = await this.watchMethod();
    if (settings.cli === 'poll') return this.poll(jobId, onJob, signal, settings.pollIntervalSec * 1000);
    return this.stream(jobId, onJob, signal);
  }

  /** GET /jobs/:id sending back `etag`: while nothing changes the server answers 304 with no body. */
  async getJobIfChanged<J = JobSnapshot>(jobId: string, etag: string | null, call: CallOptions = {}): Promise<PollAnswer<J>> {
    try {
      const res = await this.request(this.jobUrl(jobId), {
        headers: { Accept: 'application/json', ...(etag ? { 'If-None-Match': etag } : {}) },
        signal: call.signal,
      });
      return { etag: res.headers.get('etag'), job: (await res.json()) as J };
    } catch (e) {
      if (e instanceof ApiError && e.status === 304) return { etag, job: null };
      throw e;
    }
  }

  /**
   * Polls GET /jobs/:id every `intervalMs` with the last ETag (see getJobIfChanged). Network
   * failures are retried five times in a row.
   */
  private async poll(jobId: string, onJob: (job: JobSnapshot) => void, signal: AbortSignal, intervalMs: number): Promise<JobSnapshot> {
    let etag: string | null = null;
    let last: JobSnapshot | null = null;
    let failures = 0;
    for (;;) {
      try {
        const answer: PollAnswer<JobSnapshot> = await this.getJobIfChanged(jobId, etag, { signal });
        failures = 0;
        if (answer.job) {
          etag = answer.etag;
          last = answer.job;
          onJob(last);
        }
      } catch (e) {
        if (e instanceof ApiError || signal.aborted) throw e;
        if (++failures > 5) throw e instanceof Unreachable ? e : unreachable(e);
      }
      if (last && TERMINAL.has(last.status)) return last;
      await sleepUnless(intervalMs * Math.max(1, failures), signal);
    }
  }

  /** GET /jobs/:id/events, opened once: its events as they arrive, until the server closes it. */
  async *events(jobId: string, call: CallOptions = {}): AsyncGenerator<ServerSentEvent> {
    const res = await this.request(this.jobUrl(jobId, '/events'), { headers: { Accept: 'text/event-stream' }, signal: call.signal });
    yield* serverSentEvents(res.body!);
  }

  /**
   * Follows the event stream until the job ends. A stream that ends without its `end` event (a
   * restart, a deploy's SIGTERM, a proxy) is opened again after the server's `retry:` hint (or a
   * second), and the server starts again with the current document.
   */
  private async stream(jobId: string, onJob: (job: JobSnapshot) => void, signal: AbortSignal): Promise<JobSnapshot> {
    let failures = 0;
    let retryMs = 1000;
    let last: JobSnapshot | null = null;
    for (;;) {
      try {
        const res = await this.request(this.jobUrl(jobId, '/events'), { headers: { Accept: 'text/event-stream' }, signal });
        failures = 0;
        for await (const message of serverSentEvents(res.body!)) {
          if (message.retry !== undefined) retryMs = message.retry;
          if (message.event === 'job') {
            last = JSON.parse(message.data) as JobSnapshot;
            onJob(last);
          }
          if (message.event === 'end') {
            if (!last || !TERMINAL.has(last.status)) last = await this.getJob<JobSnapshot>(jobId);
            if (TERMINAL.has(last.status)) return last;
          }
        }
      } catch (e) {
        if (e instanceof ApiError || signal.aborted) throw e;
        if (++failures > 5) throw e instanceof Unreachable ? e : unreachable(e);
      }
      if (last && TERMINAL.has(last.status)) return last;
      await new Promise((r) => setTimeout(r, failures === 0 ? retryMs : retryMs * failures));
    }
  }

  /** The finished video into `out` (through `out.part`, renamed when complete); resolves with its size. */
  async download(jobId: string, out: string, signal: AbortSignal, onProgress: (got: number, total: number) => void): Promise<number> {
    // A redirect (to a signed Cloud Storage URL) is followed; the token is not sent there.
    const res = await this.request(this.jobUrl(jobId, '/video?download=1'), { signal });
    return saveBody(res, out, onProgress);
  }
}
