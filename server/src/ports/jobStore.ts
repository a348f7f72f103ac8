/**
 * JobStore: where avatar jobs live. The document shape is the contract with every client
 * (the Flutter app reads it straight from Firestore), so it is defined once, here.
 */

export type JobStatus = 'queued' | 'processing' | 'completed' | 'failed' | 'cancelled';

export const TERMINAL_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** Pipeline steps, in order. `done` is the resting step of a finished job. */
export type StepName = 'avatar.create' | 'video.create' | 'video.poll' | 'video.store' | 'done';

export interface JobProgress {
  currentStep: StepName;
  stepNumber: number;
  totalSteps: number;
  percent: number;
  message: string;
}

export interface JobInput {
  imagePath: string;
  audioPath: string;
  imageType: string;
  audioType: string;
  instructorName: string;
  instructorBio: string;
  /** Bytes of each upload, and the audio's duration when known. */
  imageBytes?: number;
  audioBytes?: number;
  audioDurationSec?: number | null;
  /** Where the signed webhook goes when the job ends (checked at upload and at delivery). */
  callbackUrl?: string | null;
}

export interface JobProvider {
  name: string;
  avatarId: string | null;
  videoId: string | null;
  providerStatus: string | null;
  polls: number;
  /** When the video was requested: render times are counted from here. */
  requestedAt?: string | null;
  /** When the last poll found the video unfinished. */
  checkedAt?: string | null;
  /** The render time expected when the video was requested (lognormal: median and sigma of its log). */
  forecast?: { medianSec: number; sigma: number } | null;
}

export interface JobResult {
  videoPath: string;
  videoUrl: string;
  durationSec: number | null;
  /** Until when the video can be downloaded (VIDEO_RETENTION_DAYS after the job ended). */
  expiresAt?: string | null;
}

export interface JobError {
  code: string;
  message: string;
}

/**
 * The current step's provider trouble while the pipeline retries it in time (not in queue
 * attempts). Cleared when the step succeeds, so every step has its own window.
 */
export interface JobRetry {
  /** The step being retried. */
  step: StepName;
  /** When this step first failed: the retry window is counted from here. */
  since: string;
  /** Failures of this step so far. */
  count: number;
  lastError: JobError;
  /** When the next try is due (clients show it; the message has it as HH:MM UTC). */
  nextAt: string;
}

/** All timestamps are ISO-8601 strings in UTC (Firestore stores them as Timestamps). */
export interface Job {
  jobId: string;
  ownerUid: string;
  status: JobStatus;
  progress: JobProgress;
  input: JobInput;
  provider: JobProvider;
  result: JobResult | null;
  error: JobError | null;
  cancelRequested: boolean;
  /** The step sequence number the next task must carry; each task advances it by one. */
  stepSeq: number;
  /** While a worker holds the job for a step; null otherwise. */
  leaseUntil: string | null;
  /** Worker attempts across all steps (claims taken). */
  attempts: number;
  /**
   * When the task for `stepSeq` is due (createdAt for a new job); null once terminal. Lets a
   * stale delivery re-create a lost next task, and the sweep find jobs whose task was lost.
   */
  nextRunAt: string | null;
  /** Provider trouble of the current step while it is retried; null otherwise. */
  retry?: JobRetry | null;
  /** Tasks the sweep created for this job (each rescue task is named after this count). */
  rescues?: number;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
  /**
   * When the document itself is deleted (JOB_RETENTION_DAYS after the job ended). Set once, when
   * the job ends; Firestore's TTL policy on this field deletes the document in the cloud.
   */
  expireAt?: string | null;
}

export interface JobPage {
  jobs: Job[];
  /** Opaque; pass back as `cursor` for the next page. Null when there are no more. */
  nextCursor: string | null;
}

/**
 * The decision function given to {@link JobStore.update}: it sees the current document and
 * returns the new one, or null to leave it unchanged. It must be pure and synchronous: stores
 * may call it more than once (Firestore retries contended transactions).
 */
export type JobMutation = (current: Job) => Job | null;

export interface UpdateResult {
  /** The document after the update (or as it was, when unchanged). Null: no such job. */
  job: Job | null;
  changed: boolean;
}

/**
 * What the store keeps per provider (one small document, `providerStats/{provider}` in
 * Firestore): a running estimate of ln(render seconds per audio second), updated when a
 * render finishes, so polls can be planned around the moment a video is likely ready.
 */
export interface ProviderStats {
  provider: string;
  /** Renders counted (the weight of the estimate is capped, so it keeps following the provider). */
  samples: number;
  /** Mean of ln k, k = render seconds / audio seconds. */
  meanLogK: number;
  /** Sum of squared deviations of ln k from the mean (Welford). */
  m2LogK: number;
  updatedAt: string;
}

/** Stops a {@link JobStore.watch} subscription. */
export type Unsubscribe = () => void;

export interface JobStore {
  /** Stores a new job. Fails if the id exists. */
  create(job: Job): Promise<void>;
  get(jobId: string): Promise<Job | null>;
  /** The owner's jobs, newest first (createdAt desc, then jobId desc). */
  listByOwner(ownerUid: string, options: { limit: number; cursor?: string | null }): Promise<JobPage>;
  /**
   * Stores a new job only if its owner has fewer than `maxActive` jobs queued or processing,
   * counted in the same transaction as the insert, so a burst of creations for one owner can
   * never pass the limit together. Throws {@link LimitReachedError} (`too_many_active_jobs`)
   * when the owner is at the limit, and `already_exists` like {@link create}.
   */
  createWithinLimit(job: Job, maxActive: number): Promise<void>;
  /** How many of the owner's jobs are queued or processing. */
  countActiveByOwner(ownerUid: string): Promise<number>;
  /**
   * Jobs that are queued or processing and whose `nextRunAt` is at or before `cutoff`, the most
   * overdue first (nextRunAt asc, then jobId asc). The sweep's one query; paged like listByOwner.
   */
  listOverdue(cutoff: string, options: { limit: number; cursor?: string | null }): Promise<JobPage>;
  /**
   * Atomic read-modify-write: `mutate` sees the current document and its result is written
   * only if nobody changed the document in between. This is how claims and transitions compare
   * stepSeq and lease and advance in one step.
   */
  update(jobId: string, mutate: JobMutation): Promise<UpdateResult>;
  /**
   * Live snapshots of one job: the current document first (if it exists), then every change.
   * `onError` gets store failures; the subscription is then over.
   */
  watch(jobId: string, onSnapshot: (job: Job) => void, onError?: (err: Error) => void): Unsubscribe;
  /**
   * Removes the job document; a missing job is not an error. Used for a job that never started
   * (its first task could not be created), and by delete and retention.
   */
  delete(jobId: string): Promise<void>;
  /**
   * Finished jobs that ended (completedAt) before `before`, oldest first: what the local
   * retention sweep looks at. In the cloud, Cloud Storage lifecycle rules and Firestore TTL do
   * that work instead.
   */
  listEndedBefore(before: string, limit: number): Promise<Job[]>;
  /** What the store has learned about a provider's render times; null before its first render. */
  getProviderStats(provider: string): Promise<ProviderStats | null>;
  /**
   * Atomic read-modify-write of a provider's stats (`mutate` sees null the first time). Like
   * {@link JobStore.update}, `mutate` must be pure: stores may call it more than once.
   */
  updateProviderStats(provider: string, mutate: (current: ProviderStats | null) => ProviderStats): Promise<ProviderStats>;
  /** Answers when the store is reachable; throws otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
