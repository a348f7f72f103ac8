import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import path from 'node:path';

/**
 * ffmpeg and ffprobe for the local stack: finding the binaries, running them with a timeout and
 * an abort signal, and reading media facts as JSON.
 *
 * There may be no system ffmpeg (Cloud Run images, CI, a newcomer's laptop), so the binaries
 * that ship inside @ffmpeg-installer/ffmpeg and @ffprobe-installer/ffprobe are the fallback.
 * Note that the bundled ffmpeg is a 2018 static build: it has libx264, aac, libmp3lame and
 * libwebp, but behaves like ffmpeg 4.x (e.g. `-shortest` with a looped image overshoots).
 */

/** What went wrong when ffmpeg or ffprobe did not exit cleanly. */
export class FfmpegError extends Error {
  /** Exit code, or null when the process was killed or could not start. */
  readonly exitCode: number | null;
  /** The last lines ffmpeg wrote to stderr: where it says what it disliked. */
  readonly stderrTail: string;
  readonly timedOut: boolean;
  readonly aborted: boolean;

  constructor(
    message: string,
    details: { exitCode: number | null; stderrTail: string; timedOut?: boolean; aborted?: boolean; cause?: unknown },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'FfmpegError';
    this.exitCode = details.exitCode;
    this.stderrTail = details.stderrTail;
    this.timedOut = details.timedOut ?? false;
    this.aborted = details.aborted ?? false;
  }
}

const resolved = new Map<string, string>();
let preference: 'system' | 'bundled' = 'system';

function isExecutableFile(candidate: string): boolean {
  try {
    accessSync(candidate, fsConstants.X_OK);
    return statSync(candidate).isFile();
  } catch {
    return false;
  }
}

/**
 * Looks `name` up in the directories of `searchPath` the way a shell would, without spawning
 * one. Returns null when it is not there.
 */
export function findOnPath(name: string, searchPath: string | undefined): string | null {
  if (!searchPath) return null;
  const exts = process.platform === 'win32' ? ['.exe', '.cmd', ''] : [''];
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const candidate = path.join(dir, name + ext);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return null;
}

function resolveBinary(name: 'ffmpeg' | 'ffprobe', installerModule: string): string {
  const cached = resolved.get(name);
  if (cached) return cached;
  // PATH is a property of the machine, not application configuration, so it is read here
  // rather than through config.ts. A system build (Debian's) is newer than the bundled one.
  let found = preference === 'system' ? findOnPath(name, process.env.PATH) : null;
  if (!found) {
    try {
      const installed = require(installerModule) as { path: string };
      if (isExecutableFile(installed.path)) found = installed.path;
    } catch {
      found = null;
    }
  }
  if (!found) {
    throw new FfmpegError(`${name} not found on PATH nor in ${installerModule}`, { exitCode: null, stderrTail: '' });
  }
  resolved.set(name, found);
  return found;
}

/**
 * Which build to use from now on: `system` (PATH first, the default) or `bundled` (the one in
 * node_modules even when PATH has one). Lets tests run the same media through both builds.
 */
export function preferFfmpegBuild(build: 'system' | 'bundled'): void {
  preference = build;
  resolved.clear();
}

/** Whether a system ffmpeg and ffprobe are on PATH. */
export function hasSystemFfmpeg(): boolean {
  return findOnPath('ffmpeg', process.env.PATH) !== null && findOnPath('ffprobe', process.env.PATH) !== null;
}

/** Absolute path of the ffmpeg binary: PATH first, else the one bundled in node_modules. */
export function ffmpegPath(): string {
  return resolveBinary('ffmpeg', '@ffmpeg-installer/ffmpeg');
}

/** Absolute path of the ffprobe binary: PATH first, else the one bundled in node_modules. */
export function ffprobePath(): string {
  return resolveBinary('ffprobe', '@ffprobe-installer/ffprobe');
}

export interface RunOptions {
  /** Kill the process (SIGKILL) after this long; default 120 s. */
  timeoutMs?: number;
  /** Aborting kills the process and rejects with an FfmpegError whose `aborted` is true. */
  signal?: AbortSignal;
  /** Keep this many trailing characters of stderr for the error message; default 4000. */
  stderrLimit?: number;
}

export interface RunResult {
  stdout: string;
  stderrTail: string;
}

const DEFAULT_TIMEOUT_MS = 120_000;

