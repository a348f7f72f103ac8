import type { Logger } from 'pino';
import { PermanentError, describeError } from '../domain/errors';
import type { AvatarProvider } from '../ports/avatarProvider';
import type { BlobStore } from '../ports/blobStore';
import type { DeviceStore } from '../ports/deviceStore';
import { isTerminal, type Job } from '../domain/job';
import type { JobStore } from '../ports/jobStore';
import type { Notifier } from '../ports/notifier';
import type { NotifyTask, TaskQueue } from '../ports/taskQueue';
import type { WebhookSender } from '../ports/webhookSender';
import { preparedImageKey, videoKey } from '../domain/blobKeys';
import { cancelJob, taskName } from './decisions';

/**
 * A job's life after its last step: telling the user (push, webhook), deleting it on request,
 * and deleting what is past its retention.
 */

export interface RetentionSettings {
  uploadDays: number;
  videoDays: number;
  jobDays: number;
}

export interface LifecycleDeps {
  store: JobStore;
  queue: TaskQueue;
  blobs: BlobStore;
  provider?: AvatarProvider;
  devices?: DeviceStore;
  /** Absent: push is off (no project and no FCM stand-in). */
  notifier?: Notifier;
  /** Absent: WEBHOOK_SECRET is not set and callbackUrl is refused at upload. */
  webhooks?: WebhookSender;
  retention: RetentionSettings;
  logger: Logger;
  now?: () => Date;
}

const DAY_MS = 24 * 3600 * 1000;

function addDays(iso: string, days: number): string {
  return new Date(Date.parse(iso) + days * DAY_MS).toISOString();
}

/**
 * Every blob a job may own: its two uploads, the photo prepared from the upload (kept and
 * deleted with the uploads), and its video.
 */
export function blobKeysOf(job: Job): { uploads: string[]; video: string } {
  return {
    uploads: [job.input.imagePath, job.input.audioPath, preparedImageKey(job.jobId)],
    video: job.result?.videoPath ?? videoKey(job.jobId),
  };
}

/** The retention dates of a job that ended at `endedAt` (pure). */
export function withRetention(job: Job, endedAt: string, retention: RetentionSettings): Job {
  return {
    ...job,
    expireAt: addDays(endedAt, retention.jobDays),
    result: job.result ? { ...job.result, expiresAt: addDays(endedAt, retention.videoDays) } : job.result,
  };
}

/** Names of the notification tasks of a job (deterministic: a second enqueue is de-duplicated). */
export function notifyTaskName(job: Pick<Job, 'jobId' | 'stepSeq'>, channel: NotifyTask['channel']): string {
  return taskName(job.jobId, job.stepSeq, channel);
}

/**
 * Called whenever a worker delivery finds or leaves a job finished. Once per job it stamps the
 * retention dates, starts the retention clock on the stored files (Cloud Storage customTime) and
 * enqueues the notification tasks. Safe to call again: a job with `expireAt` is done, and the
 * task names are deterministic. Throws when an enqueue fails, so the delivery is retried.
 */
export async function onJobEnded(deps: LifecycleDeps, jobId: string): Promise<void> {
  const job = await deps.store.get(jobId);
  if (!job || !isTerminal(job.status) || job.expireAt) return;
  const endedAt = job.completedAt ?? (deps.now?.() ?? new Date()).toISOString();
  if (deps.blobs.setCustomTime) {
    const { uploads, video } = blobKeysOf(job);
    for (const key of job.status === 'completed' ? [...uploads, video] : uploads) {
      await deps.blobs.setCustomTime(key, new Date(endedAt));
    }
  }
  if (deps.notifier && deps.devices) {
    await deps.queue.enqueue({ kind: 'notify', channel: 'push', jobId }, { name: notifyTaskName(job, 'push') });
  }
  if (deps.webhooks && job.input.callbackUrl) {
    await deps.queue.enqueue({ kind: 'notify', channel: 'webhook', jobId }, { name: notifyTaskName(job, 'webhook') });
  }
  await deps.store.update(jobId, (current) =>
    isTerminal(current.status) && !current.expireAt ? withRetention(current, endedAt, deps.retention) : null,
  );
  deps.logger.info({ message: 'job ended: notifications queued', jobId, status: job.status });
}

