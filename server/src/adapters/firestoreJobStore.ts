import { FieldPath, Timestamp, type DocumentData, type Firestore } from 'firebase-admin/firestore';
import { RetryableError, PermanentError, activeJobLimitReached } from '../domain/errors';
import { decodeJobCursor, decodeOverdueCursor, encodeJobCursor, encodeOverdueCursor } from './jobCursor';
import type { Job } from '../domain/job';
import type { JobMutation, JobPage, JobStore, ProviderStats, Unsubscribe, UpdateResult } from '../ports/jobStore';

/** The fields the Flutter app orders and displays as dates: stored as Firestore Timestamps. */
const TIMESTAMP_FIELDS = ['createdAt', 'updatedAt', 'completedAt', 'leaseUntil', 'nextRunAt', 'expireAt'] as const;
/** Nested dates, stored as Timestamps too (`expireAt` must be one for the TTL policy to act). */
const RESULT_TIMESTAMP_FIELDS = ['expiresAt'] as const;

const ACTIVE_STATUSES = ['queued', 'processing'];

/** gRPC codes that mean "try again later": ABORTED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAVAILABLE. */
const TRANSIENT_CODES = new Set([10, 4, 8, 14]);

export interface FirestoreJobStoreOptions {
  /** From `getFirestore(app)`; closed by {@link FirestoreJobStore.close}. */
  firestore: Firestore;
  /** Collection holding one document per job, id = jobId. */
  collection?: string;
  /** Collection holding one small stats document per provider, id = provider name. */
  statsCollection?: string;
  /** How long {@link FirestoreJobStore.ping} waits before declaring the store unreachable. */
  pingTimeoutMs?: number;
}

/**
 * Jobs in Cloud Firestore (production): `avatarJobs/{jobId}` documents in exactly the shape
 * of the Job type, which the Flutter app reads with a listener, so timestamps are stored as
 * Firestore Timestamps and turned back into ISO strings here.
 *
 * `update` runs in a Firestore transaction: the mutation may run more than once when
 * transactions contend, which is why the port requires it to be pure.
 *
 * The owner list needs the composite index in infra/firestore.indexes.json
 * (ownerUid asc, createdAt desc; its implicit document-name tie-break is desc too), and the
 * sweep's overdue query the index (status asc, nextRunAt asc).
 */
export class FirestoreJobStore implements JobStore {
  private readonly db: Firestore;
  private readonly collectionName: string;
  private readonly pingTimeoutMs: number;
  private readonly statsCollectionName: string;

  constructor(options: FirestoreJobStoreOptions) {
    this.db = options.firestore;
    this.collectionName = options.collection ?? 'avatarJobs';
    this.statsCollectionName = options.statsCollection ?? 'providerStats';
    this.pingTimeoutMs = options.pingTimeoutMs ?? 5000;
  }

  private get jobs() {
    return this.db.collection(this.collectionName);
  }

  async create(job: Job): Promise<void> {
    // create() carries an "must not exist" precondition: a second create with the same id fails
    // with ALREADY_EXISTS instead of overwriting the job.
    await alreadyExistsAsPermanent(job, () => guard(() => this.jobs.doc(job.jobId).create(toDocument(job))));
  }

  /**
   * One transaction reads the owner's active jobs (at most `maxActive` of them: that is all the
   * decision needs) and creates the job. Firestore transactions are serialisable and a query
   * read inside one is protected against inserts into its result set: two creations for one
   * owner conflict, one commits and the other is re-run and sees the new job (measured on
   * Google's emulator by the contract's burst case). Jobs leave the active set only outside
   * creations, which can make a racing creation refuse early, never pass late.
   */
  async createWithinLimit(job: Job, maxActive: number): Promise<void> {
    const jobRef = this.jobs.doc(job.jobId);
    const active = this.jobs
      .where('ownerUid', '==', job.ownerUid)
      .where('status', 'in', ACTIVE_STATUSES)
      .select()
      .limit(maxActive);
    await alreadyExistsAsPermanent(job, () =>
      guard(() =>
        this.db.runTransaction(
          async (tx) => {
            const current = await tx.get(active);
            if (current.size >= maxActive) throw activeJobLimitReached(current.size, maxActive);
            tx.create(jobRef, toDocument(job));
          },
          // A burst from one owner contends by design; each re-run is one query and one commit.
          { maxAttempts: 25 },
        ),
      ),
    );
  }

