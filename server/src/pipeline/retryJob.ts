import path from 'node:path';
import { uploadKey } from '../domain/blobKeys';
import { ConflictError, GoneError, NotFoundError } from '../domain/errors';
import { isTerminal, type Job } from '../domain/job';
import type { BlobStore } from '../ports/blobStore';
import { checkActiveLimit, createJob, type JobsDeps } from './createJob';

/**
 * A new job from a failed or cancelled job's photo and recording. The uploads are copied to the
 * new job's own keys, so whatever later happens to the old job's files (retention, deletion)
 * cannot break the new one. The per-user limit applies as for any new job. Any failure removes
 * the copies made so far: a refused retry leaves nothing behind.
 */
export async function retryJob(deps: JobsDeps, blobs: BlobStore, job: Job, newJobId: string): Promise<Job> {
  if (job.status === 'completed') throw new ConflictError('job_completed', 'The job is completed; there is nothing to retry');
  if (!isTerminal(job.status)) {
    throw new ConflictError('job_running', `The job is still ${job.status}; cancel it or wait for it to finish before retrying`);
  }
  await checkActiveLimit(deps, job.ownerUid);
  const sources = [
    { field: 'image' as const, key: job.input.imagePath },
    { field: 'audio' as const, key: job.input.audioPath },
  ];
  const infos = await Promise.all(sources.map((s) => blobs.stat(s.key)));
  if (infos.some((info) => !info)) {
    throw new GoneError('uploads_gone', 'The photo or the recording of this job is no longer kept; send them again');
  }
  const copied: string[] = [];
  const keys: Record<'image' | 'audio', string> = { image: '', audio: '' };
  try {
    for (const [i, source] of sources.entries()) {
      const ext = path.extname(source.key).slice(1) || 'bin';
      const key = uploadKey(newJobId, source.field, ext);
      copied.push(key);
      const stream = await blobs.openRead(source.key);
      await blobs.putStream(key, stream, { contentType: infos[i]!.contentType ?? undefined, sha256: false });
      keys[source.field] = key;
    }
    return await createJob(deps, {
      jobId: newJobId,
      ownerUid: job.ownerUid,
      input: { ...job.input, imagePath: keys.image, audioPath: keys.audio },
    });
  } catch (err) {
    await Promise.all(copied.map((key) => blobs.delete(key).catch(() => undefined)));
    if (err instanceof NotFoundError) {
      throw new GoneError('uploads_gone', 'The photo or the recording of this job is no longer kept; send them again');
    }
    throw err;
  }
}
