import { fork, type ChildProcess } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { postMultipart as sendMultipart, type MultipartPart } from '../clients/multipart';
import type { AvatarProvider, MediaRef, VideoState } from '../server/src/ports/avatarProvider';

/** One line of the final table. */
export interface BenchRow {
  /** What was measured, e.g. "upload: peak RSS rise". */
  target: string;
  /** The measured figure, already formatted with its unit. */
  measured: string;
  /** The goal, formatted, e.g. "< 64 MB". */
  goal: string;
  /** null: a figure reported for information, with no target of its own. */
  pass: boolean | null;
  /** Extra figures (baseline, counts...) for the JSON report and the notes under the table. */
  detail?: Record<string, unknown>;
}

/** Percentile by nearest rank over a sorted copy; 0 for an empty list. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

export const MB = 1024 * 1024;

export function fmt(n: number, digits = 1): string {
  return n.toFixed(digits);
}

/** Resident set size of a process in bytes, from /proc (Linux). Undefined once it has gone. */
export function readRss(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Samples a process's RSS every `intervalMs` until stopped. Reading /proc from outside costs
 * the measured process nothing, unlike asking it over IPC.
 */
export class RssSampler {
  private timer?: NodeJS.Timeout;
  readonly samples: { t: number; rss: number }[] = [];

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 20,
  ) {}

  start(): this {
    const tick = (): void => {
      const rss = readRss(this.pid);
      if (rss !== undefined) this.samples.push({ t: performance.now(), rss });
    };
    tick();
    this.timer = setInterval(tick, this.intervalMs);
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    const rss = readRss(this.pid);
    if (rss !== undefined) this.samples.push({ t: performance.now(), rss });
  }

  peak(): number {
    return this.samples.reduce((max, s) => Math.max(max, s.rss), 0);
  }
}

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat. */
export function readCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** The 1-minute load average and CPU count: how busy the (shared) machine was. */
export function machineLoad(): { loadAvg1: number; cpus: number } {
  return { loadAvg1: Math.round(os.loadavg()[0]! * 100) / 100, cpus: os.cpus().length };
}

/** Steady RSS: the median of a few samples taken `intervalMs` apart. */
export async function steadyRss(pid: number, count = 10, intervalMs = 20): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < count; i++) {
    const rss = readRss(pid);
    if (rss !== undefined) values.push(rss);
    await sleep(intervalMs);
  }
  return median(values);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A file part of a multipart body, streamed from disk. */
export interface FilePart {
  field: string;
  filename: string;
  contentType: string;
  path: string;
  size: number;
}

/**
 * POSTs a multipart/form-data body through the shared client (clients/multipart.ts): text
 * fields, then files streamed from disk with a precomputed Content-Length, so neither side of
 * the benchmark ever holds a file in memory. Each upload has a connection of its own, as
 * parallel browser uploads do.
 */
export async function postMultipart(
  url: string,
  fields: Record<string, string>,
  files: FilePart[],
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; bytesSent: number }> {
  const parts: MultipartPart[] = [
    ...Object.entries(fields).map(([name, value]) => ({ name, value })),
    ...files.map((f) => ({ name: f.field, filename: f.filename, contentType: f.contentType, path: f.path, bytes: f.size })),
  ];
  // 256 KB reads: the same chunking for both servers, and few syscalls on the client side.
  const { status, body, bytesSent } = await sendMultipart(url, parts, { headers, agent: false, readSize: 256 * 1024 });
  return { status, body, bytesSent };
}

/** A running request timer; see {@link timeRequests}. */
export interface RequestTimer {
  /** Highest number of timed requests in progress at once. */
  maxInFlight: number;
  stop(): void;
}

/**
 * Times every request whose path starts with `pathPrefix` on a Node http server, from the
 * 'request' event (headers parsed) to the response's 'finish': the server-side time of a
 * route, including body parsing, the handler and writing the answer.
 */
export function timeRequests(
  server: http.Server,
  pathPrefix: string,
  onDone: (ms: number, req: http.IncomingMessage, res: http.ServerResponse) => void,
): RequestTimer {
  let inFlight = 0;
  const timer: RequestTimer = { maxInFlight: 0, stop: () => server.off('request', listener) };
  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (!req.url?.startsWith(pathPrefix)) return;
    const start = performance.now();
    inFlight++;
    timer.maxInFlight = Math.max(timer.maxInFlight, inFlight);
    res.once('finish', () => onDone(performance.now() - start, req, res));
    res.once('close', () => inFlight--);
  };
  // Prepended, so the clock starts before Express sees the request.
  server.prependListener('request', listener);
  return timer;
}