function runBinary(binary: string, args: readonly string[], options: RunOptions, keepStdout: boolean): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const stderrLimit = options.stderrLimit ?? 4000;
  const label = path.basename(binary);
  return new Promise<RunResult>((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new FfmpegError(`${label} aborted before start`, { exitCode: null, stderrTail: '', aborted: true }));
      return;
    }
    // stdin is closed: ffmpeg otherwise reads the terminal for keyboard commands and can stall.
    const child = spawn(binary, [...args], { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    let stderr = '';
    const stdoutChunks: Buffer[] = [];
    let timedOut = false;
    let aborted = false;
    let settled = false;

    child.stdout.on('data', (chunk: Buffer) => {
      if (keepStdout) stdoutChunks.push(chunk);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      if (stderr.length > stderrLimit * 2) stderr = stderr.slice(-stderrLimit);
    });

    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    timer.unref();
    const onAbort = () => {
      aborted = true;
      child.kill('SIGKILL');
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const finish = (err: FfmpegError | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      const stderrTail = stderr.slice(-stderrLimit).trim();
      if (err) reject(err);
      else resolve({ stdout: Buffer.concat(stdoutChunks).toString('utf8'), stderrTail });
    };

    child.on('error', (cause) => {
      finish(new FfmpegError(`${label} could not start: ${cause.message}`, { exitCode: null, stderrTail: '', cause }));
    });
    child.on('close', (code, signal) => {
      const stderrTail = stderr.slice(-stderrLimit).trim();
      if (timedOut) {
        finish(new FfmpegError(`${label} timed out after ${timeoutMs} ms`, { exitCode: code, stderrTail, timedOut: true }));
      } else if (aborted) {
        finish(new FfmpegError(`${label} aborted`, { exitCode: code, stderrTail, aborted: true }));
      } else if (code !== 0) {
        const lastLine = stderrTail.split('\n').filter(Boolean).pop() ?? '';
        finish(
          new FfmpegError(`${label} exited with ${code ?? signal}${lastLine ? `: ${lastLine}` : ''}`, {
            exitCode: code,
            stderrTail,
          }),
        );
      } else {
        finish(null);
      }
    });
  });
}

/**
 * Runs ffmpeg with `args` (no shell). `-hide_banner -nostdin -loglevel error` are prepended so
 * stderr holds only what matters. Rejects with an {@link FfmpegError} on a non-zero exit, a
 * timeout or an abort.
 */
export function runFfmpeg(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return runBinary(ffmpegPath(), ['-hide_banner', '-nostdin', '-loglevel', 'error', ...args], options, false);
}

/** One stream as {@link probeMedia} reports it. */
export interface ProbedStream {
  codecType: string;
  codecName: string;
  width?: number;
  height?: number;
  durationSec?: number;
}

/** Media facts from ffprobe. */
export interface MediaInfo {
  /** ffprobe's format name, e.g. `mov,mp4,m4a,3gp,3g2,mj2`, `wav`, `image2`, `png_pipe`. */
  formatName: string;
  /** Container duration; null for still images and streams that do not say. */
  durationSec: number | null;
  streams: ProbedStream[];
}

interface FfprobeJson {
  format?: { format_name?: string; duration?: string };
  streams?: Array<{ codec_type?: string; codec_name?: string; width?: number; height?: number; duration?: string }>;
}

function toSeconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Reads format and streams of the file at `filePath` with `ffprobe -print_format json`.
 * Rejects with an {@link FfmpegError} when ffprobe cannot read the file (not media, corrupt).
 */
export async function probeMedia(filePath: string, options: RunOptions = {}): Promise<MediaInfo> {
  const { stdout } = await runBinary(
    ffprobePath(),
    ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', filePath],
    { timeoutMs: 30_000, ...options },
    true,
  );
  let parsed: FfprobeJson;
  try {
    parsed = JSON.parse(stdout) as FfprobeJson;
  } catch (cause) {
    throw new FfmpegError('ffprobe printed something that is not JSON', { exitCode: 0, stderrTail: stdout.slice(-500), cause });
  }
  if (!parsed.format || !parsed.streams) {
    throw new FfmpegError('ffprobe found no format or streams', { exitCode: 0, stderrTail: '' });
  }
  return {
    formatName: parsed.format.format_name ?? 'unknown',
    durationSec: toSeconds(parsed.format.duration) ?? null,
    streams: parsed.streams.map((s) => {
      const stream: ProbedStream = { codecType: s.codec_type ?? 'unknown', codecName: s.codec_name ?? 'unknown' };
      if (typeof s.width === 'number') stream.width = s.width;
      if (typeof s.height === 'number') stream.height = s.height;
      const d = toSeconds(s.duration);
      if (d !== undefined) stream.durationSec = d;
      return stream;
    }),
  };
}
