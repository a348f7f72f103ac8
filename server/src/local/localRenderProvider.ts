import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RetryableError, PermanentError, NotFoundError } from '../domain/errors';
import { silentLogger, type Logger } from '../logger';
import type { BlobStore } from '../ports/blobStore';
import type { AvatarProvider, MediaRef, VideoCaption, VideoState } from '../ports/avatarProvider';
import { findCaptionFont, loudness, sceneArgs, sceneSize, segmentSeconds, wrapText, type SceneInput } from './avatarScene';
import { FfmpegError, probeMedia, runFfmpeg } from './ffmpeg';

/** Options of {@link LocalRenderProvider}. */
export interface LocalRenderProviderOptions {
  blobs: BlobStore;
  workDir: string;
  /**
   * Artificial provider latency: getVideo reports queued/running until at least this long after
   * createVideo, even when the render has finished, so polling can be watched. Default 0.
   */
  latencyMs?: number;
  /** Renders running at once; the rest wait in order. Default 1 (the machines have 2 cores). */
  maxConcurrentRenders?: number;
  /** A render (or photo normalisation) running longer than this is killed and failed. Default 30 min. */
  renderTimeoutMs?: number;
  logger?: Logger;
}

/** The render's state as persisted in `videos/<videoId>.json`. */
interface RenderRecord {
  videoId: string;
  avatarId: string;
  audio: MediaRef;
  /** Name and bio for the lower third (absent in records of older versions). */
  caption?: VideoCaption;
  state: 'queued' | 'running' | 'done' | 'failed';
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationSec: number | null;
  reason: string | null;
  /** How many times a render was started (more than one after a restart). */
  attempts: number;
}

/** The photo is fitted to the video's size, at most 720p: 1280 on the long side, 720 on the short. */
const MAX_SIDE = 1280;
const SHORT_SIDE = 720;
/** Codecs ffprobe reports for still pictures we accept. */
const IMAGE_CODECS = new Set(['mjpeg', 'jpeg2000', 'png', 'webp', 'bmp', 'tiff', 'gif', 'hevc']);
/** Sample rate the voice is read at to measure its loudness. */
const LEVEL_SAMPLE_RATE = 8000;
const URL_SCHEME = 'local-render://';
const VIDEO_ID = /^vid_[0-9a-f]{16}$/;

function shortHash(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 16);
}

