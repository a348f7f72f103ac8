import type { Agent as HttpAgent } from 'node:http';
import type { Readable } from 'node:stream';
import axios, { AxiosError, type AxiosInstance, type AxiosResponse } from 'axios';
import { z } from 'zod';
import { RetryableError, PermanentError } from '../domain/errors';
import { silentLogger, type Logger } from '../logger';
import type { BlobStore } from '../ports/blobStore';
import type { AvatarProvider, MediaRef, VideoState } from '../ports/avatarProvider';
import { retryAfterMs } from '../time';

/** VisionStory's public API base. */
export const VISIONSTORY_DEFAULT_BASE_URL = 'https://openapi.visionstory.ai';

/** The API's input limits (DESIGN.md): checked before we send inline data. */
export const VISIONSTORY_MAX_IMAGE_BYTES = 10 * 1024 * 1024;
export const VISIONSTORY_MAX_AUDIO_BYTES = 30 * 1024 * 1024;

/** Options of {@link VisionStoryProvider}. Only `apiKey` and `blobs` are required. */
export interface VisionStoryProviderOptions {
  /** Sent as `X-API-Key`; never logged, never put into an error. */
  apiKey: string;
  /** Defaults to {@link VISIONSTORY_DEFAULT_BASE_URL}; point it at the simulator for local runs. */
  baseUrl?: string;
  /** Where the job's inputs live; the provider reads them by signed URL or inline. */
  blobs: BlobStore;
  /** Limit on every HTTP call, in milliseconds (default 30000). */
  timeoutMs?: number;
  /** Lifetime of the signed input URLs handed to VisionStory (default 3600 s). */
  signedUrlTtlSec?: number;
  /** `model_id` of POST /api/v1/video (default `vs_character_v4`). */
  modelId?: string;
  /** `aspect_ratio` (default `9:16`, the phone-first shape of the app). */
  aspectRatio?: string;
  /** `resolution` (default `720p`). */
  resolution?: string;
  /** `emotion`; left out of the request when not set, so the provider's default applies. */
  emotion?: string;
  logger?: Logger;
  /** Keep-alive agent or a test agent; used for both API calls and video downloads. */
  httpAgent?: HttpAgent;
}

// ---- What the API promises (validated; anything else is `provider_bad_response`). ----

// Ids are strings: VisionStory ids are 19-digit numbers that a JS number would silently round.
const idString = z.string().min(1);

const avatarAnswer = z.object({ data: z.object({ avatar_id: idString }) });
const videoCreateAnswer = z.object({ data: z.object({ video_id: idString }) });
const videoStatusAnswer = z.object({
  data: z
    .object({
      status: z.enum(['queued', 'creating', 'created', 'failed']),
      video_url: z.url().optional().nullable(),
      duration: z.number().nonnegative().optional().nullable(),
      // The failure's wording is not part of the documented shape; take whichever is there.
      error_message: z.string().optional().nullable(),
      fail_reason: z.string().optional().nullable(),
      message: z.string().optional().nullable(),
    })
    .refine((d) => d.status !== 'created' || !!d.video_url, {
      message: 'status "created" without a video_url',
      path: ['video_url'],
    }),
});
const errorAnswer = z.object({
  error: z.object({ message: z.string(), hint: z.string().optional().nullable() }),
});

type Endpoint = 'create_avatar' | 'create_video' | 'get_video' | 'open_video';

/**
 * AvatarProvider over VisionStory's HTTP API (axios).
 *
 * Error mapping: network errors, timeouts, 5xx → RetryableError `provider_unavailable`;
 * 429 → `provider_rate_limited` with `retryAfterSec` from Retry-After; 409 →
 * `provider_in_progress` (the same `client_request_id` is still being processed). Any other
 * 4xx → PermanentError `provider_rejected` carrying the provider's message and hint. An answer
 * that is not the promised shape → PermanentError `provider_bad_response` with the zod issues
 * in `detail`. Axios errors are never attached as `cause`: they hold the request config, and
 * with it the X-API-Key header, which would reach the logs through any error serializer.
 */
