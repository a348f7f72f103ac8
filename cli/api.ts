/**
 * The service's HTTP API as the command line uses it: upload with progress, the job, the list,
 * the live events (reconnecting), the video, cancel and retry. Errors come back as ApiError
 * (the server answered with `{success:false, error:{code,message}}`) or Unreachable.
 */
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CheckedFile } from './args';

/** What the command needs from the job document (server/src/ports/jobStore.ts). */
export interface JobSnapshot {
  jobId: string;
  status: 'queued' | 'processing' | 'completed' | 'failed' | 'cancelled';
  progress: { currentStep: string; stepNumber: number; totalSteps: number; percent: number; message: string };
  provider: { name: string; providerStatus: string | null; polls: number };
  input?: { instructorName?: string };
  result?: { videoUrl?: string | null } | null;
  error: { code: string; message: string } | null;
  createdAt: string;
  completedAt: string | null;
  updatedAt: string;
}

export const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

/** How the server wants the command line to follow a job (GET /config). */
export interface WatchSettings {
  cli: 'sse' | 'poll';
  pollIntervalSec: number;
}

export interface Accepted {
  jobId: string;
  statusUrl: string;
  eventsUrl?: string;
  retriedFrom?: string;
}

/** The server answered with an error. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    readonly serverMessage: string | undefined,
  ) {
    super(serverMessage ?? `HTTP ${status}`);
  }
}

/** The server could not be reached at all. */
export class Unreachable extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

function apiError(status: number, body: string): ApiError {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: string; message?: string } };
    if (parsed.error) return new ApiError(status, parsed.error.code, parsed.error.message);
  } catch {
    /* not JSON */
  }
  return new ApiError(status, undefined, body ? `HTTP ${status}: ${body.slice(0, 200)}` : `HTTP ${status}`);
}

function unreachable(e: unknown): Unreachable {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return new Unreachable((e as { code?: string }).code ?? cause?.code ?? cause?.message ?? (e as Error).message);
}

export class ApiClient {
  constructor(
    readonly server: string,
    private readonly token?: string,
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.token ? { Authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  jobUrl(jobId: string, suffix = ''): string {
    return `${this.server}/jobs/${encodeURIComponent(jobId)}${suffix}`;
  }

  /** The web page's view of a job, for people to open. */
  pageUrl(jobId: string): string {
    return `${this.server}/?job=${encodeURIComponent(jobId)}`;
  }

  private async request(url: string, init: RequestInit = {}): Promise<Response> {
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

  async getJob(jobId: string): Promise<JobSnapshot> {
    return (await (await this.request(this.jobUrl(jobId), { headers: { Accept: 'application/json' } })).json()) as JobSnapshot;
  }

  async listJobs(limit: number): Promise<JobSnapshot[]> {
    const res = await this.request(`${this.server}/jobs?limit=${limit}`, { headers: { Accept: 'application/json' } });
    return ((await res.json()) as { jobs: JobSnapshot[] }).jobs;
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

  /**
   * POST /generate-with-tasks as multipart/form-data, the files streamed from disk with a known
   * Content-Length, counting bytes as they go out for the progress bar.
   */
  upload(
    fields: { name: string; bio: string },
    image: CheckedFile,
    audio: CheckedFile,
    signal: AbortSignal,
    onProgress: (sent: number, total: number) => void,
  ): Promise<Accepted> {
    const boundary = `----avatar-cli-${Math.random().toString(16).slice(2)}${Date.now().toString(16)}`;
    const safeName = (name: string): string => name.replace(/[^\x20-\x7e]|["\\]/g, '_');
    const field = (name: string, value: string): Buffer =>
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
    const fileHead = (name: string, file: CheckedFile): Buffer =>
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${safeName(file.name)}"\r\nContent-Type: ${file.mime}\r\n\r\n`,
      );
    const parts: Array<Buffer | CheckedFile> = [
      field('instructorName', fields.name),
      field('instructorBio', fields.bio),
      fileHead('image', image),
      image,
      Buffer.from('\r\n'),
      fileHead('audio', audio),
      audio,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ];
    const total = parts.reduce((sum, p) => sum + (Buffer.isBuffer(p) ? p.length : p.bytes), 0);

    const url = new URL(`${this.server}/generate-with-tasks`);
    const client = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = client.request(url, {
        method: 'POST',
        signal,
        headers: this.headers({
          'Content-Type': `multipart/form-data; boundary=${boundary}`,
          'Content-Length': String(total),
          Accept: 'application/json',
        }),
      });
      let sent = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          sent += chunk.length;
          onProgress(sent, total);
          done(null, chunk);
        },
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode === 202) resolve(JSON.parse(body) as Accepted);
          else reject(apiError(res.statusCode ?? 0, body));
        });
        res.on('error', reject);
      });
      req.on('error', (e) => reject(signal.aborted ? e : unreachable(e)));

