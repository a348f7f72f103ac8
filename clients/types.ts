/** What the clients read from the service's answers (the job document: server/src/ports/jobStore.ts). */

export type JobStatus = 'queued' | 'processing' | 'completed' | 'failed' | 'cancelled';

/** The fields of a job the clients use. */
export interface JobSnapshot {
  jobId: string;
  status: JobStatus;
  progress: { currentStep: string; stepNumber: number; totalSteps: number; percent: number; message: string };
  provider: { name: string; providerStatus: string | null; polls: number };
  input?: { instructorName?: string };
  result?: { videoUrl?: string | null } | null;
  error: { code: string; message: string } | null;
  createdAt: string;
  completedAt: string | null;
  updatedAt: string;
}

export const TERMINAL: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);

/** The 202 of POST /generate-with-tasks and POST /jobs/:id/retry. */
export interface Accepted {
  jobId: string;
  statusUrl: string;
  eventsUrl?: string;
  retriedFrom?: string;
}

/** One page of GET /jobs. */
export interface JobPage<J = JobSnapshot> {
  jobs: J[];
  nextCursor?: string | null;
}

/** How the server wants the command line to follow a job (GET /config). */
export interface WatchSettings {
  cli: 'sse' | 'poll';
  pollIntervalSec: number;
}

/** A file to upload from disk. */
export interface UploadFile {
  path: string;
  /** The file name sent to the server. */
  name: string;
  bytes: number;
  mime: string;
}

/** What an upload must be, as GET /config says (server/src/domain/uploadRules.ts). */
export interface UploadRules {
  image: { maxBytes: number; types: string[]; extensions: string[]; minShortSidePx: number; maxPixels: number };
  audio: { maxBytes: number; types: string[]; extensions: string[]; minSeconds: number; maxSeconds: number };
  nameMaxChars: number;
  bioMaxChars: number;
}

/** GET /config: how to follow a job, what an upload must be, and the steps in order with their labels. */
export interface ClientConfig {
  watch?: Partial<WatchSettings> & { browser?: string };
  upload?: UploadRules;
  steps?: { name: string; label: string }[];
}
