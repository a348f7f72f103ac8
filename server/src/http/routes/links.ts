import type { Request } from 'express';
import type { Job } from '../../domain/job';

/** The base URL clients use to reach us: PUBLIC_URL when set, else what the request says. */
export function publicBaseUrl(req: Request, configured?: string): string {
  if (configured) return configured;
  return `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}

/** Where a client watches a job: its document and its event stream, as absolute URLs. */
export function jobLinks(base: string, jobId: string): { statusUrl: string; eventsUrl: string } {
  const id = encodeURIComponent(jobId);
  return { statusUrl: `${base}/jobs/${id}`, eventsUrl: `${base}/jobs/${id}/events` };
}

/**
 * The job as the HTTP API answers it: the stored document keeps `result.videoUrl` as a path
 * (the host that serves it may change; Firestore readers resolve it against their API base),
 * and HTTP answers make it absolute like statusUrl and eventsUrl.
 */
export function presentJob(job: Job, base: string): Job {
  if (!job.result || /^https?:\/\//i.test(job.result.videoUrl)) return job;
  return { ...job, result: { ...job.result, videoUrl: new URL(job.result.videoUrl, base + '/').toString() } };
}
