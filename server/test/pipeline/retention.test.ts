import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { LocalBlobStore } from '../../src/adapters/localBlobStore';
import { SqliteJobStore } from '../../src/adapters/sqliteJobStore';
import { silentLogger } from '../../src/logger';
import { sweepRetention, withRetention } from '../../src/pipeline/lifecycle';
import type { TaskQueue } from '../../src/ports/taskQueue';
import { makeJob } from '../contract/jobStore.contract';

const DAY = 24 * 3600 * 1000;
const retention = { uploadDays: 7, videoDays: 30, jobDays: 90 };

describe('the local retention sweep, on a clock', () => {
  let dir: string;
  let store: SqliteJobStore;
  let blobs: LocalBlobStore;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'retention-'));
    store = new SqliteJobStore({ file: path.join(dir, 'jobs.sqlite') });
    blobs = new LocalBlobStore({ rootDir: path.join(dir, 'blobs') });
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function endedJob(endedAt: string) {
    const base = makeJob();
    const job = withRetention(
      {
        ...base,
        status: 'completed',
        input: { ...base.input, imagePath: `uploads/${base.jobId}/image.jpg`, audioPath: `uploads/${base.jobId}/audio.mp3` },
        result: { videoPath: `videos/${base.jobId}.mp4`, videoUrl: `/jobs/${base.jobId}/video`, durationSec: 1 },
        completedAt: endedAt,
      },
      endedAt,
      retention,
    );
    await store.create(job);
    for (const key of [job.input.imagePath, job.input.audioPath, job.result!.videoPath]) {
      await blobs.putStream(key, Readable.from([Buffer.from('x')]));
    }
    return job;
  }

  const sweepAt = (now: number) =>
    sweepRetention({ store, blobs, queue: {} as TaskQueue, retention, logger: silentLogger, now: () => new Date(now) });

  test('uploads go after 7 days, the video after 30, the document and everything left after 90', async () => {
    const end = Date.parse('2025-01-01T00:00:00.000Z');
    const job = await endedJob(new Date(end).toISOString());
    expect(job.result!.expiresAt).toBe('2025-01-31T00:00:00.000Z');
    expect(job.expireAt).toBe('2025-04-01T00:00:00.000Z');

    expect(await sweepAt(end + 6 * DAY)).toEqual({ uploads: 0, videos: 0, jobs: 0 });
    expect(await sweepAt(end + 7 * DAY)).toEqual({ uploads: 2, videos: 0, jobs: 0 });
    expect(await blobs.stat(job.input.imagePath)).toBeNull();
    expect(await blobs.stat(job.result!.videoPath)).not.toBeNull();
    expect(await sweepAt(end + 8 * DAY)).toEqual({ uploads: 0, videos: 0, jobs: 0 }); // nothing twice
    expect(await sweepAt(end + 30 * DAY)).toEqual({ uploads: 0, videos: 1, jobs: 0 });
    expect(await blobs.stat(job.result!.videoPath)).toBeNull();
    expect(await store.get(job.jobId)).not.toBeNull();
    expect(await sweepAt(end + 90 * DAY)).toEqual({ uploads: 0, videos: 0, jobs: 1 });
    expect(await store.get(job.jobId)).toBeNull();
  });

  test('a running job is never swept, however old', async () => {
    const running = makeJob({ status: 'processing', createdAt: '2020-01-01T00:00:00.000Z' });
    await store.create(running);
    expect(await sweepAt(Date.parse('2025-01-01T00:00:00.000Z'))).toEqual({ uploads: 0, videos: 0, jobs: 0 });
    expect(await store.get(running.jobId)).not.toBeNull();
  });
});
