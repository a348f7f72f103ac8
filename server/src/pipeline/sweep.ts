import { describeError } from '../domain/errors';
import type { Job } from '../domain/job';
import { decideRescue, sweepGraceSec, taskName, type RescueDecision, type SweepSettings } from './decisions';
import type { PipelineDeps } from './runner';

/**
 * The sweep: the net under every way a task can be lost outside the worker's sight (deleted,
 * purged, refused on every attempt, a crash between saving a job and creating its first task).
 * It finds the jobs that are not finished, hold no live lease, and whose next step has been due
 * for longer than the grace period (SWEEP_GRACE + STEP_LEASE), and creates a task for the
 * step they are at.
 *
 * A rescue task is named after a counter kept on the job (`<hash>-<stepSeq>-r<n>`): Cloud
 * Tasks keeps the name of a deleted or executed task reserved for about an hour, so the step's
 * own name would answer ALREADY_EXISTS with no task behind it. A rescue racing a normal
 * delivery is harmless: the claim compares stepSeq and takes a lease, so only one of them runs
 * the step and the provider is called once.
 */

export interface SweepDeps extends Pick<PipelineDeps, 'store' | 'queue' | 'settings' | 'logger' | 'now' | 'onJobEnded'> {
  sweep: SweepSettings;
}

export interface SweepOptions {
  /** Jobs per store query (default 100). */
  pageSize?: number;
  /** Stop starting new pages after this long (default 20 s), so one request never times out. */
  budgetMs?: number;
  /** Continue after the position a previous sweep stopped at. */
  cursor?: string | null;
}

export interface SweepResult {
  /** Overdue jobs the query returned. */
  examined: number;
  rescued: number;
  /** Jobs past JOB_DEADLINE, failed with `timeout`. */
  timedOut: number;
  /** Rescues whose task could not be created (the next sweep tries again). */
  errors: number;
  /** True when the budget ran out with overdue jobs left: call again with `cursor`. */
  more: boolean;
  cursor: string | null;
}

const DEFAULT_PAGE_SIZE = 100;
const DEFAULT_BUDGET_MS = 20_000;

export async function sweepOverdueJobs(deps: SweepDeps, options: SweepOptions = {}): Promise<SweepResult> {
  const clock = (): Date => deps.now?.() ?? new Date();
  const started = Date.now();
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const budgetMs = options.budgetMs ?? DEFAULT_BUDGET_MS;
  const settings = { ...deps.settings, ...deps.sweep };
  const cutoff = new Date(clock().getTime() - sweepGraceSec(settings) * 1000).toISOString();
  const result: SweepResult = { examined: 0, rescued: 0, timedOut: 0, errors: 0, more: false, cursor: options.cursor ?? null };

  for (;;) {
    const page = await deps.store.listOverdue(cutoff, { limit: pageSize, cursor: result.cursor });
    for (const job of page.jobs) {
      result.examined += 1;
      const outcome = await sweepOne(deps, job, settings, clock);
      if (outcome === 'rescued') result.rescued += 1;
      else if (outcome === 'timed_out') result.timedOut += 1;
      else if (outcome === 'error') result.errors += 1;
    }
    result.cursor = page.nextCursor;
    if (!page.nextCursor) break;
    if (Date.now() - started >= budgetMs) {
      result.more = true;
      break;
    }
  }
  if (result.rescued || result.timedOut || result.errors || result.more) {
    deps.logger.info({ message: 'sweep finished', ...result, cursor: undefined });
  }
  return result;
}

async function sweepOne(
  deps: SweepDeps,
  job: Job,
  settings: Parameters<typeof decideRescue>[2],
  clock: () => Date,
): Promise<'rescued' | 'timed_out' | 'skipped' | 'error'> {
  const log = deps.logger.child({ jobId: job.jobId, stepSeq: job.stepSeq });
  let decision: RescueDecision | undefined;
  try {
    // Decided again inside the atomic update: the job may have moved since the query.
    const now = clock().toISOString();
    const updated = await deps.store.update(job.jobId, (current) => {
      decision = decideRescue(current, now, settings);
      return decision.kind === 'skip' ? null : decision.job;
    });
    if (!updated.changed || !updated.job || !decision || decision.kind === 'skip') return 'skipped';
    if (decision.kind === 'timed_out') {
      log.warn({ message: 'sweep: job passed its deadline; failed with timeout' });
      // The job ended here, not in a delivery: the end hook (notifications, retention dates)
      // would otherwise never run for it.
      if (deps.onJobEnded) {
        await deps.onJobEnded(job.jobId).catch((err: unknown) => {
          log.error({ message: 'sweep: the end hook of a timed-out job failed', error: describeError(err) });
        });
      }
      return 'timed_out';
    }
    const rescued = updated.job;
    const name = taskName(rescued.jobId, rescued.stepSeq, `r${decision.rescue}`);
    await deps.queue.enqueue({ jobId: rescued.jobId, stepSeq: rescued.stepSeq }, { name });
    log.warn({
      message: 'sweep: rescued a job whose task was lost',
      step: rescued.progress.currentStep,
      status: rescued.status,
      overdueSince: job.nextRunAt ?? job.createdAt,
      rescue: decision.rescue,
      task: name,
    });
    return 'rescued';
  } catch (err) {
    log.error({ message: 'sweep: could not rescue a job; the next sweep tries again', error: describeError(err) });
    return 'error';
  }
}
