/**
 * `npm run generate -- --image face.jpg --audio voice.wav [--name N] [--bio B] [--server URL] [--out video.mp4]`
 *
 * Uploads a photo and a voice recording to the avatar video service, follows the job's steps
 * as they happen (Server-Sent Events from GET /jobs/:id/events), and downloads the finished
 * video. Exit status: 0 completed, 1 failed or cancelled (or the server could not be reached),
 * 2 bad usage (unknown flags, missing or unusable files, an upload the server refused).
 *
 * Ctrl-C while a job runs asks "Cancel the job? [y/N]" when stdin is a terminal; without a
 * terminal (a script, CI) the first Ctrl-C cancels the job and exits 1.
 *
 * Progress goes to stderr; stdout gets one line, the path of the saved video.
 */
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import readline from 'node:readline';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { SNIFF_BYTES, sniffAudio, sniffImage } from '../server/src/http/mediaTypes';

const USAGE =
  'usage: npm run generate -- --image FILE --audio FILE [--name NAME] [--bio TEXT] [--server URL] [--out FILE] [--token TOKEN]';

const HELP = `${USAGE}

  --image FILE    the photo: JPEG, PNG, WebP or HEIC, up to 10 MB
  --audio FILE    the voice recording: WAV, MP3 or M4A, up to 30 MB
  --name NAME     the instructor's name (default: from the photo's file name)
  --bio TEXT      a short bio, up to 1000 characters
  --server URL    the service (default http://localhost:8080)
  --out FILE      where to save the video (default ./<jobId>.mp4)
  --token TOKEN   send "Authorization: Bearer TOKEN" (also read from AVATAR_TOKEN)

Exit status: 0 completed, 1 failed or cancelled, 2 bad usage.`;

const LIMITS = { image: 10 * 1024 * 1024, audio: 30 * 1024 * 1024, name: 100, bio: 1000 };

const STEP_LABELS: Record<string, string> = {
  'avatar.create': 'Prepare the avatar',
  'video.create': 'Start the video',
  'video.poll': 'Render the video',
  'video.store': 'Save the video',
  done: 'Done',
};

/** What the command needs from the job document (server/src/ports/jobStore.ts). */
interface JobSnapshot {
  jobId: string;
  status: 'queued' | 'processing' | 'completed' | 'failed' | 'cancelled';
  progress: { currentStep: string; stepNumber: number; totalSteps: number; percent: number; message: string };
  provider: { name: string; providerStatus: string | null; polls: number };
  error: { code: string; message: string } | null;
  createdAt: string;
  completedAt: string | null;
  updatedAt: string;
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

/** Ends the command with an exit status and a message for the person at the terminal. */
class Exit extends Error {
  constructor(
    readonly code: 0 | 1 | 2,
    message: string,
    readonly showUsage = false,
  ) {
    super(message);
  }
}

const err = process.stderr;
const say = (line: string): void => {
  clearLine();
  err.write(`${line}\n`);
};

// ------------------------------------------------------------------ arguments

interface Options {
  image: string;
  audio: string;
  name: string;
  bio: string;
  server: string;
  out?: string;
  token?: string;
}

function parseOptions(argv: string[]): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        image: { type: 'string' },
        audio: { type: 'string' },
        name: { type: 'string' },
        bio: { type: 'string' },
        server: { type: 'string' },
        out: { type: 'string' },
        token: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    // parseArgs says which flag is unknown or lacks its value.
    throw new Exit(2, (e as Error).message, true);
  }
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  if (!values.image) throw new Exit(2, 'missing --image', true);
  if (!values.audio) throw new Exit(2, 'missing --audio', true);
  const name = (values.name ?? nameFromFile(values.image)).trim();
  if (!name) throw new Exit(2, '--name must not be empty', true);
  if (name.length > LIMITS.name) throw new Exit(2, `--name may have at most ${LIMITS.name} characters`, true);
  const bio = (values.bio ?? '').trim();
  if (bio.length > LIMITS.bio) throw new Exit(2, `--bio may have at most ${LIMITS.bio} characters`, true);
  const server = (values.server ?? 'http://localhost:8080').replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new Exit(2, `--server is not a URL: ${server}`, true);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Exit(2, `--server must be http:// or https://`, true);
  return { image: values.image, audio: values.audio, name, bio, server, out: values.out, token: values.token ?? process.env.AVATAR_TOKEN };
}

/** "kim_lee-portrait.jpg" → "kim lee portrait"; "Instructor" when nothing is left. */
function nameFromFile(file: string): string {
  const base = path.basename(file, path.extname(file)).replace(/[_\-.]+/g, ' ').trim();
  return base.slice(0, LIMITS.name) || 'Instructor';
}