      async function* body(): AsyncGenerator<Buffer> {
        for (const part of parts) {
          if (Buffer.isBuffer(part)) yield part;
          else yield* createReadStream(part.path, { highWaterMark: 64 * 1024 }) as AsyncIterable<Buffer>;
        }
      }
      // The server may answer early (a refused type) and close: keep the error it sends.
      pipeline(Readable.from(body()), counter, req).catch(() => undefined);
    });
  }

  private watchSettings?: Promise<WatchSettings>;

  /**
   * How this server wants jobs followed (GET /config, asked once): in the cloud, by polling
   * GET /jobs/:id, so no open stream keeps an api instance billed. A server without /config
   * streams.
   */
  watchMethod(): Promise<WatchSettings> {
    this.watchSettings ??= (async () => {
      try {
        const body = (await (await this.request(`${this.server}/config`, { headers: { Accept: 'application/json' } })).json()) as {
          watch?: Partial<WatchSettings>;
        };
        const cli = body.watch?.cli === 'poll' ? 'poll' : 'sse';
        const interval = Number(body.watch?.pollIntervalSec);
        return { cli, pollIntervalSec: Number.isFinite(interval) && interval > 0 ? interval : 10 };
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) return { cli: 'sse', pollIntervalSec: 10 };
        this.watchSettings = undefined;
        throw e;
      }
    })();
    return this.watchSettings;
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

  /**
   * Polls GET /jobs/:id every `intervalMs`, sending back the last ETag: while nothing changes
   * the server answers 304 with no body. Network failures are retried five times in a row.
   */
  private async poll(jobId: string, onJob: (job: JobSnapshot) => void, signal: AbortSignal, intervalMs: number): Promise<JobSnapshot> {
    let etag: string | null = null;
    let last: JobSnapshot | null = null;
    let failures = 0;
    for (;;) {
      try {
        const res = await this.requestAllowing304(this.jobUrl(jobId), {
          headers: { Accept: 'application/json', ...(etag ? { 'If-None-Match': etag } : {}) },
          signal,
        });
        failures = 0;
        if (res.status !== 304) {
          etag = res.headers.get('etag');
          last = (await res.json()) as JobSnapshot;
          onJob(last);
        }
      } catch (e) {
        if (e instanceof ApiError || signal.aborted) throw e;
        if (++failures > 5) throw e instanceof Unreachable ? e : unreachable(e);
      }
      if (last && TERMINAL.has(last.status)) return last;
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          clearTimeout(timer);
          reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        };
        const timer = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        }, intervalMs * Math.max(1, failures));
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
  }

  private async requestAllowing304(url: string, init: RequestInit): Promise<Response> {
    try {
      return await this.request(url, init);
    } catch (e) {
      if (e instanceof ApiError && e.status === 304) return new Response(null, { status: 304 });
      throw e;
    }
  }

  /**
   * Follows the event stream until the job ends. A stream that ends
   * without its `end` event (a restart, a deploy's SIGTERM, a proxy) is opened again after the
   * server's `retry:` hint (or a second), and the server starts again with the current document.
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
            if (!last || !TERMINAL.has(last.status)) last = await this.getJob(jobId);
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

  /** The finished video into `out` (through `out.part`, renamed when complete). */
  async download(jobId: string, out: string, signal: AbortSignal, onProgress: (got: number, total: number) => void): Promise<number> {
    // A redirect (to a signed Cloud Storage URL) is followed; the token is not sent there.
    const res = await this.request(this.jobUrl(jobId, '/video?download=1'), { signal });
    const total = Number(res.headers.get('content-length') ?? 0);
    const partial = `${out}.part`;
    let got = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        got += chunk.length;
        onProgress(got, total);
        done(null, chunk);
      },
    });
    try {
      await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), counter, createWriteStream(partial));
      await fs.rename(partial, out);
    } catch (e) {
      await fs.rm(partial, { force: true });
      throw e;
    }
    return got;
  }
}

/** Reads `event:`/`data:`/`retry:` blocks from an SSE response body. */
export async function* serverSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<{ event: string; data: string; retry?: number }> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let cut: number;
    while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, '');
      let event = 'message';
      let retry: number | undefined;
      const data: string[] = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        else if (/^retry:\s*\d+$/.test(line)) retry = Number(line.slice(6).trim());
      }
      if (data.length > 0 || retry !== undefined) yield { event: data.length > 0 ? event : 'retry', data: data.join('\n'), retry };
    }
  }
}
