import { createHash, randomBytes } from 'node:crypto';
import { sampleRenderSec, type RenderTimeDistribution } from '../src/pipeline/pollForecast';
import { promises as fs, createReadStream } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runFfmpeg, probeMedia } from '../src/adapters/localRender/ffmpeg';

/**
 * A local stand-in for VisionStory's HTTP API (the only fake in the stack: the real one is paid).
 * It serves the same endpoints and shapes as DESIGN.md describes:
 *
 * - `POST /api/v1/avatar` `{img_url}` | `{inline_data: {mime_type, data}}` → `{data: {avatar_id}}`
 * - `POST /api/v1/video` `{model_id, avatar_id, audio_script, client_request_id, ...}` →
 *   `{data: {video_id}}`; 409 while the same client_request_id is still being processed, the same
 *   video_id for a repeated key afterwards
 * - `GET /api/v1/video?video_id=` → `{data: {video_id, status, video_url?}}`, status
 *   `queued` → `creating` → `created` | `failed` over `latencyMs`
 * - `GET /files/<video_id>.mp4`: the rendered MP4 (no key, like a CDN URL)
 *
 * Every API route requires `X-API-Key`; errors are `{error: {message, hint}}`. When a render
 * completes the simulator makes a real MP4 from the avatar's photo and the audio with ffmpeg.
 * URLs in img_url/audio_url are fetched, loopback only (nothing here may reach the internet).
 */

/** Failure injection; see {@link VisionStorySimulator.inject}. */
export interface VisionStoryInjection {
  /** Forced answers for the next API calls, one per call, in order (e.g. `[500, 503]`). */
  nextStatusCodes?: number[];
  /** The next `count` API calls answer 429 with `Retry-After: retryAfterSec`. */
  rateLimitBurst?: { count: number; retryAfterSec: number };
  /** While true, every successful API answer has a shape the API does not promise. */
  badResponse?: boolean;
  /** An outage: every API call answers `status` for the next `forMs` milliseconds (null ends it). */
  outage?: { status: number; forMs: number } | null;
  /** The next `count` API calls wait `delayMs` before they are handled (a slow provider). */
  slow?: { count: number; delayMs: number };
  /** The next `count` API calls are never answered and do nothing (a hung provider); the client must give up. */
  hang?: { count: number };
}

export interface VisionStorySimulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** The key clients must send in X-API-Key. */
  apiKey: string;
  /** Time from a video's creation to `created` (default 1000 ms). */
  latencyMs?: number;
  /** How long POST /api/v1/video takes to answer (default 0): the window in which a repeated key gets 409. */
  createLatencyMs?: number;
  /**
   * Render times drawn per video from lognormal(k × audio seconds, sigma) instead of the fixed
   * `latencyMs`, so schedules can be compared on realistic renders. `random` (default
   * Math.random) makes the draws repeatable. The audio length is read from a WAV header; other
   * formats count as 60 s.
   */
  renderTime?: RenderTimeDistribution & { random?: () => number };
  /** Probability (0..1) that a render ends `failed` (default 0). */
  failureRate?: number;
  /** Make real MP4s with ffmpeg (default true); false serves a few placeholder bytes, for fast tests. */
  render?: boolean;
  inject?: VisionStoryInjection;
}

/** Calls per endpoint, for tests to assert on. */
export interface VisionStoryCalls {
  createAvatar: number;
  createVideo: number;
  getVideo: number;
  downloadVideo: number;
  /** Requests refused for a missing or wrong X-API-Key. */
  unauthorized: number;
  /** Avatars and videos actually made (a repeated client_request_id makes no new video). */
  avatarsMade: number;
  videosMade: number;
  /**
   * What was made, by the SHA-256 (hex) of its input: the photo for an avatar, the audio for a
   * video. A job whose photo or audio appears twice here made a second avatar or video.
   */
  madeBy: { avatars: Record<string, number>; videos: Record<string, number> };
  /**
   * Every avatar made, by photo (sha256): when its request started, when its connection closed,
   * and whether the whole answer was written before that. VisionStory's avatar call takes no
   * idempotency key, so an avatar whose answer was lost (the caller killed or timed out) is made
   * again by the retried step; these records tell such a loss from a real duplicate.
   */
  avatarCalls: Record<string, { startedMs: number; closedMs: number | null; answered: boolean }[]>;
}

