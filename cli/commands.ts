/**
 * The subcommands. Each returns its exit status or throws Exit; main.ts turns both into the
 * process's exit.
 */
import { ApiError, Unreachable, type ApiClient, type JobSnapshot } from './api';
import { checkFile, checkOut, checkSize, checkText, Exit, type Messages, type Options } from './args';
import { serverErrorText } from './messages';
import { formatBytes } from '../server/src/domain/format';
import { bar, displayWidth, formatDuration, type Output } from './terminal';

export interface Context {
  options: Options;
  m: Messages;
  out: Output;
  api: ApiClient;
}

/** Any failure of a server call as an Exit in the reader's language (1: a server error). */
export function asExit(ctx: Context, e: unknown, wrap: (text: string) => string = (t) => t): unknown {
  if (e instanceof ApiError) {
    return new Exit(1, wrap(serverErrorText(ctx.options.language, e.code, e.serverMessage)), false, e.code);
  }
  if (e instanceof Unreachable) return new Exit(1, ctx.m.unreachable(ctx.api.server, e.reason), false, 'unreachable');
  return e;
}

/** Prints each step as it starts and keeps the status line fed with the latest snapshot. */
class JobView {
  private lastStep = '';
  private lastLine = '';
  private job: JobSnapshot | null = null;

  constructor(
    private readonly ctx: Context,
    /** The server's label of each step (GET /config), for a step the command line has no words for. */
    private readonly serverLabels: Record<string, string> = {},
  ) {}

  show(job: JobSnapshot): void {
    const { m, out } = this.ctx;
    const first = this.job === null;
    const changed = first || job.status !== this.job!.status || job.progress.currentStep !== this.job!.progress.currentStep;
    this.job = job;
    out.event({ type: 'job', job });
    const p = job.progress;
    if (p.currentStep !== this.lastStep && p.currentStep !== 'done') {
      this.lastStep = p.currentStep;
      out.say(`  ${p.stepNumber}/${p.totalSteps} ${m.steps[p.currentStep] ?? this.serverLabels[p.currentStep] ?? p.currentStep}`);
    }
    const provider = [job.provider.name, job.provider.providerStatus].filter(Boolean).join(' ');
    const line = `        ${Math.round(p.percent)}%${provider ? ` · ${provider}` : ''}${p.message ? ` · ${p.message}` : ''}`;
    if (out.status.enabled) {
      // Rendered again every second, so the elapsed time moves while no event arrives.
      out.status.set(() => {
        const current = this.job!;
        const elapsed = formatDuration(Date.now() - Date.parse(current.createdAt));
        const pct = Math.round(current.progress.percent);
        return `${bar(current.progress.percent / 100)} ${String(pct).padStart(3)}%  ${elapsed}  ${provider}${current.progress.message ? ` · ${current.progress.message}` : ''}`;
      });
    } else if (line !== this.lastLine || changed) {
      // Without a terminal, a line per change of message or provider status (not per percent).
      out.say(line);
    }
    this.lastLine = line;
  }
}

/** Follows a job to its end; the exit status says how it ended. */
async function followToEnd(ctx: Context, jobId: string, signal: AbortSignal): Promise<JobSnapshot> {
  try {
    // Asked once: follow() reads the same answer for how to watch.
    const config = await ctx.api.clientConfig();
    const view = new JobView(ctx, Object.fromEntries((config?.steps ?? []).map((s) => [s.name, s.label])));
    return await ctx.api.follow(jobId, (job) => view.show(job), signal);
  } catch (e) {
    throw asExit(ctx, e, ctx.m.cannotFollow);
  } finally {
    ctx.out.status.stop();
  }
}

/** Exit 1 with the reason when the job failed or was cancelled. */
function endOf(ctx: Context, job: JobSnapshot): void {
  const { m, options } = ctx;
  const took = formatDuration(Date.parse(job.completedAt ?? job.updatedAt) - Date.parse(job.createdAt));
  if (job.status === 'failed') {
    const reason = job.error ? serverErrorText(options.language, job.error.code, job.error.message) : m.noReason;
    throw new Exit(1, m.failedAfter(took, reason), false, job.error?.code);
  }
  if (job.status === 'cancelled') throw new Exit(1, m.cancelledAfter(took), false, 'cancelled');
  ctx.out.say(m.completedIn(took));
}

/**
 * Ctrl-C while a job is followed. On a terminal: "Cancel the job?"; yes cancels and keeps
 * following (the stream reports the cancelled state), no keeps following, a second Ctrl-C
 * leaves the job running (exit 130). Without a terminal: `generate` cancels the job it started
 * (exit 1), `watch` leaves the job running (exit 130).
 */
class Interrupts {
  phase: 'upload' | 'follow' | 'download' = 'upload';
  jobId: string | null = null;
  interrupted: Exit | null = null;
  private asking = false;
  readonly controller = new AbortController();
  private readonly handler = (): void => this.onSigint();

  constructor(
    private readonly ctx: Context,
    private readonly cancelWithoutTerminal: boolean,
  ) {
    process.on('SIGINT', this.handler);
  }

