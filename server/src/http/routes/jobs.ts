import { createHash, randomUUID } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { NotFoundError, InvalidInputError, ConflictError } from '../../domain/errors';
import { ClientError } from '../errors';
import { cancelJobRequest, retryJob, type JobsDeps } from '../../pipeline/jobs';
import { deleteJob, type LifecycleDeps } from '../../pipeline/lifecycle';
import type { BlobStore } from '../../ports/blobStore';
import { isTerminal, type Job } from '../../domain/job';
import type { JobStore } from '../../ports/jobStore';
import { authMiddleware, type Authenticate } from '../auth';
import { jobLinks, presentJob, publicBaseUrl } from './links';
import type { EventStreams } from '../eventStreams';

export interface JobsRouteDeps {
  store: JobStore;
  blobs: BlobStore;
  jobs: JobsDeps;
  /** Absent: DELETE /jobs/:jobId is not offered. */
  lifecycle?: LifecycleDeps;
  authenticate: Authenticate;
  signedUrlTtlSec: number;
  /** Comment line sent on idle event streams so proxies keep them open. */
  heartbeatMs?: number;
  publicUrl?: string;
  /** Open event streams, ended with a `retry:` hint when the process shuts down. */
  eventStreams?: EventStreams;
}

/** How long a browser may keep a finished video without asking again. */
const VIDEO_MAX_AGE_SEC = 3600;

const JOB_ID = /^[A-Za-z0-9-]{1,64}$/;

/** The caller's job, or 404: another owner's job is indistinguishable from a missing one. */
async function ownedJob(store: JobStore, req: Request): Promise<Job> {
  const jobId = String(req.params.jobId);
  req.res!.locals.jobId = jobId;
  const job = JOB_ID.test(jobId) ? await store.get(jobId) : null;
  if (!job || job.ownerUid !== req.caller!.uid) throw new NotFoundError('job_not_found', `No job ${jobId}`);
  return job;
}

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(500).optional(),
});

