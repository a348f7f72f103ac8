import { randomUUID } from 'node:crypto';
import { InvalidInputError, LimitReachedError } from '../../src/domain/errors';
import type { Job, JobStatus } from '../../src/domain/job';
import type { JobPage, JobStore, ProviderStats } from '../../src/ports/jobStore';

/** What an adapter under contract can promise beyond the basics. */
export interface JobStoreCapabilities {
  /**
   * Conflicting updates are serialised (a real transaction engine). False for stand-ins that
   * let two conflicting transactions both commit; the concurrency cases are then skipped.
   */
  atomicTransactions: boolean;
  /** Shown in the skipped cases' names when atomicTransactions is false. */
  skipReason?: string;
}

export interface JobStoreUnderTest {
  store: JobStore;
  teardown: () => Promise<void>;
}

/** A complete job document, every group present, for the given owner and creation time. */
export function makeJob(overrides: Partial<Job> = {}): Job {
  const createdAt = overrides.createdAt ?? '2025-03-01T10:00:00.000Z';
  return {
    jobId: randomUUID(),
    ownerUid: 'owner-a',
    status: 'queued',
    progress: { currentStep: 'avatar.create', stepNumber: 0, totalSteps: 4, percent: 0, message: 'Queued' },
    input: {
      imagePath: 'uploads/x/image.jpg',
      audioPath: 'uploads/x/audio.mp3',
      imageType: 'image/jpeg',
      audioType: 'audio/mpeg',
      instructorName: 'Ada',
      instructorBio: 'Teaches "maths" — and ünïcode',
      imageBytes: 1234,
      audioBytes: 5678,
      audioDurationSec: null,
    },
    provider: { name: 'local', avatarId: null, videoId: null, providerStatus: null, polls: 0 },
    result: null,
    error: null,
    cancelRequested: false,
    stepSeq: 0,
    leaseUntil: null,
    attempts: 0,
    nextRunAt: null,
    createdAt,
    updatedAt: createdAt,
    completedAt: null,
    ...overrides,
  };
}

