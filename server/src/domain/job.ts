/**
 * The avatar job: its states and its document. The document shape is the contract with every
 * client (the Flutter app reads it straight from Firestore), so it is defined once, here.
 */

export type JobStatus = 'queued' | 'processing' | 'completed' | 'failed' | 'cancelled';

export const TERMINAL_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** Pipeline steps, in order (see steps.ts). `done` is the resting step of a finished job. */
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