  async delete(jobId: string): Promise<void> {
    await guard(() => this.jobs.doc(jobId).delete());
  }

  async get(jobId: string): Promise<Job | null> {
    const snap = await guard(() => this.jobs.doc(jobId).get());
    return snap.exists ? fromDocument(snap.data()!) : null;
  }

  async listByOwner(ownerUid: string, options: { limit: number; cursor?: string | null }): Promise<JobPage> {
    const limit = Math.max(1, Math.min(Math.floor(options.limit) || 1, 100));
    const cursor = decodeJobCursor(options.cursor);
    const after = cursor ? { createdAt: Timestamp.fromDate(new Date(cursor.createdAt)), jobId: cursor.jobId } : null;
    // The security rules let a client list only with ownerUid == its uid; the server uses the
    // same filter. Ties on createdAt are broken by the document id, descending, so a cursor of
    // [createdAt, jobId] names one exact position.
    let query = this.jobs
      .where('ownerUid', '==', ownerUid)
      .orderBy('createdAt', 'desc')
      .orderBy(FieldPath.documentId(), 'desc');
    if (after) query = query.startAfter(after.createdAt, after.jobId);
    // One extra document tells whether another page exists without a second query.
    const snap = await guard(() => query.limit(limit + 1).get());
    const jobs = snap.docs.slice(0, limit).map((d) => fromDocument(d.data()));
    const last = jobs[jobs.length - 1];
    return { jobs, nextCursor: snap.size > limit && last ? encodeJobCursor(last) : null };
  }

  async countActiveByOwner(ownerUid: string): Promise<number> {
    // A count aggregation is billed as one read per 1000 index entries, not one per job.
    const snap = await guard(() =>
      this.jobs.where('ownerUid', '==', ownerUid).where('status', 'in', ACTIVE_STATUSES).count().get(),
    );
    return snap.data().count;
  }

  async listOverdue(cutoff: string, options: { limit: number; cursor?: string | null }): Promise<JobPage> {
    const limit = Math.max(1, Math.min(Math.floor(options.limit) || 1, 500));
    const after = decodeOverdueCursor(options.cursor);
    // Served by the composite index (status asc, nextRunAt asc); the document-name tie-break
    // follows the last order (asc), so [nextRunAt, jobId] names one exact position.
    let query = this.jobs
      .where('status', 'in', ACTIVE_STATUSES)
      .where('nextRunAt', '<=', Timestamp.fromDate(new Date(cutoff)))
      .orderBy('nextRunAt', 'asc')
      .orderBy(FieldPath.documentId(), 'asc');
    if (after) query = query.startAfter(Timestamp.fromDate(new Date(after.nextRunAt)), after.jobId);
    const snap = await guard(() => query.limit(limit + 1).get());
    const jobs = snap.docs.slice(0, limit).map((d) => fromDocument(d.data()));
    const last = jobs[jobs.length - 1];
    return { jobs, nextCursor: snap.size > limit && last ? encodeOverdueCursor(last) : null };
  }

  async update(jobId: string, mutate: JobMutation): Promise<UpdateResult> {
    const ref = this.jobs.doc(jobId);
    return guard(() =>
      this.db.runTransaction(
        async (tx): Promise<UpdateResult> => {
          const snap = await tx.get(ref);
          if (!snap.exists) return { job: null, changed: false };
          const current = fromDocument(snap.data()!);
          const next = mutate(current);
          if (!next) return { job: current, changed: false };
          // set() replaces the document, so fields the mutation removed do not linger.
          tx.set(ref, toDocument({ ...next, jobId }));
          return { job: next, changed: true };
        },
        // Claims and transitions of one job rarely contend; a few more attempts than the
        // default five keep a burst of duplicate deliveries from surfacing as errors.
        { maxAttempts: 10 },
      ),
    );
  }

  async listEndedBefore(before: string, limit: number): Promise<Job[]> {
    // Only finished jobs have a completedAt; a range filter on one field needs no composite index.
    const snap = await guard(() =>
      this.jobs
        .where('completedAt', '<', Timestamp.fromDate(new Date(before)))
        .orderBy('completedAt', 'asc')
        .limit(Math.max(1, Math.floor(limit)))
        .get(),
    );
    return snap.docs.map((d) => fromDocument(d.data()));
  }

