import { InvalidInputError } from '../domain/errors';
import type { Job } from '../domain/job';

/**
 * The paging cursor of JobStore.listByOwner, shared by every adapter so a cursor means the
 * same everywhere: base64url of `[createdAt ISO, jobId]`, the sort key of the last job shown.
 */
export function encodeJobCursor(job: Job): string {
  return Buffer.from(JSON.stringify([job.createdAt, job.jobId])).toString('base64url');
}

/** Null for no cursor; an InvalidInputError `bad_cursor` for one this server did not give out. */
export function decodeJobCursor(cursor: string | null | undefined): { createdAt: string; jobId: string } | null {
  if (!cursor) return null;
  try {
    const [createdAt, jobId] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    // A Firestore document id may not be empty or contain '/'; the SDK would throw a less useful error.
    if (
      typeof createdAt === 'string' &&
      !Number.isNaN(Date.parse(createdAt)) &&
      typeof jobId === 'string' &&
      jobId !== '' &&
      !jobId.includes('/')
    ) {
      return { createdAt, jobId };
    }
  } catch {
    // fall through to the error below
  }
  throw new InvalidInputError('bad_cursor', 'The cursor is not one this server gave out');
}

/** The cursor of JobStore.listOverdue: base64url of `[nextRunAt ISO, jobId]`. */
export function encodeOverdueCursor(job: Job): string {
  return Buffer.from(JSON.stringify([job.nextRunAt, job.jobId])).toString('base64url');
}

export function decodeOverdueCursor(cursor: string | null | undefined): { nextRunAt: string; jobId: string } | null {
  const decoded = decodeJobCursor(cursor);
  return decoded ? { nextRunAt: decoded.createdAt, jobId: decoded.jobId } : null;
}