/** A small but real MP4-looking stream: the bench never plays it, the blob store just keeps it. */
function tinyVideo(): Readable {
  return Readable.from([Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypisom'), Buffer.alloc(4096)])]);
}

/**
 * A provider that answers at once: it stands in for the paid API so that the benchmark sees
 * our own per-step cost only. `getVideo` says "running" until `isDone(videoId)`.
 */
export class InstantProvider implements AvatarProvider {
  readonly name = 'bench-instant';
  readonly calls = { createAvatar: 0, createVideo: 0, getVideo: 0, openVideo: 0 };

  constructor(private readonly isDone: (videoId: string, getVideoCalls: number) => boolean) {}
  private readonly polls = new Map<string, number>();

  async createAvatar(_image: MediaRef, key: string): Promise<{ avatarId: string }> {
    this.calls.createAvatar++;
    return { avatarId: `avatar-${key}` };
  }

  async createVideo(_avatarId: string, _audio: MediaRef, key: string): Promise<{ videoId: string }> {
    this.calls.createVideo++;
    return { videoId: `video-${key}` };
  }

  async getVideo(videoId: string): Promise<VideoState> {
    this.calls.getVideo++;
    const n = (this.polls.get(videoId) ?? 0) + 1;
    this.polls.set(videoId, n);
    if (this.isDone(videoId, n)) return { state: 'done', providerStatus: 'created', url: `bench://${videoId}`, durationSec: 5 };
    return { state: 'running', providerStatus: 'creating' };
  }

  async openVideo(_url: string): Promise<Readable> {
    this.calls.openVideo++;
    return tinyVideo();
  }
}

/** Removes a directory tree, quietly. */
export async function removeDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
}

/** A benchmark child process that said it is ready. */
export interface Child {
  proc: ChildProcess;
  url: string;
  pid: number;
  /** Anything else the child reported with `ready` (a port, for example). */
  info: Record<string, unknown>;
}

/**
 * Forks a TypeScript file of bench/ (tsx's loader is inherited through execArgv) and waits for
 * it to send `{ready: true, ...}` over IPC.
 */
export function startChild(script: string, env: NodeJS.ProcessEnv): Promise<Child> {
  return new Promise((resolve, reject) => {
    // BENCH_PROFILE=1: each child writes a CPU profile of its whole life when it exits.
    // BENCH_SERVICE_FLAGS: Node/V8 flags for the service's process only (e.g. "--trace-opt").
    const execArgv = [
      ...process.execArgv,
      ...(process.env.BENCH_PROFILE === '1' ? ['--cpu-prof', `--cpu-prof-dir=${path.join(process.cwd(), 'test-artifacts', 'profiles')}`] : []),
      ...(script === 'serviceChild.ts' && process.env.BENCH_SERVICE_FLAGS ? process.env.BENCH_SERVICE_FLAGS.split(' ') : []),
    ];
    const proc = fork(path.join(__dirname, script), [], { env, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const timer = setTimeout(() => reject(new Error(`${script} did not start within 60 s`)), 60_000);
    proc.once('exit', (code) => reject(new Error(`${script} exited with ${code} before it was ready`)));
    proc.on('message', (m: { ready?: boolean; url?: string; pid?: number } & Record<string, unknown>) => {
      if (m?.ready) {
        clearTimeout(timer);
        resolve({ proc, url: m.url ?? '', pid: m.pid ?? proc.pid!, info: m });
      }
    });
  });
}

/** Asks a child to close (IPC 'close'), and kills it if it has not gone within 10 s. */
export function stopChild(child: Child | undefined): Promise<void> {
  if (!child || child.proc.exitCode !== null || child.proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.proc.kill('SIGKILL'), 10_000);
    child.proc.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.proc.send('close');
  });
}

/**
 * CPU profile of this process between start() and stop(), written as a .cpuprofile file
 * (open it in Chrome DevTools) when BENCH_PROFILE=1; otherwise does nothing.
 */
export async function startProfile(name: string): Promise<{ stop(): Promise<string | undefined> }> {
  if (process.env.BENCH_PROFILE !== '1') return { stop: async () => undefined };
  const { Session } = await import('node:inspector');
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object): Promise<any> =>
    new Promise((resolve, reject) => session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 200 });
  await post('Profiler.start');
  return {
    async stop() {
      const { profile } = await post('Profiler.stop');
      session.disconnect();
      const file = path.join(process.cwd(), 'test-artifacts', `bench-${name}.cpuprofile`);
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.writeFile(file, JSON.stringify(profile));
      return file;
    },
  };
}