export class VisionStoryProvider implements AvatarProvider {
  readonly name = 'visionstory';

  private readonly api: AxiosInstance;
  private readonly download: AxiosInstance;
  private readonly blobs: BlobStore;
  private readonly timeoutMs: number;
  private readonly signedUrlTtlSec: number;
  private readonly modelId: string;
  private readonly aspectRatio: string;
  private readonly resolution: string;
  private readonly emotion?: string;
  private readonly logger: Logger;
  /** Avatars this instance already made, by idempotency key (see createAvatar). */
  private readonly recentAvatars = new Map<string, string>();

  constructor(options: VisionStoryProviderOptions) {
    if (!options.apiKey) throw new Error('VisionStoryProvider needs an apiKey');
    this.blobs = options.blobs;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.signedUrlTtlSec = options.signedUrlTtlSec ?? 3600;
    this.modelId = options.modelId ?? 'vs_character_v4';
    this.aspectRatio = options.aspectRatio ?? '9:16';
    this.resolution = options.resolution ?? '720p';
    this.emotion = options.emotion;
    this.logger = options.logger ?? silentLogger;
    this.api = axios.create({
      baseURL: (options.baseUrl ?? VISIONSTORY_DEFAULT_BASE_URL).replace(/\/+$/, ''),
      timeout: this.timeoutMs,
      headers: { 'X-API-Key': options.apiKey, Accept: 'application/json' },
      httpAgent: options.httpAgent,
      // We map every status ourselves; axios must not throw (its errors carry the headers).
      validateStatus: () => true,
      // Inline audio can be 30 MB, i.e. 40 MB of base64.
      maxBodyLength: 64 * 1024 * 1024,
      maxContentLength: 1024 * 1024,
      maxRedirects: 0,
      // A JSON body that does not parse must reach zod as text, not throw inside axios.
      transitional: { silentJSONParsing: true, forcedJSONParsing: true, clarifyTimeoutError: true },
    });
    // The video URL is on VisionStory's storage or CDN, not the API: never send it the key.
    this.download = axios.create({
      timeout: this.timeoutMs,
      httpAgent: options.httpAgent,
      validateStatus: () => true,
      transitional: { clarifyTimeoutError: true },
    });
  }

  /**
   * POST /api/v1/avatar. Idempotency: this endpoint takes no `client_request_id`, and we do not
   * send one (an unknown field could turn every call into a 400). Duplicates are kept rare
   * instead: the pipeline saves the returned avatarId in the same transition that advances the
   * step, so only a step whose answer was lost (timeout after VisionStory acted, a crash before
   * the transition) calls again; a retry on this same instance reuses the avatar remembered by
   * key below. A duplicate that still slips through costs one unused avatar, not a video render.
   */
  async createAvatar(image: MediaRef, idempotencyKey: string): Promise<{ avatarId: string }> {
    const remembered = this.recentAvatars.get(idempotencyKey);
    if (remembered) return { avatarId: remembered };
    const source = await this.mediaSource(image, VISIONSTORY_MAX_IMAGE_BYTES, 'image');
    const body = 'url' in source ? { img_url: source.url } : { inline_data: source.inline };
    const res = await this.call('create_avatar', () => this.api.post('/api/v1/avatar', body));
    const parsed = this.parse('create_avatar', res, avatarAnswer);
    this.remember(idempotencyKey, parsed.data.avatar_id);
    return { avatarId: parsed.data.avatar_id };
  }

  /** POST /api/v1/video with `client_request_id` = idempotencyKey, so a retry finds the same video. */
  async createVideo(avatarId: string, audio: MediaRef, idempotencyKey: string): Promise<{ videoId: string }> {
    const source = await this.mediaSource(audio, VISIONSTORY_MAX_AUDIO_BYTES, 'audio');
    const body: Record<string, unknown> = {
      model_id: this.modelId,
      avatar_id: avatarId,
      aspect_ratio: this.aspectRatio,
      resolution: this.resolution,
      audio_script: 'url' in source ? { audio_url: source.url } : { inline_data: source.inline },
      client_request_id: idempotencyKey,
    };
    if (this.emotion) body.emotion = this.emotion;
    const res = await this.call('create_video', () => this.api.post('/api/v1/video', body));
    const parsed = this.parse('create_video', res, videoCreateAnswer);
    return { videoId: parsed.data.video_id };
  }