/** Parses a single `bytes=start-end` range; null when absent or not satisfiable as one range. */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'invalid' | null {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return null; // multi-range or odd units: serve the whole file
  const [, a, b] = match;
  let start: number;
  let end: number;
  if (a === '') {
    if (b === '') return 'invalid';
    start = Math.max(0, size - Number(b));
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (start > end || start >= size) return 'invalid';
  return { start, end };
}

export function jobsRoutes(deps: JobsRouteDeps): Router {
  const router = Router();
  const auth = authMiddleware(deps.authenticate);
  const heartbeatMs = deps.heartbeatMs ?? 15000;

  router.get('/jobs', auth, async (req, res) => {
    const parsed = listQuery.safeParse(req.query);
    if (!parsed.success) throw new InvalidInputError('bad_query', parsed.error.issues[0]!.message);
    const page = await deps.store.listByOwner(req.caller!.uid, parsed.data);
    const base = publicBaseUrl(req, deps.publicUrl);
    res.json({ success: true, jobs: page.jobs.map((job) => presentJob(job, base)), nextCursor: page.nextCursor });
  });

  // Polling clients (the CLI in the cloud) send the last ETag back: an unchanged job costs a
  // 304 with no body, the shortest request Cloud Run can bill.
  router.get('/jobs/:jobId', auth, async (req, res) => {
    const body = JSON.stringify(presentJob(await ownedJob(deps.store, req), publicBaseUrl(req, deps.publicUrl)));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    res.setHeader('ETag', etag);
    // The answer depends on the caller's token: private, and checked again on every use.
    res.setHeader('Cache-Control', 'private, no-cache');
    if (matchesEtag(req.header('if-none-match'), etag)) {
      res.status(304).end();
      return;
    }
    res.type('application/json').send(body);
  });

  // A new job from a failed or cancelled job's photo and recording.
  router.post('/jobs/:jobId/retry', auth, async (req, res) => {
    const job = await ownedJob(deps.store, req);
    const created = await retryJob(deps.jobs, deps.blobs, job, randomUUID());
    res.status(202).json({
      success: true,
      jobId: created.jobId,
      ...jobLinks(publicBaseUrl(req, deps.publicUrl), created.jobId),
      retriedFrom: job.jobId,
    });
  });

  router.post('/jobs/:jobId/cancel', auth, async (req, res) => {
    const job = await ownedJob(deps.store, req);
    const updated = await cancelJobRequest(deps.jobs, job);
    res.status(202).json({ success: true, jobId: updated.jobId, status: updated.status, cancelRequested: true });
  });

  router.delete('/jobs/:jobId', auth, async (req, res) => {
    const job = await ownedJob(deps.store, req);
    if (!deps.lifecycle) throw new ClientError(405, 'delete_unavailable', 'Deleting jobs is not available here');
    await deleteJob(deps.lifecycle, job);
    res.status(204).end();
  });

  router.get('/jobs/:jobId/video', auth, async (req, res) => {
    const job = await ownedJob(deps.store, req);
    if (job.status !== 'completed' || !job.result) {
      throw new ConflictError('video_not_ready', `The job is ${job.status}; the video exists once it is completed`);
    }
    const key = job.result.videoPath;
    // In the cloud the browser fetches from Cloud Storage: a fresh signed URL each time,
    // because signed URLs expire and the stored path does not.
    const signed = await deps.blobs.signedReadUrl(key, deps.signedUrlTtlSec);
    if (signed) {
      // The redirect is not cached: the signed URL it names expires.
      res.setHeader('Cache-Control', 'private, no-store');
      res.redirect(302, signed);
      return;
    }
    const info = await deps.blobs.stat(key);
    if (!info) throw new NotFoundError('video_missing', 'The stored video is missing');
    const range = parseRange(req.header('range'), info.bytes);
    // A finished video never changes, but it is the owner's: browsers may keep it, shared
    // caches may not. An hour spares re-downloads when the page is reopened.
    res.setHeader('Cache-Control', `private, max-age=${VIDEO_MAX_AGE_SEC}`);
    res.setHeader('Content-Type', info.contentType ?? 'video/mp4');
    res.setHeader('Accept-Ranges', 'bytes');
    const disposition = req.query.download !== undefined ? 'attachment' : 'inline';
    res.setHeader('Content-Disposition', `${disposition}; filename="avatar-${job.jobId}.mp4"`);
    if (range === 'invalid') {
      res.setHeader('Content-Range', `bytes */${info.bytes}`);
      throw new ClientError(416, 'bad_range', 'The requested range is outside the video');
    }
    const stream = await deps.blobs.openRead(key, range ?? undefined);
    if (range) {
      res.status(206);
      res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${info.bytes}`);
      res.setHeader('Content-Length', String(range.end - range.start + 1));
    } else {
      res.setHeader('Content-Length', String(info.bytes));
    }
    stream.on('error', (err) => res.destroy(err));
    res.on('close', () => stream.destroy());
    stream.pipe(res);
  });

  router.get('/jobs/:jobId/events', auth, async (req, res) => {
    const job = await ownedJob(deps.store, req);
    streamJobEvents(deps.store, job.jobId, req, res, heartbeatMs, publicBaseUrl(req, deps.publicUrl), deps.eventStreams);
  });

  return router;
}

/** If-None-Match lists one or more entity tags, or `*` (RFC 9110 §13.1.2, weak comparison). */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/**
 * What a watcher can see change. The claim that starts each step only takes the lease
 * (leaseUntil, attempts, updatedAt); the commit that ends it changes the progress. Sending both
 * would show every step twice, so a snapshot that differs only in these fields is not sent.
 */
function visibleState(job: Job): string {
  const { leaseUntil: _lease, attempts: _attempts, updatedAt: _updated, nextRunAt: _next, stepSeq: _seq, ...visible } = job;
  return JSON.stringify(visible);
}

/**
 * Server-Sent Events: one `job` event per visible change of the document, a comment line every
 * `heartbeatMs` so idle proxies keep the stream open, and an `end` event after the terminal
 * snapshot, then the stream closes. On shutdown the stream ends without `end`, after a
 * `retry:` hint and a `reconnect` event: the client reconnects (to another instance) and
 * resumes with the current document.
 */
function streamJobEvents(
  store: JobStore,
  jobId: string,
  req: Request,
  res: Response,
  heartbeatMs: number,
  base: string,
  streams?: EventStreams,
): void {
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('Connection', 'keep-alive');
  res.setHeader('X-Accel-Buffering', 'no'); // nginx-style proxies: do not buffer
  res.flushHeaders();
  res.write('retry: 3000\n\n');

  let lastSent = '';
  let closed = false;
  let ended = false;
  const finish = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    unsubscribe();
    unregister();
    res.end();
  };
  const unregister = streams?.add((retryMs) => {
    if (closed) return;
    res.write(`retry: ${retryMs}\nevent: reconnect\ndata: ${JSON.stringify({ jobId, retryMs })}\n\n`);
    finish();
  }) ?? (() => false);
  const heartbeat = setInterval(() => res.write(`: heartbeat ${new Date().toISOString()}\n\n`), heartbeatMs);
  const unsubscribe = store.watch(
    jobId,
    (job) => {
      if (closed || ended) return;
      const visible = visibleState(job);
      if (visible === lastSent) return;
      lastSent = visible;
      const data = JSON.stringify(presentJob(job, base));
      res.write(`id: ${job.updatedAt}\nevent: job\ndata: ${data}\n\n`);
      if (isTerminal(job.status)) {
        // The job-end hook writes once more (retention dates) right after the terminal
        // snapshot: the stream is over at the first one, so nothing is sent after `end`.
        ended = true;
        res.write(`event: end\ndata: ${JSON.stringify({ jobId, status: job.status })}\n\n`);
        // Let the watcher return before tearing it down.
        setImmediate(finish);
      }
    },
    (err) => {
      if (closed) return;
      res.write(`event: error\ndata: ${JSON.stringify({ code: 'store_unavailable', message: err.message })}\n\n`);
      setImmediate(finish);
    },
  );
  req.on('close', finish);
  if (streams?.isClosing) streams.endAll(1000);
}