  dispose(): void {
    process.off('SIGINT', this.handler);
  }

  private stop(exit: Exit): void {
    this.interrupted = exit;
    this.controller.abort();
  }

  private onSigint(): void {
    const { m, api, out } = this.ctx;
    if (this.asking) return; // readline handles Ctrl-C at the prompt
    const id = this.jobId;
    if (this.phase === 'upload' || !id) return this.stop(new Exit(1, m.uploadStopped));
    if (this.phase === 'download') return this.stop(new Exit(1, m.downloadStopped(api.jobUrl(id, '/video'))));
    if (!process.stdin.isTTY || out.json) {
      if (!this.cancelWithoutTerminal) return this.stop(new Exit(130, m.leftRunning(id, api.pageUrl(id)), false, 'interrupted'));
      void this.cancel(id).then((text) => this.stop(new Exit(1, m.interruptedCancel(text), false, 'interrupted')));
      return;
    }
    this.asking = true;
    void out.ask(m.cancelPrompt(id)).then(async (answer) => {
      this.asking = false;
      if (answer === null) {
        this.stop(new Exit(130, m.leftRunning(id, api.pageUrl(id)), false, 'interrupted'));
      } else if (m.yes.test(answer.trim())) {
        out.say(await this.cancel(id));
      } else {
        out.say(m.stillFollowing);
      }
    });
  }

  private async cancel(jobId: string): Promise<string> {
    try {
      await this.ctx.api.cancel(jobId);
      return this.ctx.m.cancelRequested;
    } catch (e) {
      const exit = asExit(this.ctx, e, this.ctx.m.cancelRefused);
      return exit instanceof Error ? exit.message : String(exit);
    }
  }

  /** The Exit a decision on Ctrl-C asked for, in place of the error the abort caused. */
  reason(e: unknown): unknown {
    return this.interrupted ?? e;
  }

  /**
   * Runs `work` with Ctrl-C handled as above from `phase` on (for job `jobId` once known); a
   * decision on Ctrl-C replaces the error the abort caused.
   */
  static async during<T>(
    ctx: Context,
    how: { cancelWithoutTerminal: boolean; phase?: Interrupts['phase']; jobId?: string },
    work: (interrupts: Interrupts) => Promise<T>,
  ): Promise<T> {
    const interrupts = new Interrupts(ctx, how.cancelWithoutTerminal);
    if (how.phase) interrupts.phase = how.phase;
    if (how.jobId) interrupts.jobId = how.jobId;
    try {
      return await work(interrupts);
    } catch (e) {
      throw interrupts.reason(e);
    } finally {
      interrupts.dispose();
    }
  }
}

async function saveVideo(ctx: Context, jobId: string, out: string, signal: AbortSignal): Promise<void> {
  const { m } = ctx;
  let bytes: number;
  try {
    bytes = await ctx.api.download(jobId, out, signal, (got, total) => {
      if (!total) return;
      ctx.out.status.set(() => `${m.downloadBar} ${bar(got / total)} ${String(Math.floor((got / total) * 100)).padStart(3)}%  ${formatBytes(got)} / ${formatBytes(total)}`);
    });
  } catch (e) {
    throw asExit(ctx, e, m.downloadFailed);
  } finally {
    ctx.out.status.stop();
  }
  ctx.out.say(m.saved(formatBytes(bytes)));
  ctx.out.event({ type: 'result', jobId, status: 'completed', path: out, bytes });
  ctx.out.result(out);
}

export async function generate(ctx: Context): Promise<number> {
  const { options, m, out, api } = ctx;
  const image = await checkFile(options.image!, 'image', m);
  const audio = await checkFile(options.audio!, 'audio', m);
  const outFor = await checkOut(options.out, options.force, m);
  // The server's limits (GET /config, which following the job reads anyway). Without an
  // answer the server checks the upload itself, and the upload says why it failed.
  const rules = await api.uploadRules().catch(() => null);
  const text = checkText(options, rules, m);
  checkSize(image, 'image', rules, m);
  checkSize(audio, 'audio', rules, m);

  return Interrupts.during(ctx, { cancelWithoutTerminal: true }, async (interrupts) => {
    out.say(m.uploading(`${image.name} (${formatBytes(image.bytes)})`, `${audio.name} (${formatBytes(audio.bytes)})`, api.server));
    let lastPercent = -1;
    let accepted;
    try {
      accepted = await api.upload(text, image, audio, interrupts.controller.signal, (sent, total) => {
        const percent = Math.floor((sent / total) * 100);
        if (percent === lastPercent) return;
        lastPercent = percent;
        out.status.set(() => `${m.uploadBar} ${bar(sent / total)} ${String(percent).padStart(3)}%  ${formatBytes(sent)} / ${formatBytes(total)}`);
      });
    } catch (e) {
      if (e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 429) {
        // The server refused what was sent: the input is at fault, as with a bad flag.
        throw new Exit(2, m.uploadRefused(serverErrorText(options.language, e.code, e.serverMessage)), false, e.code);
      }
      throw asExit(ctx, e, m.uploadFailed);
    } finally {
      out.status.stop();
    }
    const jobId = accepted.jobId;
    interrupts.jobId = jobId;
    out.event({ type: 'accepted', ...accepted });
    out.say(m.accepted(jobId, text.name, api.pageUrl(jobId)));

    interrupts.phase = 'follow';
    const job = await followToEnd(ctx, jobId, interrupts.controller.signal);
    endOf(ctx, job);

    interrupts.phase = 'download';
    await saveVideo(ctx, jobId, outFor(jobId), interrupts.controller.signal);
    return 0;
  });
}