  /** GET /api/v1/video?video_id=: queued→queued, creating→running, created→done, failed→failed. */
  async getVideo(videoId: string): Promise<VideoState> {
    const res = await this.call('get_video', () => this.api.get('/api/v1/video', { params: { video_id: videoId } }));
    const { data } = this.parse('get_video', res, videoStatusAnswer);
    switch (data.status) {
      case 'queued':
        return { state: 'queued', providerStatus: data.status };
      case 'creating':
        return { state: 'running', providerStatus: data.status };
      case 'created':
        return { state: 'done', providerStatus: data.status, url: data.video_url as string, durationSec: data.duration ?? null };
      case 'failed':
        return {
          state: 'failed',
          providerStatus: data.status,
          reason: data.error_message || data.fail_reason || data.message || 'VisionStory reported the render as failed',
        };
    }
  }

  /**
   * Streams the finished video. VisionStory keeps files about 7 days, so 404/410 here is
   * PermanentError `provider_video_expired`, not something a retry can fix.
   */
  async openVideo(url: string): Promise<Readable> {
    const res = await this.call('open_video', () => this.download.get<Readable>(url, { responseType: 'stream' }));
    if (res.status >= 200 && res.status < 300) return res.data;
    res.data.resume(); // drain and free the socket; the body of an error page is of no use
    if (res.status === 404 || res.status === 410) {
      throw new PermanentError('provider_video_expired', `The provider no longer has the video (HTTP ${res.status})`);
    }
    throw this.statusError('open_video', res.status, res.headers['retry-after'], null);
  }

  // ---- internals ----

  /** Runs one HTTP call, logging it without headers and turning transport failures into RetryableError. */
  private async call<T>(endpoint: Endpoint, send: () => Promise<AxiosResponse<T>>): Promise<AxiosResponse<T>> {
    const started = Date.now();
    let res: AxiosResponse<T>;
    try {
      res = await send();
    } catch (err) {
      const { code, message } = transportFailure(err);
      if (code === 'too_large') {
        throw new PermanentError('provider_bad_response', `VisionStory ${endpoint} answered more than an API answer can be`, {
          detail: { endpoint, message },
        });
      }
      this.logger.warn({ provider: this.name, endpoint, failure: code, ms: Date.now() - started }, `VisionStory ${endpoint} failed: ${message}`);
      throw new RetryableError(
        code === 'timeout' ? 'provider_timeout' : 'provider_unavailable',
        `VisionStory ${endpoint} ${code === 'timeout' ? `timed out after ${this.timeoutMs} ms` : `could not be reached: ${message}`}`,
        { detail: { endpoint, failure: code, message } },
      );
    }
    this.logger.debug({ provider: this.name, endpoint, status: res.status, ms: Date.now() - started }, `VisionStory ${endpoint} answered ${res.status}`);
    return res;
  }

  /** Validates a 2xx answer against its schema; maps every other status to the error taxonomy. */
  private parse<S extends z.ZodType>(endpoint: Endpoint, res: AxiosResponse, schema: S): z.infer<S> {
    if (res.status < 200 || res.status >= 300) {
      throw this.statusError(endpoint, res.status, res.headers['retry-after'], res.data);
    }
    const result = schema.safeParse(res.data);
    if (!result.success) {
      const detail = { endpoint, status: res.status, issues: result.error.issues, body: preview(res.data) };
      this.logger.error({ provider: this.name, ...detail }, `VisionStory ${endpoint} answered an unexpected shape`);
      throw new PermanentError(
        'provider_bad_response',
        `VisionStory ${endpoint} answered in a shape its API does not promise: ${z.prettifyError(result.error).replace(/\s+/g, ' ')}`,
        { detail },
      );
    }
    return result.data;
  }