export interface VisionStorySimulator {
  /** e.g. `http://127.0.0.1:45123`: use as VISIONSTORY_API_BASE. */
  baseUrl: string;
  port: number;
  calls: VisionStoryCalls;
  /** Adds failures: status codes are queued after those already queued; the others replace. */
  inject(injection: VisionStoryInjection): void;
  /** Removes the file of a video, so its URL answers 404 as after VisionStory's 7 days. */
  expireVideo(videoId: string): void;
  /** Stops the server and deletes the rendered files. */
  close(): Promise<void>;
}

const MAX_IMAGE_BYTES = 10 * 1024 * 1024;
const MAX_AUDIO_BYTES = 30 * 1024 * 1024;
// Base64 of a 30 MB audio plus the JSON around it.
const MAX_BODY_BYTES = 45 * 1024 * 1024;
const IMAGE_TYPES: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/jpg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/heic': 'heic',
  'image/heif': 'heic',
};
const AUDIO_TYPES: Record<string, string> = {
  'audio/mpeg': 'mp3',
  'audio/mp3': 'mp3',
  'audio/wav': 'wav',
  'audio/x-wav': 'wav',
  'audio/wave': 'wav',
  'audio/mp4': 'm4a',
  'audio/x-m4a': 'm4a',
  'audio/m4a': 'm4a',
};

interface Media {
  bytes: Buffer;
  ext: string;
}

interface Video {
  id: string;
  avatarId: string;
  audio: Media;
  createdAt: number;
  /** This video's time from creation to `created`. */
  latencyMs: number;
  willFail: boolean;
  file?: string;
  renderError?: string;
  expired: boolean;
}

/** Seconds of audio in a PCM WAV (from the header's byte rate and data size); null for other formats. */
export function wavSeconds(bytes: Buffer): number | null {
  if (bytes.length < 44 || bytes.toString('ascii', 0, 4) !== 'RIFF' || bytes.toString('ascii', 8, 12) !== 'WAVE') return null;
  let byteRate = 0;
  for (let at = 12; at + 8 <= bytes.length; ) {
    const id = bytes.toString('ascii', at, at + 4);
    const size = bytes.readUInt32LE(at + 4);
    if (id === 'fmt ' && at + 16 <= bytes.length) byteRate = bytes.readUInt32LE(at + 16);
    if (id === 'data') return byteRate > 0 ? Math.min(size, bytes.length - at - 8) / byteRate : null;
    at += 8 + size + (size % 2);
  }
  return null;
}