interface CheckedFile {
  path: string;
  name: string;
  bytes: number;
  mime: string;
}

/** The server's own checks, made first so a wrong file costs no upload. */
async function checkFile(file: string, kind: 'image' | 'audio'): Promise<CheckedFile> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch {
    throw new Exit(2, `--${kind}: no such file: ${file}`, true);
  }
  if (!stat.isFile()) throw new Exit(2, `--${kind}: not a file: ${file}`, true);
  if (stat.size === 0) throw new Exit(2, `--${kind}: the file is empty: ${file}`);
  if (stat.size > LIMITS[kind]) throw new Exit(2, `--${kind}: ${file} is ${formatBytes(stat.size)}; the limit is ${formatBytes(LIMITS[kind])}`);
  const handle = await fs.open(file, 'r');
  const head = Buffer.alloc(SNIFF_BYTES);
  try {
    await handle.read(head, 0, SNIFF_BYTES, 0);
  } finally {
    await handle.close();
  }
  const type = kind === 'image' ? sniffImage(head) : sniffAudio(head);
  if (!type) {
    const accepted = kind === 'image' ? 'a JPEG, PNG, WebP or HEIC image' : 'a WAV, MP3 or M4A recording';
    throw new Exit(2, `--${kind}: ${file} is not ${accepted} (judged by its contents)`);
  }
  return { path: file, name: path.basename(file), bytes: stat.size, mime: type.mime };
}

// ------------------------------------------------------------------ terminal output

const tty = Boolean(process.stderr.isTTY);
let statusLineShown = false;
/** While "Cancel the job?" waits for an answer, the status line must not draw over it. */
let promptOpen = false;

function clearLine(): void {
  if (tty && statusLineShown) err.write('\r\x1b[2K');
  statusLineShown = false;
}

/** A line that rewrites itself on a terminal; elsewhere it is not printed (logs stay short). */
function statusLine(text: string): void {
  if (!tty || promptOpen) return;
  const width = (process.stderr.columns || 80) - 1;
  err.write(`\r\x1b[2K${text.slice(0, width)}`);
  statusLineShown = true;
}

function bar(fraction: number, width = 24): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} B`;
}

function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

// ------------------------------------------------------------------ HTTP

function authHeaders(options: Options): Record<string, string> {
  return options.token ? { Authorization: `Bearer ${options.token}` } : {};
}

/** The API's error body {success:false, error:{code,message}} in words, whatever came back. */
function errorText(status: number, body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: string; message?: string } };
    if (parsed.error?.message) return `${parsed.error.message} (${parsed.error.code ?? status})`;
  } catch {
    /* not JSON */
  }
  return `HTTP ${status}${body ? `: ${body.slice(0, 200)}` : ''}`;
}

function unreachable(server: string, e: unknown): Exit {
  const code = (e as { code?: string; cause?: { code?: string } }).code ?? (e as { cause?: { code?: string } }).cause?.code;
  return new Exit(1, `cannot reach ${server} (${code ?? (e as Error).message}); is the service running? (npm start)`);
}

/**
 * POST /generate-with-tasks as multipart/form-data, the files streamed from disk with a known
 * Content-Length, counting bytes as they go out for the progress bar.
 */
function upload(
  options: Options,
  image: CheckedFile,
  audio: CheckedFile,
  signal: AbortSignal,
): Promise<{ jobId: string; statusUrl: string }> {
  const boundary = `----avatar-cli-${Math.random().toString(16).slice(2)}${Date.now().toString(16)}`;
  const safeName = (name: string): string => name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const field = (name: string, value: string): Buffer =>
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
  const fileHead = (name: string, file: CheckedFile): Buffer =>
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${safeName(file.name)}"\r\nContent-Type: ${file.mime}\r\n\r\n`,
    );
  const parts: Array<Buffer | CheckedFile> = [
    field('instructorName', options.name),
    field('instructorBio', options.bio),
    fileHead('image', image),
    image,
    Buffer.from('\r\n'),
    fileHead('audio', audio),
    audio,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ];
  const total = parts.reduce((sum, p) => sum + (Buffer.isBuffer(p) ? p.length : p.bytes), 0);

  const url = new URL(`${options.server}/generate-with-tasks`);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(url, {
      method: 'POST',
      signal,
      headers: {
        'Content-Type': `multipart/form-data; boundary=${boundary}`,
        'Content-Length': String(total),
        Accept: 'application/json',
        ...authHeaders(options),
      },
    });
    let sent = 0;
    let lastReported = -1;
    const report = (): void => {
      const percent = Math.floor((sent / total) * 100);
      if (percent === lastReported) return;
      lastReported = percent;
      statusLine(`Uploading ${bar(sent / total)} ${String(percent).padStart(3)}%  ${formatBytes(sent)} / ${formatBytes(total)}`);
    };
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        sent += chunk.length;
        report();
        done(null, chunk);
      },
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 202) {
          const parsed = JSON.parse(body) as { jobId: string; statusUrl: string };
          resolve(parsed);
        } else if (res.statusCode && res.statusCode >= 400 && res.statusCode < 500 && res.statusCode !== 429) {
          reject(new Exit(2, `the server refused the upload: ${errorText(res.statusCode, body)}`));
        } else {
          reject(new Exit(1, `the upload failed: ${errorText(res.statusCode ?? 0, body)}`));
        }
      });
      res.on('error', reject);
    });
    req.on('error', (e) => reject(signal.aborted ? new Exit(1, 'upload stopped; no job was created') : unreachable(options.server, e)));

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