  private statusError(endpoint: Endpoint, status: number, retryAfter: unknown, body: unknown): Error {
    const problem = errorAnswer.safeParse(body);
    const said = problem.success
      ? problem.data.error.message + (problem.data.error.hint ? ` (hint: ${problem.data.error.hint})` : '')
      : '';
    const detail = { endpoint, status, body: preview(body) };
    const suffix = said ? `: ${said}` : '';
    if (status === 429) {
      return new RetryableError('provider_rate_limited', `VisionStory is rate limiting ${endpoint}${suffix}`, {
        retryAfterSec: parseRetryAfter(retryAfter),
        detail,
      });
    }
    if (status === 409) {
      // Same client_request_id still being processed: retry later with the same key.
      return new RetryableError('provider_in_progress', `VisionStory is still processing this request${suffix}`, {
        retryAfterSec: parseRetryAfter(retryAfter) ?? 5,
        detail,
      });
    }
    if (status >= 500 || status === 408) {
      return new RetryableError('provider_unavailable', `VisionStory ${endpoint} answered HTTP ${status}${suffix}`, {
        retryAfterSec: parseRetryAfter(retryAfter),
        detail,
      });
    }
    if (status >= 300 && status < 400) {
      return new PermanentError('provider_bad_response', `VisionStory ${endpoint} answered a redirect (HTTP ${status})`, { detail });
    }
    return new PermanentError('provider_rejected', `VisionStory rejected ${endpoint} (HTTP ${status})${suffix}`, { detail });
  }

  /**
   * How VisionStory gets an input: a signed URL when the blob store can make one (GCS), else
   * the bytes inline as base64 (the local store has no public URLs).
   */
  private async mediaSource(
    media: MediaRef,
    maxBytes: number,
    kind: 'image' | 'audio',
  ): Promise<{ url: string } | { inline: { mime_type: string; data: string } }> {
    const url = await this.blobs.signedReadUrl(media.key, this.signedUrlTtlSec);
    if (url) return { url };
    const stream = await this.blobs.openRead(media.key);
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        stream.destroy();
        throw new PermanentError('media_too_large', `The ${kind} is larger than VisionStory's limit of ${maxBytes} bytes`);
      }
      chunks.push(chunk);
    }
    return { inline: { mime_type: media.contentType, data: Buffer.concat(chunks).toString('base64') } };
  }

  private remember(key: string, avatarId: string): void {
    this.recentAvatars.set(key, avatarId);
    // Bounded: only a quick retry on the same instance needs it.
    if (this.recentAvatars.size > 1000) {
      const oldest = this.recentAvatars.keys().next().value as string;
      this.recentAvatars.delete(oldest);
    }
  }
}

/** Retry-After as seconds: either delta-seconds or an HTTP date. Undefined when absent or unreadable. */
export function parseRetryAfter(value: unknown, now: number = Date.now()): number | undefined {
  const ms = retryAfterMs(value, now);
  return ms === undefined ? undefined : Math.ceil(ms / 1000);
}

/** A log-safe name for a transport failure (no config, no headers). */
function transportFailure(err: unknown): { code: string; message: string } {
  if (err instanceof AxiosError) {
    const timedOut = err.code === 'ETIMEDOUT' || err.code === 'ECONNABORTED' || /timeout/i.test(err.message);
    if (/maxContentLength/.test(err.message)) return { code: 'too_large', message: err.message };
    return { code: timedOut ? 'timeout' : (err.code ?? 'network'), message: err.message };
  }
  if (err instanceof Error) return { code: 'network', message: err.message };
  return { code: 'network', message: String(err) };
}

/** The start of a body, for logs: enough to see what came back, never a whole video. */
function preview(body: unknown): unknown {
  if (body === undefined || body === null) return body;
  const text = typeof body === 'string' ? body : safeJson(body);
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