/** Resolves once `predicate` holds, polling briefly; fails the test after `ms`. */
async function eventually(predicate: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The JobStore contract: every adapter of the port must pass it, so the local SQLite store and
 * the Firestore store behave the same for the pipeline and the API.
 */
export function describeJobStoreContract(
  name: string,
  setup: () => Promise<JobStoreUnderTest>,
  caps: JobStoreCapabilities = { atomicTransactions: true },
): void {
  describe(`JobStore contract: ${name}`, () => {
    let store: JobStore;
    let teardown: () => Promise<void>;

    beforeEach(async () => {
      ({ store, teardown } = await setup());
    });

    afterEach(async () => {
      await teardown();
    });

    describe('create and get', () => {
      test('a stored job comes back exactly as written: every group, every null, the same ISO timestamps', async () => {
        const job = makeJob({ createdAt: '2025-03-01T10:00:00.123Z', updatedAt: '2025-03-01T10:00:01.456Z' });
        await store.create(job);
        expect(await store.get(job.jobId)).toStrictEqual(job);
      });

      test('a finished job with result, error, lease and provider ids round-trips too', async () => {
        const job = makeJob({
          status: 'completed',
          progress: { currentStep: 'done', stepNumber: 4, totalSteps: 4, percent: 100, message: 'Done' },
          input: { ...makeJob().input, audioDurationSec: 12.5 },
          provider: { name: 'visionstory', avatarId: 'av_1', videoId: 'vid_1', providerStatus: 'created', polls: 7 },
          result: { videoPath: 'videos/j.mp4', videoUrl: 'https://example.test/v.mp4', durationSec: 12.48 },
          error: { code: 'provider_bad_response', message: 'kept from an earlier attempt' },
          cancelRequested: true,
          stepSeq: 9,
          leaseUntil: '2025-03-01T10:05:00.000Z',
          attempts: 3,
          nextRunAt: '2025-03-01T10:04:30.000Z',
          completedAt: '2025-03-01T10:06:00.999Z',
        });
        await store.create(job);
        expect(await store.get(job.jobId)).toStrictEqual(job);
      });

      test('optional upload facts left undefined do not stop a job from being stored', async () => {
        const job = makeJob();
        job.input = { ...job.input, imageBytes: undefined, audioBytes: undefined, audioDurationSec: undefined };
        await store.create(job);
        const stored = await store.get(job.jobId);
        expect(stored?.input.imagePath).toBe(job.input.imagePath);
        expect(stored?.input.imageBytes).toBeUndefined();
      });

      test('creating a job whose id exists fails and leaves the first one in place', async () => {
        const job = makeJob();
        await store.create(job);
        await expect(store.create({ ...job, ownerUid: 'intruder' })).rejects.toMatchObject({ code: 'already_exists' });
        expect((await store.get(job.jobId))?.ownerUid).toBe('owner-a');
      });

      test('an unknown id reads as null', async () => {
        expect(await store.get(`missing-${randomUUID()}`)).toBeNull();
      });
    });

    describe('createWithinLimit', () => {
      test("stores the job while its owner is under the limit, counting only that owner's active jobs", async () => {
        for (const status of ['queued', 'processing', 'completed', 'failed', 'cancelled'] as JobStatus[]) {
          await store.create(makeJob({ status }));
        }
        await store.create(makeJob({ ownerUid: 'owner-b' }));
        const job = makeJob();
        await store.createWithinLimit(job, 3);
        expect(await store.get(job.jobId)).toStrictEqual(job);
        expect(await store.countActiveByOwner('owner-a')).toBe(3);
      });

      test('at the limit it refuses with too_many_active_jobs and stores nothing', async () => {
        await store.create(makeJob({ status: 'queued' }));
        await store.create(makeJob({ status: 'processing' }));
        const refused = makeJob();
        const err = await store.createWithinLimit(refused, 2).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(LimitReachedError);
        expect(err).toMatchObject({ code: 'too_many_active_jobs', limit: 2, current: 2 });
        expect(await store.get(refused.jobId)).toBeNull();
        // Another owner is not held back by owner-a's jobs.
        const theirs = makeJob({ ownerUid: 'owner-b' });
        await store.createWithinLimit(theirs, 2);
        expect((await store.get(theirs.jobId))?.ownerUid).toBe('owner-b');
      });

      test('a finished job frees its place', async () => {
        const first = makeJob();
        await store.createWithinLimit(first, 1);
        await expect(store.createWithinLimit(makeJob(), 1)).rejects.toBeInstanceOf(LimitReachedError);
        await store.update(first.jobId, (j) => ({ ...j, status: 'completed' }));
        const second = makeJob();
        await store.createWithinLimit(second, 1);
        expect((await store.get(second.jobId))?.status).toBe('queued');
      });

      test('an id that exists fails with already_exists and leaves the first job in place', async () => {
        const job = makeJob();
        await store.createWithinLimit(job, 5);
        await expect(store.createWithinLimit({ ...job, ownerUid: 'intruder' }, 5)).rejects.toMatchObject({ code: 'already_exists' });
        expect((await store.get(job.jobId))?.ownerUid).toBe('owner-a');
      });
    });

    test('delete removes the job from reads, lists and the active count; deleting twice is fine', async () => {
      const kept = makeJob({ createdAt: '2025-03-01T09:00:00.000Z' });
      const removed = makeJob();
      await store.create(kept);
      await store.create(removed);
      await store.delete(removed.jobId);
      await store.delete(removed.jobId);
      expect(await store.get(removed.jobId)).toBeNull();
      expect((await store.listByOwner('owner-a', { limit: 10 })).jobs.map((j) => j.jobId)).toEqual([kept.jobId]);
      expect(await store.countActiveByOwner('owner-a')).toBe(1);
    });

    describe('listByOwner', () => {
      // Seven jobs for owner-a, three of them created in the same millisecond, plus two of
      // another owner interleaved in time.
      async function seed(): Promise<Job[]> {
        const times = [
          '2025-03-01T10:00:00.000Z',
          '2025-03-01T10:00:02.000Z',
          '2025-03-01T10:00:02.000Z',
          '2025-03-01T10:00:02.000Z',
          '2025-03-01T10:00:03.000Z',
          '2025-03-01T10:00:04.000Z',
          '2025-03-02T09:00:00.000Z',
        ];
        const mine = times.map((createdAt, i) => makeJob({ createdAt, jobId: `job-${String.fromCharCode(97 + ((i * 3) % 7))}` }));
        const theirs = [
          makeJob({ ownerUid: 'owner-b', createdAt: '2025-03-01T10:00:02.000Z' }),
          makeJob({ ownerUid: 'owner-b', createdAt: '2025-03-05T00:00:00.000Z' }),
        ];
        for (const job of [...theirs, ...mine].sort(() => Math.random() - 0.5)) await store.create(job);
        return mine.sort((a, b) => (b.createdAt.localeCompare(a.createdAt) || b.jobId.localeCompare(a.jobId)));
      }

      test("lists only the owner's jobs, newest first, ties broken by jobId descending", async () => {
        const expected = await seed();
        const page = await store.listByOwner('owner-a', { limit: 50 });
        expect(page.jobs.map((j) => j.jobId)).toEqual(expected.map((j) => j.jobId));
        expect(page.jobs[0]).toStrictEqual(expected[0]);
        expect(page.nextCursor).toBeNull();
      });

      test('paging with limit and nextCursor visits every job exactly once, in order', async () => {
        const expected = await seed();
        const seen: string[] = [];
        const pageSizes: number[] = [];
        let cursor: string | null = null;
        do {
          const page: Awaited<ReturnType<JobStore['listByOwner']>> = await store.listByOwner('owner-a', { limit: 2, cursor });
          seen.push(...page.jobs.map((j) => j.jobId));
          pageSizes.push(page.jobs.length);
          cursor = page.nextCursor;
        } while (cursor && pageSizes.length < 10);
        expect(seen).toEqual(expected.map((j) => j.jobId));
        expect(pageSizes).toEqual([2, 2, 2, 1]);
      });

      test('when the last page is exactly full, it says there is no next page', async () => {
        await seed();
        const first = await store.listByOwner('owner-a', { limit: 4 });
        const second = await store.listByOwner('owner-a', { limit: 3, cursor: first.nextCursor });
        expect(second.jobs).toHaveLength(3);
        expect(second.nextCursor).toBeNull();
      });

      test('an owner with no jobs gets an empty page', async () => {
        expect(await store.listByOwner('nobody', { limit: 10 })).toEqual({ jobs: [], nextCursor: null });
      });

      test.each([
        ['not base64 JSON', 'definitely%%not-a-cursor'],
        ['JSON of the wrong shape', Buffer.from('{"a":1}').toString('base64url')],
      ])('a malformed cursor (%s) is invalid input, bad_cursor', async (_label, cursor) => {
        const err = await store.listByOwner('owner-a', { limit: 5, cursor }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(InvalidInputError);
        expect(err).toMatchObject({ code: 'bad_cursor' });
      });
    });

    test('countActiveByOwner counts only queued and processing jobs of that owner', async () => {
      const statuses: JobStatus[] = ['queued', 'processing', 'processing', 'completed', 'failed', 'cancelled'];
      for (const status of statuses) await store.create(makeJob({ status }));
      await store.create(makeJob({ ownerUid: 'owner-b', status: 'queued' }));
      expect(await store.countActiveByOwner('owner-a')).toBe(3);
      expect(await store.countActiveByOwner('owner-b')).toBe(1);
      expect(await store.countActiveByOwner('nobody')).toBe(0);
    });

    describe('listOverdue (the sweep)', () => {
      const cutoff = '2025-03-01T12:00:00.000Z';

      test('finds queued and processing jobs due at or before the cutoff, most overdue first', async () => {
        const due = [
          makeJob({ status: 'processing', nextRunAt: '2025-03-01T11:59:00.000Z' }),
          makeJob({ status: 'queued', nextRunAt: '2025-03-01T09:00:00.000Z' }),
          makeJob({ status: 'processing', nextRunAt: cutoff }),
        ];
        const notDue = [
          makeJob({ status: 'processing', nextRunAt: '2025-03-01T12:00:00.001Z' }),
          makeJob({ status: 'failed', nextRunAt: '2025-03-01T08:00:00.000Z' }),
          makeJob({ status: 'completed', nextRunAt: '2025-03-01T08:00:00.000Z' }),
          makeJob({ status: 'cancelled', nextRunAt: '2025-03-01T08:00:00.000Z' }),
          makeJob({ status: 'processing', nextRunAt: null }),
        ];
        for (const job of [...due, ...notDue]) await store.create(job);
        const page = await store.listOverdue(cutoff, { limit: 10 });
        expect(page.jobs.map((j) => j.jobId)).toEqual([due[1]!.jobId, due[0]!.jobId, due[2]!.jobId]);
        expect(page.nextCursor).toBeNull();
        expect(page.jobs[0]).toEqual(due[1]);
      });

      test('pages through a backlog larger than one page, every job once, ties ordered by jobId', async () => {
        const jobs: Job[] = [];
        for (let i = 0; i < 7; i += 1) {
          // Pairs share a nextRunAt, so the cursor must break ties.
          const nextRunAt = new Date(Date.parse('2025-03-01T10:00:00.000Z') + Math.floor(i / 2) * 60_000).toISOString();
          jobs.push(makeJob({ status: i % 2 ? 'queued' : 'processing', nextRunAt }));
        }
        for (const job of jobs) await store.create(job);
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const page: JobPage = await store.listOverdue(cutoff, { limit: 3, cursor });
          expect(page.jobs.length).toBeLessThanOrEqual(3);
          seen.push(...page.jobs.map((j) => j.jobId));
          cursor = page.nextCursor;
          pages += 1;
        } while (cursor && pages < 10);
        const expected = [...jobs]
          .sort((a, b) => a.nextRunAt!.localeCompare(b.nextRunAt!) || (a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0))
          .map((j) => j.jobId);
        expect(seen).toEqual(expected);
        expect(pages).toBe(3);
      });

      test('a job that was rescued (nextRunAt moved past the cutoff) leaves the query', async () => {
        const job = makeJob({ status: 'processing', nextRunAt: '2025-03-01T10:00:00.000Z' });
        await store.create(job);
        expect((await store.listOverdue(cutoff, { limit: 5 })).jobs).toHaveLength(1);
        await store.update(job.jobId, (j) => ({ ...j, nextRunAt: '2025-03-01T12:30:00.000Z', rescues: 1 }));
        expect((await store.listOverdue(cutoff, { limit: 5 })).jobs).toHaveLength(0);
      });
    });

    describe('update', () => {
      test('applies the mutation, stores it, and says it changed', async () => {
        const job = makeJob();
        await store.create(job);
        const result = await store.update(job.jobId, (j) => ({
          ...j,
          status: 'processing',
          stepSeq: j.stepSeq + 1,
          leaseUntil: '2025-03-01T10:10:00.000Z',
          updatedAt: '2025-03-01T10:01:00.000Z',
        }));
        expect(result.changed).toBe(true);
        expect(result.job).toMatchObject({ status: 'processing', stepSeq: 1, leaseUntil: '2025-03-01T10:10:00.000Z' });
        expect(await store.get(job.jobId)).toStrictEqual({
          ...job,
          status: 'processing',
          stepSeq: 1,
          leaseUntil: '2025-03-01T10:10:00.000Z',
          updatedAt: '2025-03-01T10:01:00.000Z',
        });
      });

      test('a mutation that declines (returns null) changes nothing and returns the current document', async () => {
        const job = makeJob();
        await store.create(job);
        const result = await store.update(job.jobId, () => null);
        expect(result).toEqual({ job, changed: false });
        expect(await store.get(job.jobId)).toStrictEqual(job);
      });

      test('updating an unknown job reports no job and never calls the mutation with nothing', async () => {
        const mutate = jest.fn((j: Job) => j);
        expect(await store.update(`missing-${randomUUID()}`, mutate)).toEqual({ job: null, changed: false });
        expect(mutate).not.toHaveBeenCalled();
      });

      test('a status change moves the job in and out of the active count', async () => {
        const job = makeJob();
        await store.create(job);
        expect(await store.countActiveByOwner('owner-a')).toBe(1);
        await store.update(job.jobId, (j) => ({ ...j, status: 'completed' }));
        expect(await store.countActiveByOwner('owner-a')).toBe(0);
      });
    });

    describe('watch', () => {
      test('delivers the current document first, then each change in order, and nothing after unsubscribe', async () => {
        const job = makeJob();
        await store.create(job);
        const seen: Job[] = [];
        const errors: Error[] = [];
        const stop = store.watch(job.jobId, (j) => seen.push(j), (e) => errors.push(e));
        try {
          await eventually(() => seen.length >= 1);
          expect(seen[0]).toStrictEqual(job);
          for (const percent of [10, 20]) {
            const before = seen.length;
            await store.update(job.jobId, (j) => ({ ...j, progress: { ...j.progress, percent } }));
            await eventually(() => seen.length > before);
          }
          expect(seen.map((j) => j.progress.percent)).toEqual([0, 10, 20]);
        } finally {
          stop();
        }
        await store.update(job.jobId, (j) => ({ ...j, progress: { ...j.progress, percent: 30 } }));
        await pause(300);
        expect(seen.map((j) => j.progress.percent)).toEqual([0, 10, 20]);
        expect(errors).toEqual([]);
      });

      test('watching a job before it exists delivers it once it is created', async () => {
        const job = makeJob();
        const seen: Job[] = [];
        const stop = store.watch(job.jobId, (j) => seen.push(j));
        try {
          await pause(100);
          expect(seen).toEqual([]);
          await store.create(job);
          await eventually(() => seen.length >= 1);
          expect(seen[0]).toStrictEqual(job);
        } finally {
          stop();
        }
      });
    });

    describe('the end of a job: retention and delete', () => {
      test('a finished job with its expiry dates and callback URL round-trips exactly', async () => {
        const job = makeJob({
          status: 'completed',
          input: { ...makeJob().input, callbackUrl: 'https://hooks.example.com/avatar' },
          result: { videoPath: 'videos/j.mp4', videoUrl: '/jobs/j/video', durationSec: 3, expiresAt: '2025-04-01T10:00:00.000Z' },
          completedAt: '2025-03-02T10:00:00.000Z',
          expireAt: '2025-06-01T10:00:00.000Z',
        });
        await store.create(job);
        expect(await store.get(job.jobId)).toStrictEqual(job);
      });

      test('listEndedBefore returns finished jobs that ended before the date, oldest first, and no running job', async () => {
        const owner = `owner-${randomUUID()}`;
        const ended = (day: string, status: JobStatus = 'completed') =>
          makeJob({ ownerUid: owner, status, completedAt: `2020-01-${day}T00:00:00.000Z` });
        const older = ended('02', 'failed');
        const old = ended('05');
        const recent = ended('20', 'cancelled');
        const running = makeJob({ ownerUid: owner, status: 'processing' });
        for (const job of [recent, old, running, older]) await store.create(job);

        const due = (await store.listEndedBefore('2020-01-10T00:00:00.000Z', 10)).filter((j) => j.ownerUid === owner);
        expect(due.map((j) => j.jobId)).toEqual([older.jobId, old.jobId]);
        const first = (await store.listEndedBefore('2020-01-10T00:00:00.000Z', 1)).filter((j) => j.ownerUid === owner);
        expect(first.map((j) => j.jobId)).toEqual([older.jobId]);
      });

      test('delete removes the document; deleting it again is not an error', async () => {
        const job = makeJob();
        await store.create(job);
        await store.delete(job.jobId);
        expect(await store.get(job.jobId)).toBeNull();
        await expect(store.delete(job.jobId)).resolves.toBeUndefined();
      });
    });

    describe('provider stats (what predictive polling learns)', () => {
      const stats = (provider: string, samples: number, meanLogK: number): ProviderStats => ({
        provider,
        samples,
        meanLogK,
        m2LogK: 0.25 * samples,
        updatedAt: '2025-03-01T10:00:00.000Z',
      });

      test('a provider that never finished a render has no stats', async () => {
        await expect(store.getProviderStats('visionstory')).resolves.toBeNull();
      });

      test('the first update sees nothing, the next sees what it wrote, and each provider keeps its own', async () => {
        const seen: (ProviderStats | null)[] = [];
        await store.updateProviderStats('visionstory', (current) => {
          seen.push(current);
          return stats('visionstory', 1, 2.3);
        });
        const second = await store.updateProviderStats('visionstory', (current) => {
          seen.push(current);
          return stats('visionstory', (current?.samples ?? 0) + 1, 2.4);
        });
        await store.updateProviderStats('local-render', () => stats('local-render', 1, 0.1));
        expect(seen[0]).toBeNull();
        expect(seen[seen.length - 1]).toEqual(stats('visionstory', 1, 2.3));
        expect(second).toEqual(stats('visionstory', 2, 2.4));
        await expect(store.getProviderStats('visionstory')).resolves.toEqual(stats('visionstory', 2, 2.4));
        await expect(store.getProviderStats('local-render')).resolves.toEqual(stats('local-render', 1, 0.1));
      });

      (caps.atomicTransactions ? test : test.skip)('when 10 finished renders update the stats at once, all 10 are counted', async () => {
        await Promise.all(
          Array.from({ length: 10 }, () =>
            // A provider of its own: the stats documents of the cases above may still be there.
            store.updateProviderStats('burst-provider', (current) => stats('burst-provider', (current?.samples ?? 0) + 1, 2.3)),
          ),
        );
        expect((await store.getProviderStats('burst-provider'))?.samples).toBe(10);
      });
    });

    test('ping answers while the store is reachable', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    describe('concurrency', () => {
      const concurrent = caps.atomicTransactions ? test : test.skip;
      const because = caps.atomicTransactions ? '' : ` (${caps.skipReason ?? 'this adapter has no atomic transactions'})`;

      concurrent(`when 20 updates race to increment a counter, all 20 land${because}`, async () => {
        const job = makeJob();
        await store.create(job);
        const results = await Promise.all(
          Array.from({ length: 20 }, () => store.update(job.jobId, (j) => ({ ...j, attempts: j.attempts + 1 }))),
        );
        expect(results.every((r) => r.changed)).toBe(true);
        expect((await store.get(job.jobId))?.attempts).toBe(20);
      });

      concurrent(`when two workers claim the same free job at once, exactly one wins${because}`, async () => {
        const job = makeJob();
        await store.create(job);
        const claim = (worker: string) =>
          store.update(job.jobId, (j) =>
            j.leaseUntil === null
              ? { ...j, leaseUntil: '2025-03-01T10:10:00.000Z', provider: { ...j.provider, providerStatus: worker } }
              : null,
          );
        const [a, b] = await Promise.all([claim('worker-1'), claim('worker-2')]);
        expect([a.changed, b.changed].filter(Boolean)).toHaveLength(1);
        const winner = a.changed ? 'worker-1' : 'worker-2';
        expect((await store.get(job.jobId))?.provider.providerStatus).toBe(winner);
      });

      concurrent(`when 12 creations for one owner race with a limit of 5, exactly 5 are stored${because}`, async () => {
        await store.create(makeJob({ ownerUid: 'owner-b' }));
        const jobs = Array.from({ length: 12 }, () => makeJob({ ownerUid: 'burst-owner' }));
        const outcomes = await Promise.allSettled(jobs.map((job) => store.createWithinLimit(job, 5)));
        const stored = outcomes.filter((o) => o.status === 'fulfilled');
        const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
        expect(stored).toHaveLength(5);
        expect(refused.map((o) => (o.reason as LimitReachedError).code)).toEqual(Array(7).fill('too_many_active_jobs'));
        expect(await store.countActiveByOwner('burst-owner')).toBe(5);
        expect((await store.listByOwner('burst-owner', { limit: 100 })).jobs).toHaveLength(5);
        // Exactly the creations that answered success are the ones stored.
        const accepted = jobs.filter((_, i) => outcomes[i]!.status === 'fulfilled').map((j) => j.jobId).sort();
        expect((await store.listByOwner('burst-owner', { limit: 100 })).jobs.map((j) => j.jobId).sort()).toEqual(accepted);
      });
    });
  });
}
