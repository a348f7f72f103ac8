/**
 * JobStore: where avatar jobs live. The job document itself is defined in domain/job.ts.
 */
import type { Job } from '../domain/job';

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