/** Reads `event:`/`data:` blocks from an SSE response body. */
async function* serverSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<{ event: string; data: string }> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let cut: number;
    while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, '');
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length > 0) yield { event, data: data.join('\n') };
    }
  }
}

// ------------------------------------------------------------------ the job

class Watcher {
  private lastLine = '';
  private lastStep = '';
  job: JobSnapshot | null = null;

  show(job: JobSnapshot): void {
    this.job = job;
    const p = job.progress;
    const label = STEP_LABELS[p.currentStep] ?? p.currentStep;
    const provider = [job.provider.name, job.provider.providerStatus].filter(Boolean).join(' ');
    if (p.currentStep !== this.lastStep && p.currentStep !== 'done') {
      this.lastStep = p.currentStep;
      say(`  ${p.stepNumber}/${p.totalSteps} ${label}`);
    }
    const line = `        ${Math.round(p.percent)}%${provider ? ` · ${provider}` : ''}${p.message ? ` · ${p.message}` : ''}`;
    const elapsed = formatDuration(Date.now() - Date.parse(job.createdAt));
    if (tty) {
      statusLine(`${bar(p.percent / 100)} ${String(Math.round(p.percent)).padStart(3)}%  ${elapsed}  ${provider}${p.message ? ` · ${p.message}` : ''}`);
    } else if (line !== this.lastLine) {
      // Without a terminal, a line per change of message or provider status (not per percent).
      say(line);
    }
    this.lastLine = line;
  }
}

/**
 * Follows the job until it ends. The stream may drop (a restart, a proxy); then it reconnects,
 * and the server starts again with the current document.
 */
async function follow(options: Options, jobId: string, watcher: Watcher, signal: AbortSignal): Promise<JobSnapshot> {
  const url = `${options.server}/jobs/${encodeURIComponent(jobId)}/events`;
  let failures = 0;
  let retryMs = 0;
  for (;;) {
    try {
      const res = await fetch(url, { headers: { Accept: 'text/event-stream', ...authHeaders(options) }, signal });
      // A 5xx (a restarting or overloaded server) is worth another try; a 4xx is not.
      if (res.status >= 500) throw new Error(`the server answered ${res.status}`);
      if (!res.ok || !res.body) throw new Exit(1, `cannot follow the job: ${errorText(res.status, await res.text())}`);
      failures = 0;
      for await (const { event, data } of serverSentEvents(res.body)) {
        if (event === 'job') watcher.show(JSON.parse(data) as JobSnapshot);
        if (event === 'end' && watcher.job && TERMINAL.has(watcher.job.status)) return watcher.job;
        // The server is restarting: the stream ends now; reconnect after its hint and resume.
        if (event === 'reconnect') retryMs = Number((JSON.parse(data) as { retryMs?: number }).retryMs) || 1000;
      }
    } catch (e) {
      if (e instanceof Exit || signal.aborted) throw e;
      if (++failures > 5) throw unreachable(options.server, e);
    }
    if (watcher.job && TERMINAL.has(watcher.job.status)) return watcher.job;
    await new Promise((r) => setTimeout(r, Math.max(retryMs, 1000 * failures)));
    retryMs = 0;
  }
}