  watch(jobId: string, onSnapshot: (job: Job) => void, onError?: (err: Error) => void): Unsubscribe {
    let lastUpdate: Timestamp | undefined;
    return this.jobs.doc(jobId).onSnapshot(
      (snap) => {
        if (!snap.exists || !snap.updateTime) return;
        // After a reconnect the listener may deliver the same version again; pass on changes only.
        if (lastUpdate && snap.updateTime.isEqual(lastUpdate)) return;
        lastUpdate = snap.updateTime;
        onSnapshot(fromDocument(snap.data()!));
      },
      (err) => onError?.(translate(err)),
    );
  }

  async getProviderStats(provider: string): Promise<ProviderStats | null> {
    const snap = await guard(() => this.db.collection(this.statsCollectionName).doc(provider).get());
    return snap.exists ? (snap.data() as ProviderStats) : null;
  }

  async updateProviderStats(provider: string, mutate: (current: ProviderStats | null) => ProviderStats): Promise<ProviderStats> {
    const ref = this.db.collection(this.statsCollectionName).doc(provider);
    // Every finished render of a provider writes this one document: transactions on it contend
    // under load, hence more attempts than the default five.
    return guard(() =>
      this.db.runTransaction(
        async (tx) => {
          const snap = await tx.get(ref);
          const next = mutate(snap.exists ? (snap.data() as ProviderStats) : null);
          tx.set(ref, withoutUndefined(next) as DocumentData);
          return next;
        },
        { maxAttempts: 20 },
      ),
    );
  }

  async ping(): Promise<void> {
    // The cheapest real round trip: at most one document name (select() with no fields).
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new RetryableError('store_unavailable', `Firestore did not answer in ${this.pingTimeoutMs} ms`)),
        this.pingTimeoutMs,
      );
    });
    const read = guard(() => this.jobs.select().limit(1).get());
    // The client keeps retrying an unreachable backend long after we gave up; its eventual
    // rejection is expected and must not surface as an unhandled one.
    read.catch(() => undefined);
    try {
      await Promise.race([read, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.db.terminate();
  }
}

/**
 * The stored document: the Job with its timestamps as Firestore Timestamps. Undefined optional
 * fields are dropped here, because Firestore rejects `undefined` unless the app happened to
 * set `ignoreUndefinedProperties`, which this adapter does not rely on.
 */
function toDocument(job: Job): DocumentData {
  const doc = withoutUndefined(job) as DocumentData;
  for (const field of TIMESTAMP_FIELDS) {
    const value = job[field];
    if (value === null || value === undefined) continue;
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) throw new TypeError(`Job ${job.jobId}: ${field} is not an ISO date: ${value}`);
    doc[field] = Timestamp.fromDate(date);
  }
  if (job.result) {
    for (const field of RESULT_TIMESTAMP_FIELDS) {
      const value = job.result[field];
      if (typeof value === 'string') doc.result[field] = Timestamp.fromDate(new Date(value));
    }
  }
  return doc;
}

function fromDocument(data: DocumentData): Job {
  const job = { ...data };
  for (const field of TIMESTAMP_FIELDS) {
    const value = job[field];
    if (value instanceof Timestamp) job[field] = value.toDate().toISOString();
  }
  if (job.result && typeof job.result === 'object') {
    const result = { ...job.result };
    for (const field of RESULT_TIMESTAMP_FIELDS) {
      if (result[field] instanceof Timestamp) result[field] = result[field].toDate().toISOString();
    }
    job.result = result;
  }
  return job as Job;
}

function withoutUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutUndefined);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = withoutUndefined(v);
  return out;
}

async function alreadyExistsAsPermanent(job: Job, operation: () => Promise<unknown>): Promise<void> {
  try {
    await operation();
  } catch (err) {
    if ((err as { code?: unknown }).code === 6 || (err as { cause?: { code?: unknown } }).cause?.code === 6) {
      throw new PermanentError('already_exists', `Job ${job.jobId} already exists`, { cause: err });
    }
    throw err;
  }
}

async function guard<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    throw translate(err);
  }
}

/** Transient Firestore failures become RetryableError, so the delivery (or the client) is retried later. */
function translate(err: unknown): Error {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'number' && TRANSIENT_CODES.has(code)) {
    return new RetryableError('store_unavailable', `Firestore: ${(err as Error).message}`, { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}