/** A 4xx/5xx answer in VisionStory's error shape. */
class ApiProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly hint: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Starts the simulator on `host:port` and resolves once it listens. */
export async function startVisionStorySimulator(options: VisionStorySimulatorOptions): Promise<VisionStorySimulator> {
  const host = options.host ?? '127.0.0.1';
  const latencyMs = options.latencyMs ?? 1000;
  const createLatencyMs = options.createLatencyMs ?? 0;
  const failureRate = options.failureRate ?? 0;
  const render = options.render ?? true;
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'visionstory-sim-'));

  const calls: VisionStoryCalls = {
    createAvatar: 0,
    createVideo: 0,
    getVideo: 0,
    downloadVideo: 0,
    unauthorized: 0,
    avatarsMade: 0,
    videosMade: 0,
    madeBy: { avatars: {}, videos: {} },
    avatarCalls: {},
  };
  const countMade = (kind: 'avatars' | 'videos', bytes: Buffer): void => {
    const key = createHash('sha256').update(bytes).digest('hex');
    calls.madeBy[kind][key] = (calls.madeBy[kind][key] ?? 0) + 1;
  };
  let slow = options.inject?.slow ? { ...options.inject.slow } : undefined;
  let hang = options.inject?.hang ? { ...options.inject.hang } : undefined;
  const hungRequests = new Set<ServerResponse>();
  const statusQueue: number[] = [...(options.inject?.nextStatusCodes ?? [])];
  let burst = options.inject?.rateLimitBurst ? { ...options.inject.rateLimitBurst } : undefined;
  let badResponse = options.inject?.badResponse ?? false;
  let outage: { status: number; untilMs: number } | undefined;
  const startOutage = (o: VisionStoryInjection['outage']): void => {
    outage = o ? { status: o.status, untilMs: Date.now() + o.forMs } : undefined;
  };
  startOutage(options.inject?.outage);

  const avatars = new Map<string, Media>();
  const videos = new Map<string, Video>();
  /** client_request_id → video_id once created, or null while the first request is still being handled. */
  const byRequestId = new Map<string, string | null>();
  const renders = new Map<string, Promise<void>>();
  let baseUrl = '';

  const newId = (): string => BigInt(`0x${randomBytes(8).toString('hex')}`).toString().padStart(19, '1').slice(0, 19);

  async function mediaFrom(source: unknown, kind: 'image' | 'audio', urlField: string): Promise<Media> {
    const types = kind === 'image' ? IMAGE_TYPES : AUDIO_TYPES;
    const maxBytes = kind === 'image' ? MAX_IMAGE_BYTES : MAX_AUDIO_BYTES;
    const allowed = kind === 'image' ? 'jpg, png, webp, heic' : 'mp3, wav, m4a';
    const s = (source ?? {}) as Record<string, unknown>;
    let bytes: Buffer;
    let mime: string;
    if (typeof s[urlField] === 'string') {
      const fetched = await fetchLoopback(s[urlField] as string, maxBytes, kind);
      bytes = fetched.bytes;
      mime = fetched.mime;
    } else if (s.inline_data && typeof s.inline_data === 'object') {
      const inline = s.inline_data as Record<string, unknown>;
      if (typeof inline.mime_type !== 'string' || typeof inline.data !== 'string') {
        throw new ApiProblem(400, 'inline_data needs mime_type and data', 'Send {inline_data: {mime_type, data}} with base64 data');
      }
      mime = inline.mime_type;
      bytes = Buffer.from(inline.data, 'base64');
    } else {
      throw new ApiProblem(400, `Missing ${kind}`, `Send ${urlField} or inline_data`);
    }
    const ext = types[mime.split(';')[0].trim().toLowerCase()];
    if (!ext) throw new ApiProblem(400, `Unsupported ${kind} type ${mime}`, `Use ${allowed}`);
    if (bytes.length === 0) throw new ApiProblem(400, `The ${kind} is empty`, `Send a ${allowed} file`);
    if (bytes.length > maxBytes) throw new ApiProblem(400, `The ${kind} is larger than ${maxBytes} bytes`, `Send a smaller ${kind}`);
    return { bytes, ext };
  }

  async function fetchLoopback(raw: string, maxBytes: number, kind: string): Promise<{ bytes: Buffer; mime: string }> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new ApiProblem(400, `The ${kind} URL is not a URL`, 'Send an absolute http(s) URL');
    }
    // The simulator must never reach the internet: only loopback URLs are fetched.
    if (!['127.0.0.1', 'localhost', '[::1]', '::1'].includes(url.hostname)) {
      throw new ApiProblem(400, `The simulator only fetches loopback URLs, not ${url.hostname}`, 'Serve the file from 127.0.0.1');
    }
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      throw new ApiProblem(400, `Could not download the ${kind}: ${(err as Error).message}`, 'Check that the URL is reachable and not expired');
    }
    if (!res.ok) {
      throw new ApiProblem(400, `Could not download the ${kind}: HTTP ${res.status}`, 'Check that the URL is reachable and not expired');
    }
    const bytes = Buffer.from(await res.arrayBuffer());
    if (bytes.length > maxBytes) throw new ApiProblem(400, `The ${kind} is larger than ${maxBytes} bytes`, `Send a smaller ${kind}`);
    return { bytes, mime: res.headers.get('content-type') ?? 'application/octet-stream' };
  }

  /**
   * VisionStory refuses a photo it cannot use when the avatar is created; the simulator does the
   * same for files that do not decode as an image. HEIC is taken on trust: the bundled ffmpeg
   * cannot read it (a render from one then ends `failed`).
   */
  async function checkPhoto(image: Media): Promise<void> {
    if (image.ext === 'heic') return;
    const file = path.join(workDir, `check-${randomBytes(6).toString('hex')}.${image.ext}`);
    await fs.writeFile(file, image.bytes);
    try {
      const info = await probeMedia(file, { timeoutMs: 30_000 });
      if (!info.streams.some((st) => st.codecType === 'video' && (st.width ?? 0) > 0)) throw new Error('no picture');
    } catch {
      throw new ApiProblem(400, 'The image could not be read as a photo', 'Upload a jpg, png, webp or heic photo of a face');
    } finally {
      await fs.rm(file, { force: true });
    }
  }

  /** Renders photo + audio into an MP4 in the background; the status says `created` once it is there. */
  function startRender(video: Video): void {
    const job = (async () => {
      const file = path.join(workDir, `${video.id}.mp4`);
      if (!render) {
        await fs.writeFile(file, Buffer.from('simulated video bytes, render disabled\n'));
        video.file = file;
        return;
      }
      const avatar = avatars.get(video.avatarId) as Media;
      const imagePath = path.join(workDir, `${video.id}-image.${avatar.ext}`);
      const audioPath = path.join(workDir, `${video.id}-audio.${video.audio.ext}`);
      await fs.writeFile(imagePath, avatar.bytes);
      await fs.writeFile(audioPath, video.audio.bytes);
      try {
        // The bundled 2018 ffmpeg overshoots `-shortest` with a looped image: cut at the audio's length.
        const info = await probeMedia(audioPath, { timeoutMs: 30_000 });
        const seconds = info.durationSec && info.durationSec > 0 ? info.durationSec : 5;
        await runFfmpeg(
          [
            '-y', '-loop', '1', '-framerate', '5', '-i', imagePath, '-i', audioPath,
            '-t', seconds.toFixed(3),
            // x264 with yuv420p needs even dimensions; keep it small, this is a rehearsal.
            '-vf', "scale='min(480,iw)':-2,scale=trunc(iw/2)*2:trunc(ih/2)*2",
            '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'stillimage', '-pix_fmt', 'yuv420p',
            '-c:a', 'aac', '-movflags', '+faststart', file,
          ],
          { timeoutMs: 120_000 },
        );
        video.file = file;
      } catch (err) {
        video.renderError = `could not render the video: ${(err as Error).message.split('\n')[0]}`;
      } finally {
        await fs.rm(imagePath, { force: true });
        await fs.rm(audioPath, { force: true });
      }
    })();
    renders.set(video.id, job);
    job.finally(() => renders.delete(video.id)).catch(() => undefined);
  }

  function statusOf(video: Video): Record<string, unknown> {
    const elapsed = Date.now() - video.createdAt;
    const base = { video_id: video.id, avatar_id: video.avatarId };
    if (elapsed < video.latencyMs / 4) return { ...base, status: 'queued' };
    if (elapsed < video.latencyMs) return { ...base, status: 'creating' };
    if (video.willFail) return { ...base, status: 'failed', error_message: 'Simulated render failure' };
    if (video.renderError) return { ...base, status: 'failed', error_message: video.renderError };
    if (!video.file) return { ...base, status: 'creating' };
    return { ...base, status: 'created', video_url: `${baseUrl}/files/${video.id}.mp4` };
  }

  async function createVideo(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const requestId = typeof body.client_request_id === 'string' && body.client_request_id ? body.client_request_id : null;
    if (requestId !== null && byRequestId.has(requestId)) {
      const existing = byRequestId.get(requestId);
      if (existing === null) {
        throw new ApiProblem(409, 'A request with this client_request_id is still in progress', 'Retry later with the same client_request_id', {
          'Retry-After': '1',
        });
      }
      return { video_id: existing };
    }
    if (requestId !== null) byRequestId.set(requestId, null);
    try {
      if (createLatencyMs > 0) await new Promise((r) => setTimeout(r, createLatencyMs));
      if (typeof body.model_id !== 'string' || !body.model_id) throw new ApiProblem(400, 'model_id is required', 'Use vs_character_v4');
      if (typeof body.avatar_id !== 'string' || !avatars.has(body.avatar_id)) {
        throw new ApiProblem(400, 'Unknown avatar_id', 'Create the avatar first with POST /api/v1/avatar');
      }
      const audio = await mediaFrom(body.audio_script, 'audio', 'audio_url');
      const video: Video = {
        id: newId(),
        avatarId: body.avatar_id,
        audio,
        createdAt: Date.now(),
        latencyMs: options.renderTime
          ? sampleRenderSec(wavSeconds(audio.bytes) ?? 60, options.renderTime, options.renderTime.random ?? Math.random) * 1000
          : latencyMs,
        willFail: Math.random() < failureRate,
        expired: false,
      };
      videos.set(video.id, video);
      calls.videosMade += 1;
      countMade('videos', audio.bytes);
      if (requestId !== null) byRequestId.set(requestId, video.id);
      if (!video.willFail) startRender(video);
      return { video_id: video.id };
    } catch (err) {
      // A refused request does not hold its key: the client may fix it and try again.
      if (requestId !== null) byRequestId.delete(requestId);
      throw err;
    }
  }

  /** Applies injected failures to an authenticated API call; returns true if it answered. */
  function injected(res: ServerResponse): boolean {
    if (outage && Date.now() < outage.untilMs) {
      sendProblem(res, new ApiProblem(outage.status, `Simulated outage (${outage.status})`, 'The service is down; retry later'));
      return true;
    }
    if (burst && burst.count > 0) {
      burst.count -= 1;
      const retryAfter = String(burst.retryAfterSec);
      if (burst.count === 0) burst = undefined;
      sendProblem(res, new ApiProblem(429, 'Too many requests', 'Slow down and retry after the Retry-After delay', { 'Retry-After': retryAfter }));
      return true;
    }
    const status = statusQueue.shift();
    if (status !== undefined) {
      const headers: Record<string, string> = status === 429 ? { 'Retry-After': '1' } : {};
      sendProblem(res, new ApiProblem(status, `Injected failure ${status}`, 'This answer was forced by the simulator', headers));
      return true;
    }
    return false;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedMs = Date.now();
    const url = new URL(req.url ?? '/', 'http://simulator');
    const route = `${req.method} ${url.pathname}`;

    const file = /^\/files\/(\d+)\.mp4$/.exec(url.pathname);
    if (req.method === 'GET' && file) {
      calls.downloadVideo += 1;
      const video = videos.get(file[1]);
      if (!video || video.expired || !video.file) {
        sendJson(res, 404, { error: { message: 'Video not found', hint: 'Videos are kept for 7 days' } });
        return;
      }
      const { size } = await fs.stat(video.file);
      res.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': size });
      createReadStream(video.file).pipe(res);
      return;
    }

    const known = ['POST /api/v1/avatar', 'POST /api/v1/video', 'GET /api/v1/video'];
    if (!known.includes(route)) {
      sendJson(res, 404, { error: { message: `No route ${route}`, hint: 'See the VisionStory API reference' } });
      return;
    }
    if (route === 'POST /api/v1/avatar') calls.createAvatar += 1;
    else if (route === 'POST /api/v1/video') calls.createVideo += 1;
    else calls.getVideo += 1;

    if (req.headers['x-api-key'] !== options.apiKey) {
      calls.unauthorized += 1;
      await drain(req);
      sendProblem(res, new ApiProblem(401, 'Invalid or missing API key', 'Send your key in the X-API-Key header'));
      return;
    }
    if (injected(res)) {
      await drain(req);
      return;
    }
    if (hang && hang.count > 0) {
      hang.count -= 1;
      if (hang.count === 0) hang = undefined;
      // Read the request, then say nothing until the client gives up (or close()).
      await drain(req);
      hungRequests.add(res);
      res.on('close', () => hungRequests.delete(res));
      return;
    }
    if (slow && slow.count > 0) {
      const delayMs = slow.delayMs;
      slow.count -= 1;
      if (slow.count === 0) slow = undefined;
      await new Promise((r) => setTimeout(r, delayMs));
    }

    let data: Record<string, unknown>;
    if (route === 'GET /api/v1/video') {
      const id = url.searchParams.get('video_id');
      const video = id ? videos.get(id) : undefined;
      if (!video) throw new ApiProblem(404, 'Video not found', 'Check the video_id');
      data = statusOf(video);
    } else {
      const body = await readJson(req);
      if (route === 'POST /api/v1/avatar') {
        const image = await mediaFrom(body, 'image', 'img_url');
        await checkPhoto(image);
        const avatarId = newId();
        avatars.set(avatarId, image);
        calls.avatarsMade += 1;
        countMade('avatars', image.bytes);
        const record = { startedMs, closedMs: null as number | null, answered: false };
        (calls.avatarCalls[createHash('sha256').update(image.bytes).digest('hex')] ??= []).push(record);
        res.on('close', () => {
          record.closedMs = Date.now();
          record.answered = res.writableFinished;
        });
        data = { avatar_id: avatarId };
      } else {
        data = await createVideo(body);
      }
    }
    if (badResponse) {
      // Plausible but wrong: the id under another name, the status misspelled.
      sendJson(res, 200, { data: { id: Object.values(data)[0], state: 'done' } });
      return;
    }
    sendJson(res, 200, { data });
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof ApiProblem) sendProblem(res, err);
      else sendJson(res, 500, { error: { message: `Simulator error: ${(err as Error).message}`, hint: 'Retry later' } });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    baseUrl,
    port,
    calls,
    inject(injection) {
      if (injection.nextStatusCodes) statusQueue.push(...injection.nextStatusCodes);
      if (injection.rateLimitBurst) burst = { ...injection.rateLimitBurst };
      if (injection.badResponse !== undefined) badResponse = injection.badResponse;
      if (injection.outage !== undefined) startOutage(injection.outage);
      if (injection.slow) slow = { ...injection.slow };
      if (injection.hang) hang = { ...injection.hang };
    },
    expireVideo(videoId) {
      const video = videos.get(videoId);
      if (video) video.expired = true;
    },
    async close() {
      for (const res of hungRequests) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.allSettled([...renders.values()]);
      await fs.rm(workDir, { recursive: true, force: true });
    },
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendProblem(res: ServerResponse, problem: ApiProblem): void {
  sendJson(res, problem.status, { error: { message: problem.message, hint: problem.hint } }, problem.headers);
}

async function drain(req: IncomingMessage): Promise<void> {
  for await (const _chunk of req) {
    // discard
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > MAX_BODY_BYTES) throw new ApiProblem(413, 'Request body too large', 'Images up to 10 MB, audio up to 30 MB');
    chunks.push(chunk);
  }
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new ApiProblem(400, 'The body is not a JSON object', 'Send Content-Type: application/json');
}