async function download(options: Options, jobId: string, out: string, signal: AbortSignal): Promise<number> {
  // A redirect (to a signed Cloud Storage URL) is followed; the token is not sent there.
  const res = await fetch(`${options.server}/jobs/${encodeURIComponent(jobId)}/video?download=1`, { headers: authHeaders(options), signal });
  if (!res.ok || !res.body) throw new Exit(1, `the video could not be downloaded: ${errorText(res.status, await res.text())}`);
  const total = Number(res.headers.get('content-length') ?? 0);
  const partial = `${out}.part`;
  let got = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      got += chunk.length;
      if (total) statusLine(`Downloading ${bar(got / total)} ${String(Math.floor((got / total) * 100)).padStart(3)}%  ${formatBytes(got)} / ${formatBytes(total)}`);
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
  clearLine();
  return got;
}

async function cancelJob(options: Options, jobId: string): Promise<string> {
  try {
    const res = await fetch(`${options.server}/jobs/${encodeURIComponent(jobId)}/cancel`, { method: 'POST', headers: authHeaders(options) });
    if (res.status === 202) return 'cancel requested; the job stops at its next step';
    return `the server did not cancel: ${errorText(res.status, await res.text())}`;
  } catch (e) {
    return unreachable(options.server, e).message;
  }
}

/** "Cancel the job? [y/N]" on the terminal; null when the person presses Ctrl-C again. */
function ask(question: string): Promise<string | null> {
  return new Promise((resolve) => {
    clearLine();
    promptOpen = true;
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
    rl.on('SIGINT', () => {
      promptOpen = false;
      rl.close();
      err.write('\n');
      resolve(null);
    });
    rl.question(question, (answer) => {
      promptOpen = false;
      rl.close();
      resolve(answer);
    });
  });
}

// ------------------------------------------------------------------ main

async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  const [image, audio] = [await checkFile(options.image, 'image'), await checkFile(options.audio, 'audio')];

  const controller = new AbortController();
  let jobId: string | null = null;
  let phase: 'upload' | 'follow' | 'download' = 'upload';
  let asking = false;
  // Set when the person decides on Ctrl-C; main() ends with it.
  let interrupted: Exit | null = null;

  process.on('SIGINT', () => {
    if (asking) return; // readline handles Ctrl-C at the prompt
    if (phase === 'upload' || !jobId) {
      interrupted = new Exit(1, 'upload stopped; no job was created');
      controller.abort();
      return;
    }
    if (phase === 'download') {
      interrupted = new Exit(1, `download stopped; the video stays at ${options.server}/jobs/${jobId}/video`);
      controller.abort();
      return;
    }
    const id = jobId;
    if (!process.stdin.isTTY) {
      void cancelJob(options, id).then((text) => {
        interrupted = new Exit(1, `interrupted: ${text}`);
        controller.abort();
      });
      return;
    }
    asking = true;
    void ask(`Cancel the job ${id}? [y/N] `).then(async (answer) => {
      asking = false;
      if (answer === null) {
        interrupted = new Exit(1, `left the job running; follow it at ${options.server}/?job=${id}`);
        controller.abort();
      } else if (/^y(es)?$/i.test(answer.trim())) {
        say(await cancelJob(options, id));
        // Keep following: the stream reports the cancelled state, and the exit is 1.
      } else {
        say('still following the job (Ctrl-C to ask again)');
      }
    });
  });

  try {
    say(`Uploading ${image.name} (${formatBytes(image.bytes)}) and ${audio.name} (${formatBytes(audio.bytes)}) to ${options.server}`);
    const accepted = await upload(options, image, audio, controller.signal);
    jobId = accepted.jobId;
    say(`Job ${jobId} accepted for "${options.name}"; watch it at ${options.server}/?job=${jobId}`);

    phase = 'follow';
    const watcher = new Watcher();
    const job = await follow(options, jobId, watcher, controller.signal);
    const took = formatDuration(Date.parse(job.completedAt ?? job.updatedAt) - Date.parse(job.createdAt));
    if (job.status === 'failed') {
      throw new Exit(1, `the job failed after ${took}: ${job.error?.message ?? 'no reason given'} (${job.error?.code ?? 'unknown'})`);
    }
    if (job.status === 'cancelled') throw new Exit(1, `the job was cancelled after ${took}`);
    say(`Completed in ${took}`);

    phase = 'download';
    const out = path.resolve(options.out ?? `${jobId}.mp4`);
    const bytes = await download(options, jobId, out, controller.signal);
    say(`Saved the video (${formatBytes(bytes)})`);
    process.stdout.write(`${out}\n`);
    return 0;
  } catch (e) {
    if (interrupted) throw interrupted;
    throw e;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      clearLine();
      if (e instanceof Exit) {
        err.write(`generate: ${e.message}\n`);
        if (e.showUsage) err.write(`${USAGE}\n`);
        process.exit(e.code);
      }
      err.write(`generate: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