/** The push text for a finished job. */
export function pushMessageFor(job: Job): { title: string; body: string; data: Record<string, string> } {
  const name = job.input.instructorName;
  const titles: Record<string, string> = {
    completed: 'Your video is ready',
    failed: 'Your video could not be made',
    cancelled: 'Your video was cancelled',
  };
  const bodies: Record<string, string> = {
    completed: `${name}'s talking video is ready to watch.`,
    failed: `${name}'s video failed: ${job.error?.message ?? 'unknown error'}`,
    cancelled: `${name}'s video was cancelled.`,
  };
  return {
    title: titles[job.status] ?? 'Your video job ended',
    body: bodies[job.status] ?? name,
    data: { jobId: job.jobId, status: job.status, instructorName: name, link: `/jobs/${job.jobId}` },
  };
}

/** The webhook body: Standard Webhooks' `{type, timestamp, data}` with the job document. */
export function webhookBodyFor(job: Job, now: Date): string {
  return JSON.stringify({ type: `job.${job.status}`, timestamp: now.toISOString(), data: job });
}

/**
 * One notification task: push to every device of the owner (forgetting tokens FCM reports
 * unregistered), or the signed webhook. A transient failure throws RetryableError, and the
 * queue tries again later; the job itself is already finished and untouched.
 */
export async function deliverNotification(deps: LifecycleDeps, task: NotifyTask): Promise<'sent' | 'nothing_to_do' | 'refused'> {
  const job = await deps.store.get(task.jobId);
  if (!job || !isTerminal(job.status)) return 'nothing_to_do';
  const log = deps.logger.child({ jobId: job.jobId, channel: task.channel });
  if (task.channel === 'push') {
    if (!deps.notifier || !deps.devices) return 'nothing_to_do';
    const devices = await deps.devices.listByOwner(job.ownerUid);
    if (devices.length === 0) return 'nothing_to_do';
    const message = pushMessageFor(job);
    let firstRetryable: unknown;
    for (const device of devices) {
      try {
        const outcome = await deps.notifier.send(device.token, message);
        if (outcome === 'unregistered') {
          await deps.devices.remove(device.token);
          log.info({ message: 'push token unregistered; removed', platform: device.platform });
        }
      } catch (err) {
        if (err instanceof PermanentError) log.warn({ message: 'push refused', error: describeError(err) });
        else firstRetryable ??= err;
      }
    }
    if (firstRetryable) throw firstRetryable;
    log.info({ message: 'push sent', devices: devices.length });
    return 'sent';
  }
  if (!deps.webhooks || !job.input.callbackUrl) return 'nothing_to_do';
  try {
    await deps.webhooks.send({
      id: `msg_${job.jobId}_${job.status}`,
      url: job.input.callbackUrl,
      body: webhookBodyFor(job, deps.now?.() ?? new Date()),
    });
  } catch (err) {
    if (err instanceof PermanentError) {
      // The URL now resolves somewhere it must not (DNS rebinding): never retried.
      log.warn({ message: 'webhook refused at delivery', error: describeError(err) });
      return 'refused';
    }
    throw err;
  }
  log.info({ message: 'webhook delivered' });
  return 'sent';
}

async function quietly(log: Logger, what: string, work: () => Promise<unknown>): Promise<void> {
  try {
    await work();
  } catch (err) {
    log.warn({ message: `delete: ${what} failed`, error: describeError(err) });
  }
}

/**
 * DELETE /jobs/:id: a running job is cancelled first (a terminal status makes any step in flight
 * drop its result), then its pending tasks, its uploads, its video, the provider's copies and
 * finally the document are removed. The document goes last, so a failure half-way can be retried.
 */
