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
}

export interface JobProvider {
  name: string;
  avatarId: string | null;
  videoId: string | null;
  providerStatus: string | null;
  polls: number;
}

export interface JobResult {
  videoPath: string;
  videoUrl: string;
  durationSec: number | null;
}

export interface JobError {
  code: string;
  message: string;
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
  /** When the task for `stepSeq` is due; lets a stale delivery re-create a lost next task. */
  nextRunAt: string | null;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
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
  /** Removes a job document (a job that never started: its first task could not be created). */
  delete(jobId: string): Promise<void>;
  /** How many of the owner's jobs are queued or processing. */
  countActiveByOwner(ownerUid: string): Promise<number>;
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
  /** Answers when the store is reachable; throws otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