function ffmpegReason(err: unknown): string {
  if (err instanceof FfmpegError) {
    const lastLine = err.stderrTail.split('\n').filter(Boolean).pop();
    return lastLine ? `${err.message} (${lastLine})`.slice(0, 500) : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * The AvatarProvider of the local stack: no AI, no network. The "avatar" is the photo itself,
 * fitted to the video's size; the "video" is that photo brought to life for the length of the
 * audio (a slow zoom and sway, a lean-in and nod with the voice's loudness, a lower third with
 * the speaker's name and bio over a live waveform, fades; see avatarScene.ts), rendered by
 * ffmpeg into a real H.264 + AAC MP4 on one core. It behaves like VisionStory where the pipeline can tell:
 * ids come back at once, the video is made in the background, getVideo answers with
 * VisionStory's status words, and the same idempotency key never makes a second avatar or
 * video.
 *
 * Everything lives under `workDir`:
 * - `avatars/<avatarId>.jpg`: the normalised photo;
 * - `videos/<videoId>.json`: the render's state, so a new instance on the same directory (a
 *   restarted process) answers getVideo the same and restarts renders that were cut off;
 * - `videos/<videoId>.mp4`: the finished video.
 *
 * One provider instance per workDir at a time: a second live instance would restart the first
 * one's running renders.
 */
export class LocalRenderProvider implements AvatarProvider {
  readonly name = 'local-render';

  private readonly blobs: BlobStore;
  private readonly workDir: string;
  private readonly avatarsDir: string;
  private readonly videosDir: string;
  private readonly tmpDir: string;
  private readonly latencyMs: number;
  private readonly maxConcurrent: number;
  private readonly renderTimeoutMs: number;
  private readonly log: Logger;

  /** Known renders (loaded lazily from disk). */
  private readonly records = new Map<string, RenderRecord>();
  /** Calls in flight per id, so two concurrent calls with one key do the work once. */
  private readonly inFlight = new Map<string, Promise<unknown>>();
  /** Renders waiting for a slot, in arrival order. */
  private readonly waiting: string[] = [];
  /** Renders running now, with the controller that kills their ffmpeg. */
  private readonly running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  /** Every abort controller in use (renders and photo normalisation), for close(). */
  private readonly controllers = new Set<AbortController>();
  private recovery: Promise<void> | null = null;
  private closed = false;

  constructor(options: LocalRenderProviderOptions) {
    this.blobs = options.blobs;
    this.workDir = path.resolve(options.workDir);
    this.avatarsDir = path.join(this.workDir, 'avatars');
    this.videosDir = path.join(this.workDir, 'videos');
    this.tmpDir = path.join(this.workDir, 'tmp');
    this.latencyMs = Math.max(0, options.latencyMs ?? 0);
    this.maxConcurrent = Math.max(1, options.maxConcurrentRenders ?? 1);
    this.renderTimeoutMs = options.renderTimeoutMs ?? 30 * 60_000;
    this.log = options.logger ?? silentLogger;
  }

  /**
   * Checks that the photo decodes and stores it as a JPEG with even sides, at most 1280 px on
   * the long side (libx264 with yuv420p needs even dimensions). The id is derived from the key,
   * so a repeated call returns the same id without work.
   */
  async createAvatar(image: MediaRef, idempotencyKey: string): Promise<{ avatarId: string }> {
    this.assertOpen();
    await this.ready();
    const avatarId = `av_${shortHash(idempotencyKey)}`;
    await this.once(avatarId, () => this.makeAvatar(avatarId, image));
    return { avatarId };
  }

  /**
   * Records a render and starts it in the background: it answers in milliseconds, whatever the
   * length of the audio. The same key returns the same id and never renders twice.
   */
  async createVideo(avatarId: string, audio: MediaRef, idempotencyKey: string, caption?: VideoCaption): Promise<{ videoId: string }> {
    this.assertOpen();
    await this.ready();
    const videoId = `vid_${shortHash(idempotencyKey)}`;
    await this.once(videoId, async () => {
      if (await this.loadRecord(videoId)) return;
      if (!(await exists(this.avatarPath(avatarId)))) {
        throw new PermanentError('avatar_not_found', `No avatar ${avatarId} in the local render provider`);
      }
      const record: RenderRecord = {
        videoId,
        avatarId,
        audio: { key: audio.key, contentType: audio.contentType },
        ...(caption ? { caption: { instructorName: caption.instructorName, instructorBio: caption.instructorBio } } : {}),
        state: 'queued',
        createdAt: new Date().toISOString(),
        startedAt: null,
        finishedAt: null,
        durationSec: null,
        reason: null,
        attempts: 0,
      };
      await this.saveRecord(record);
      this.log.info({ videoId, avatarId }, 'local render queued');
      this.schedule(videoId);
    });
    return { videoId };
  }

  /**
   * The render's state in VisionStory's words (queued, creating, created, failed). With
   * `latencyMs`, a render younger than that reads as queued or creating even when finished.
   */
  async getVideo(videoId: string): Promise<VideoState> {
    await this.ready();
    const record = VIDEO_ID.test(videoId) ? await this.loadRecord(videoId) : null;
    if (!record) throw new PermanentError('video_not_found', `No video ${videoId} in the local render provider`);
    const age = Date.now() - Date.parse(record.createdAt);
    const held = age < this.latencyMs;
    switch (record.state) {
      case 'queued':
        return { state: 'queued', providerStatus: 'queued' };
      case 'running':
        return this.latencyMs > 0
          ? { state: 'running', providerStatus: 'creating', percent: this.heldPercent(age) }
          : { state: 'running', providerStatus: 'creating' };
      case 'done':
        if (held) return { state: 'running', providerStatus: 'creating', percent: this.heldPercent(age) };
        return { state: 'done', providerStatus: 'created', url: `${URL_SCHEME}${videoId}`, durationSec: record.durationSec };
      case 'failed':
        if (held) return { state: 'running', providerStatus: 'creating', percent: this.heldPercent(age) };
        return { state: 'failed', providerStatus: 'failed', reason: record.reason ?? 'render failed' };
    }
  }

  /** A read stream of the finished MP4 named by a `local-render://<videoId>` url. */
  async openVideo(url: string): Promise<Readable> {
    const videoId = url.startsWith(URL_SCHEME) ? url.slice(URL_SCHEME.length) : '';
    if (!VIDEO_ID.test(videoId)) throw new PermanentError('video_not_found', `Not a local render url: ${url}`);
    const file = this.videoPath(videoId);
    if (!(await exists(file))) throw new PermanentError('video_not_found', `No finished video ${videoId}`);
    return createReadStream(file);
  }

  /** Stops the render if it is running and deletes the avatar photo, the record and the video. */
  async deleteMedia(ids: { avatarId: string | null; videoId: string | null }): Promise<void> {
    const { avatarId, videoId } = ids;
    if (videoId && VIDEO_ID.test(videoId)) {
      const queued = this.waiting.indexOf(videoId);
      if (queued >= 0) this.waiting.splice(queued, 1);
      const running = this.running.get(videoId);
      if (running) {
        running.controller.abort();
        await running.done.catch(() => undefined);
      }
      await this.inFlight.get(videoId)?.catch(() => undefined);
      this.records.delete(videoId);
      await fs.rm(this.recordPath(videoId), { force: true });
      await fs.rm(this.videoPath(videoId), { force: true });
    }
    if (avatarId) {
      await this.inFlight.get(avatarId)?.catch(() => undefined);
      await fs.rm(this.avatarPath(avatarId), { force: true });
    }
  }

  /**
   * Kills running ffmpeg processes and waits for them to exit. Their records stay queued or
   * running on disk, so the next instance on this workDir restarts them.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.waiting.length = 0;
    for (const controller of this.controllers) controller.abort();
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
    await Promise.allSettled([...this.inFlight.values()]);
  }

  // ---- avatars -------------------------------------------------------------------------

  private avatarPath(avatarId: string): string {
    if (!/^av_[0-9a-f]{16}$/.test(avatarId)) return path.join(this.avatarsDir, '__invalid__');
    return path.join(this.avatarsDir, `${avatarId}.jpg`);
  }

  private async makeAvatar(avatarId: string, image: MediaRef): Promise<void> {
    const target = this.avatarPath(avatarId);
    if (await exists(target)) return;
    await fs.mkdir(this.avatarsDir, { recursive: true });
    const input = await this.materialise(image);
    const temp = path.join(this.avatarsDir, `${avatarId}.${randomUUID()}.part.jpg`);
    const controller = this.track(new AbortController());
    try {
      const info = await probeMedia(input.path, { signal: controller.signal, timeoutMs: 30_000 }).catch((err: unknown) => {
        throw this.mediaError(err, 'The photo is not an image that can be decoded');
      });
      const picture = info.streams.find((s) => s.codecType === 'video');
      // ffprobe happily reads a text file as "tty" ANSI-art video: insist on a picture codec.
      if (!picture || !IMAGE_CODECS.has(picture.codecName) || !picture.width || !picture.height) {
        this.log.warn({ avatarId, format: info.formatName, codec: picture?.codecName }, 'photo is not a supported picture');
        throw new PermanentError('bad_media', 'The photo is not a picture in a supported format.');
      }
      await runFfmpeg(
        [
          '-y',
          '-i',
          input.path,
          '-frames:v',
          '1',
          // Fit inside 1280×720 (720×1280 upright) without upscaling, the video's own size, then
          // round both sides down to even numbers.
          '-vf',
          `scale=w='if(gte(iw,ih),min(${MAX_SIDE},iw),min(${SHORT_SIDE},iw))':h='if(gte(iw,ih),min(${SHORT_SIDE},ih),min(${MAX_SIDE},ih))':force_original_aspect_ratio=decrease,scale=w='trunc(iw/2)*2':h='trunc(ih/2)*2'`,
          '-q:v',
          '2',
          '-f',
          'image2',
          temp,
        ],
        { signal: controller.signal, timeoutMs: Math.min(this.renderTimeoutMs, 60_000) },
      ).catch((err: unknown) => {
        throw this.mediaError(err, 'The photo could not be decoded');
      });
      await fs.rename(temp, target);
      this.log.info({ avatarId, width: picture.width, height: picture.height }, 'local avatar stored');
    } finally {
      this.controllers.delete(controller);
      await fs.rm(temp, { force: true });
      await input.cleanup();
    }
  }

  /**
   * Bad media is permanent; a timeout, an abort or a missing binary may pass on retry. The
   * message is a sentence for a person: ffmpeg's words (paths, its output) go to the log only.
   */
  private mediaError(err: unknown, message: string): Error {
    if (err instanceof PermanentError || err instanceof RetryableError) return err;
    this.log.warn({ message: `${message}: ${ffmpegReason(err)}` });
    if (err instanceof FfmpegError && (err.timedOut || err.aborted || err.exitCode === null)) {
      return new RetryableError('render_unavailable', `${message}; it will be tried again`, { cause: err });
    }
    return new PermanentError('bad_media', `${message}.`, { cause: err, detail: ffmpegReason(err) });
  }

  // ---- videos --------------------------------------------------------------------------

  private recordPath(videoId: string): string {
    return path.join(this.videosDir, `${videoId}.json`);
  }

  private videoPath(videoId: string): string {
    return path.join(this.videosDir, `${videoId}.mp4`);
  }

  private async loadRecord(videoId: string): Promise<RenderRecord | null> {
    const known = this.records.get(videoId);
    if (known) return known;
    try {
      const record = JSON.parse(await fs.readFile(this.recordPath(videoId), 'utf8')) as RenderRecord;
      this.records.set(videoId, record);
      return record;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  /** Writes the record to a temporary file and renames it: a crash never leaves half a JSON. */
  private async saveRecord(record: RenderRecord): Promise<void> {
    this.records.set(record.videoId, record);
    await fs.mkdir(this.videosDir, { recursive: true });
    const temp = `${this.recordPath(record.videoId)}.${randomUUID()}.tmp`;
    await fs.writeFile(temp, JSON.stringify(record, null, 2));
    await fs.rename(temp, this.recordPath(record.videoId));
  }

  private schedule(videoId: string): void {
    if (this.closed || this.waiting.includes(videoId) || this.running.has(videoId)) return;
    this.waiting.push(videoId);
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.running.size < this.maxConcurrent && this.waiting.length > 0) {
      const videoId = this.waiting.shift() as string;
      const controller = this.track(new AbortController());
      const done = this.render(videoId, controller)
        .catch((err: unknown) => {
          this.log.error({ videoId, err: ffmpegReason(err) }, 'local render crashed');
        })
        .finally(() => {
          this.controllers.delete(controller);
          this.running.delete(videoId);
          this.pump();
        });
      this.running.set(videoId, { controller, done });
    }
  }

  private async render(videoId: string, controller: AbortController): Promise<void> {
    const record = await this.loadRecord(videoId);
    if (!record || record.state === 'done' || record.state === 'failed') return;
    const started = Date.now();
    await this.saveRecord({ ...record, state: 'running', startedAt: new Date().toISOString(), attempts: record.attempts + 1 });
    const temp = path.join(this.videosDir, `${videoId}.${randomUUID()}.part.mp4`);
    let input: { path: string; cleanup: () => Promise<void> } | null = null;
    let extras: string[] = [];
    try {
      const photo = this.avatarPath(record.avatarId);
      if (!(await exists(photo))) throw new PermanentError('avatar_not_found', `Avatar ${record.avatarId} is gone`);
      input = await this.materialise(record.audio);
      const audioInfo = await probeMedia(input.path, { signal: controller.signal, timeoutMs: 30_000 }).catch((err: unknown) => {
        throw this.mediaError(err, 'The audio is not a sound file that can be decoded');
      });
      const sound = audioInfo.streams.find((s) => s.codecType === 'audio');
      const seconds = sound?.durationSec ?? audioInfo.durationSec;
      if (!sound || !seconds || seconds <= 0) {
        this.log.warn({ videoId, format: audioInfo.formatName }, 'audio has no sound stream with a duration');
        throw new PermanentError('bad_media', 'The recording has no sound that can be played.');
      }
      const scene = await this.prepareScene(videoId, record, photo, input.path, seconds, controller.signal);
      extras = scene.files;
      await runFfmpeg(sceneArgs({ ...scene.input, output: temp }), { signal: controller.signal, timeoutMs: this.renderTimeoutMs }).catch(
        (err: unknown) => {
          throw this.mediaError(err, 'The video could not be rendered');
        },
      );
      await removeAll(extras);
      extras = [];
      // Temporary files go before the state says done, so nobody sees them after it.
      await input.cleanup();
      input = null;
      await fs.rename(temp, this.videoPath(videoId));
      const out = await probeMedia(this.videoPath(videoId), { timeoutMs: 30_000 });
      const current = (await this.loadRecord(videoId)) as RenderRecord;
      await this.saveRecord({
        ...current,
        state: 'done',
        finishedAt: new Date().toISOString(),
        durationSec: out.durationSec,
        reason: null,
      });
      this.log.info({ videoId, renderMs: Date.now() - started, durationSec: out.durationSec }, 'local render done');
    } catch (err) {
      await fs.rm(temp, { force: true });
      await input?.cleanup();
      input = null;
      if (controller.signal.aborted) {
        // close() cut the render off: leave the record queued so the next instance redoes it.
        const current = await this.loadRecord(videoId);
        if (current) await this.saveRecord({ ...current, state: 'queued', startedAt: null });
        return;
      }
      const reason = err instanceof PermanentError || err instanceof RetryableError ? `${err.code}: ${err.message}` : ffmpegReason(err);
      const current = (await this.loadRecord(videoId)) as RenderRecord;
      await this.saveRecord({ ...current, state: 'failed', finishedAt: new Date().toISOString(), reason });
      this.log.warn({ videoId, reason }, 'local render failed');
    } finally {
      await fs.rm(temp, { force: true });
      await input?.cleanup();
      await removeAll(extras);
    }
  }

  /**
   * What the scene needs besides the photo and the voice: the photo's size, the voice's
   * loudness per segment (decoded once to 8 kHz mono), and the caption as UTF-8 text files
   * (drawtext reads them as they are: no escaping of what a person typed).
   */
  private async prepareScene(
    videoId: string,
    record: RenderRecord,
    photo: string,
    audio: string,
    seconds: number,
    signal: AbortSignal,
  ): Promise<{ input: Omit<SceneInput, 'output'>; files: string[] }> {
    await fs.mkdir(this.tmpDir, { recursive: true });
    const base = path.join(this.tmpDir, `${videoId}.${randomUUID()}`);
    const files: string[] = [];
    const photoInfo = await probeMedia(photo, { signal, timeoutMs: 30_000 });
    const picture = photoInfo.streams.find((s) => s.codecType === 'video');
    if (!picture?.width || !picture.height) throw new PermanentError('bad_media', 'The photo could not be read');
    const pcm = `${base}.pcm`;
    files.push(pcm);
    await runFfmpeg(['-y', '-i', audio, '-map', '0:a:0', '-ac', '1', '-ar', String(LEVEL_SAMPLE_RATE), '-f', 's16le', pcm], {
      signal,
      timeoutMs: this.renderTimeoutMs,
    }).catch((err: unknown) => {
      throw this.mediaError(err, 'The audio could not be decoded');
    });
    const segmentSec = segmentSeconds(seconds);
    const levels = loudness(await fs.readFile(pcm), LEVEL_SAMPLE_RATE, segmentSec);

    let caption: SceneInput['caption'] = null;
    const name = record.caption?.instructorName.trim() ?? '';
    const font = name ? findCaptionFont() : null;
    if (name && !font) this.log.warn({ videoId }, 'no font found: the video is made without its lower third');
    if (name && font) {
      const { width } = sceneSize(picture.width, picture.height);
      const short = Math.min(width, sceneSize(picture.width, picture.height).height);
      // Widths in ems of each font size (see the sizes in avatarScene), minus margins and the waveform.
      const nameEms = (width * 0.7) / (short * 0.05);
      const bioEms = (width * 0.7) / (short * 0.032);
      const nameFile = `${base}.name.txt`;
      files.push(nameFile);
      await fs.writeFile(nameFile, wrapText(name, nameEms, 1).join('\n'));
      const bioLines = wrapText(record.caption?.instructorBio ?? '', bioEms, 2);
      let bioFile: string | null = null;
      if (bioLines.length > 0) {
        bioFile = `${base}.bio.txt`;
        files.push(bioFile);
        await fs.writeFile(bioFile, bioLines.join('\n'));
      }
      caption = { nameFile, bioFile, bioLines: bioLines.length, font: font.file };
    }
    return {
      input: { photo, photoWidth: picture.width, photoHeight: picture.height, audio, durationSec: seconds, levels, segmentSec, caption },
      files,
    };
  }

  /** While held by `latencyMs`, a percent that grows with time, so a watcher sees movement. */
  private heldPercent(ageMs: number): number {
    return Math.max(1, Math.min(99, Math.floor((ageMs / this.latencyMs) * 100)));
  }

  // ---- plumbing ------------------------------------------------------------------------

  /**
   * Restarts, once per instance, the renders a previous process left queued or running, and
   * removes the temporary files it left behind.
   */
  private ready(): Promise<void> {
    if (!this.recovery) {
      this.recovery = this.recover().catch((err: unknown) => {
        this.recovery = null;
        throw err;
      });
    }
    return this.recovery;
  }

  private async recover(): Promise<void> {
    let names: string[];
    try {
      names = await fs.readdir(this.videosDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const pending: RenderRecord[] = [];
    for (const name of names) {
      if (name.includes('.part.') || name.endsWith('.tmp')) {
        await fs.rm(path.join(this.videosDir, name), { force: true });
        continue;
      }
      const match = /^(vid_[0-9a-f]{16})\.json$/.exec(name);
      if (!match) continue;
      const record = await this.loadRecord(match[1] as string);
      if (record && (record.state === 'queued' || record.state === 'running')) pending.push(record);
    }
    pending.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    for (const record of pending) {
      this.log.info({ videoId: record.videoId, was: record.state }, 'restarting interrupted local render');
      if (record.state === 'running') await this.saveRecord({ ...record, state: 'queued', startedAt: null });
      this.schedule(record.videoId);
    }
  }

  /** Runs `work` once for concurrent callers with the same id. */
  private async once(id: string, work: () => Promise<void>): Promise<void> {
    const existing = this.inFlight.get(id);
    if (existing) {
      await existing;
      return;
    }
    const promise = work().finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, promise);
    await promise;
  }

  /** A file path ffmpeg can read: the store's own file when it has one, else a temporary copy. */
  private async materialise(media: MediaRef): Promise<{ path: string; cleanup: () => Promise<void> }> {
    if (this.blobs.localPath) {
      const file = this.blobs.localPath(media.key);
      if (!(await exists(file))) throw new NotFoundError('not_found', `No blob at ${media.key}`);
      return { path: file, cleanup: async () => undefined };
    }
    await fs.mkdir(this.tmpDir, { recursive: true });
    const file = path.join(this.tmpDir, randomUUID());
    try {
      await pipeline(await this.blobs.openRead(media.key), createWriteStream(file));
    } catch (err) {
      await fs.rm(file, { force: true });
      throw err;
    }
    return { path: file, cleanup: () => fs.rm(file, { force: true }) };
  }

  private track(controller: AbortController): AbortController {
    this.controllers.add(controller);
    return controller;
  }

  private assertOpen(): void {
    if (this.closed) throw new RetryableError('provider_closed', 'The local render provider is shutting down');
  }
}

async function removeAll(files: string[]): Promise<void> {
  await Promise.all(files.map((f) => fs.rm(f, { force: true })));
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}