export async function deleteJob(deps: LifecycleDeps, job: Job): Promise<void> {
  const now = (deps.now?.() ?? new Date()).toISOString();
  const log = deps.logger.child({ jobId: job.jobId });
  const updated = await deps.store.update(job.jobId, (current) =>
    isTerminal(current.status) ? null : { ...cancelJob(current, now), cancelRequested: true },
  );
  const current = updated.job ?? job;
  const names = new Set<string>();
  for (let seq = Math.max(0, current.stepSeq - 1); seq <= current.stepSeq + 1; seq++) {
    names.add(taskName(current.jobId, seq));
    names.add(taskName(current.jobId, seq, 'cancel'));
    names.add(taskName(current.jobId, seq, `lease${current.attempts}`));
    // The sweep's latest rescue (`-r<n>`) and the provider retry's latest attempt (`-p<n>`): the
    // earlier ones have run, or were themselves lost, or the counter would not have moved on.
    if (current.rescues) names.add(taskName(current.jobId, seq, `r${current.rescues}`));
    if (current.retry?.count) names.add(taskName(current.jobId, seq, `p${current.retry.count}`));
    names.add(notifyTaskName({ jobId: current.jobId, stepSeq: seq }, 'push'));
    names.add(notifyTaskName({ jobId: current.jobId, stepSeq: seq }, 'webhook'));
  }
  await Promise.all([...names].map((name) => quietly(log, `task ${name}`, () => deps.queue.delete(name))));
  const { uploads, video } = blobKeysOf(current);
  await Promise.all([...uploads, video, videoKey(current.jobId)].map((key) => deps.blobs.delete(key)));
  if (deps.provider?.deleteMedia) {
    await deps.provider.deleteMedia({ avatarId: current.provider.avatarId, videoId: current.provider.videoId });
  }
  await deps.store.delete(current.jobId);
  log.info({ message: 'job deleted', status: current.status });
}

/**
 * The local retention sweep (in the cloud, Cloud Storage lifecycle rules and Firestore's TTL
 * policy do this): uploads UPLOAD_RETENTION_DAYS after a job ended, videos after
 * VIDEO_RETENTION_DAYS, documents after JOB_RETENTION_DAYS.
 */
export async function sweepRetention(deps: LifecycleDeps, options: { limit?: number } = {}): Promise<{ uploads: number; videos: number; jobs: number }> {
  const nowMs = (deps.now?.() ?? new Date()).getTime();
  const { uploadDays, videoDays, jobDays } = deps.retention;
  const earliest = Math.min(uploadDays, videoDays, jobDays);
  // listEndedBefore is strict: one millisecond later makes "exactly N days ago" due.
  const due = await deps.store.listEndedBefore(new Date(nowMs - earliest * DAY_MS + 1).toISOString(), options.limit ?? 500);
  const counts = { uploads: 0, videos: 0, jobs: 0 };
  for (const job of due) {
    const endedMs = Date.parse(job.completedAt ?? job.updatedAt);
    const age = nowMs - endedMs;
    const { uploads, video } = blobKeysOf(job);
    if (age >= jobDays * DAY_MS || (job.expireAt && Date.parse(job.expireAt) <= nowMs)) {
      await Promise.all([...uploads, video].map((key) => deps.blobs.delete(key)));
      await deps.store.delete(job.jobId);
      counts.jobs++;
      continue;
    }
    if (age >= uploadDays * DAY_MS) {
      for (const key of uploads) if (await deps.blobs.stat(key)) (await deps.blobs.delete(key), counts.uploads++);
    }
    if (age >= videoDays * DAY_MS && (await deps.blobs.stat(video))) {
      await deps.blobs.delete(video);
      counts.videos++;
    }
  }
  if (counts.uploads + counts.videos + counts.jobs > 0) deps.logger.info({ message: 'retention sweep', ...counts });
  return counts;
}