export async function watch(ctx: Context): Promise<number> {
  const { options, m, out, api } = ctx;
  const jobId = options.jobId!;
  return Interrupts.during(ctx, { cancelWithoutTerminal: false, phase: 'follow', jobId }, async (interrupts) => {
    out.say(m.watching(jobId, api.pageUrl(jobId)));
    const job = await followToEnd(ctx, jobId, interrupts.controller.signal);
    endOf(ctx, job);
    // Absolute whether the server sends a path or a full URL.
    const videoUrl = new URL(job.result?.videoUrl ?? api.jobUrl(jobId, '/video'), `${api.server}/`).href;
    out.event({ type: 'result', jobId, status: job.status, videoUrl });
    out.result(videoUrl);
    return 0;
  });
}

export async function download(ctx: Context): Promise<number> {
  const { options, m, api } = ctx;
  const jobId = options.jobId!;
  const outFor = await checkOut(options.out, options.force, m);
  let job: JobSnapshot;
  try {
    job = await api.getJob(jobId);
  } catch (e) {
    throw asExit(ctx, e);
  }
  if (job.status !== 'completed') throw new Exit(1, m.notCompleted(jobId, m.statuses[job.status] ?? job.status), false, 'video_not_ready');
  return Interrupts.during(ctx, { cancelWithoutTerminal: false, phase: 'download', jobId }, async (interrupts) => {
    await saveVideo(ctx, jobId, outFor(jobId), interrupts.controller.signal);
    return 0;
  });
}

export async function list(ctx: Context): Promise<number> {
  const { options, m, out, api } = ctx;
  let jobs: JobSnapshot[];
  try {
    jobs = await api.listJobs(options.limit);
  } catch (e) {
    throw asExit(ctx, e);
  }
  for (const job of jobs) out.event({ type: 'job', job });
  if (out.json) return 0;
  if (jobs.length === 0) {
    out.say(m.listEmpty);
    return 0;
  }
  const rows = jobs.map((job) => [
    job.jobId,
    m.statuses[job.status] ?? job.status,
    `${Math.round(job.progress.percent)}%`,
    job.input?.instructorName ?? '',
    new Date(job.createdAt).toLocaleString(options.language === 'ko' ? 'ko-KR' : 'en-GB'),
  ]);
  out.result(table([m.listHeader, ...rows]));
  return 0;
}

/** Columns padded to their widest cell (display width, so Korean lines up). */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => displayWidth(r[i] ?? ''))));
  return rows
    .map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat(widths[i]! - displayWidth(cell)))).join('  '))
    .join('\n');
}

export async function cancel(ctx: Context): Promise<number> {
  const { options, m, out, api } = ctx;
  const jobId = options.jobId!;
  try {
    await api.cancel(jobId);
  } catch (e) {
    throw asExit(ctx, e, m.cancelRefused);
  }
  out.say(m.cancelRequested);
  out.event({ type: 'result', jobId, cancelRequested: true });
  out.result(jobId);
  return 0;
}

export async function retry(ctx: Context): Promise<number> {
  const { options, m, out, api } = ctx;
  const from = options.jobId!;
  let accepted;
  try {
    accepted = await api.retry(from);
  } catch (e) {
    throw asExit(ctx, e, m.retryRefused);
  }
  out.event({ type: 'accepted', ...accepted, retriedFrom: accepted.retriedFrom ?? from });
  out.say(m.retryStarted(from, accepted.jobId));
  out.result(accepted.jobId);
  return 0;
}

/**
 * Deletes a job for good, after a yes on a terminal. Without a terminal (or with --json, read by
 * a script) nobody can answer, so --yes is required; not confirming is exit 2 and sends nothing.
 */
export async function deleteJob(ctx: Context): Promise<number> {
  const { options, m, out, api } = ctx;
  const jobId = options.jobId!;
  if (!options.yes) {
    if (!process.stdin.isTTY || out.json) throw new Exit(2, m.deleteNeedsYes, true, 'not_confirmed');
    const answer = await out.ask(m.deletePrompt(jobId));
    if (answer === null || !m.yes.test(answer.trim())) throw new Exit(2, m.notDeleted(jobId), false, 'not_confirmed');
  }
  try {
    await api.delete(jobId);
  } catch (e) {
    throw asExit(ctx, e, m.deleteRefused);
  }
  out.say(m.deleted(jobId));
  out.event({ type: 'result', jobId, deleted: true });
  out.result(jobId);
  return 0;
}

export const COMMAND_RUNNERS = { generate, watch, download, list, cancel, retry, delete: deleteJob };
