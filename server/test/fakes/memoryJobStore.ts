import { EventEmitter } from 'node:events';
import { decodeJobCursor, decodeOverdueCursor, encodeJobCursor, encodeOverdueCursor, pageOf } from '../../src/adapters/jobCursor';
import { PermanentError, activeJobLimitReached } from '../../src/domain/errors';
import { isTerminal, type Job } from '../../src/domain/job';
import type { JobMutation, JobPage, JobStore, ProviderStats, Unsubscribe, UpdateResult } from '../../src/ports/jobStore';

/** Stored as JSON text, as the real stores keep a document: a caller can never change what is stored by holding a reference. */
type Stored = { doc: string; version: number };

const ACTIVE = (job: Job): boolean => job.status === 'queued' || job.status === 'processing';

/**
 * JobStore in memory, for tests that need the pipeline without a database. It passes the same
 * contract suite as the SQLite and Firestore stores (server/test/contract/memoryJobStore.contract.test.ts).
 * Every read-modify-write runs synchronously between two awaits, so updates are atomic.
 */
export class MemoryJobStore implements JobStore {
  private readonly jobs = new Map<string, Stored>();
  private readonly stats = new Map<string, string>();
  private readonly events = new EventEmitter().setMaxListeners(0);
  private closed = false;
  /** Every write gets a new version, across documents, so a re-created id never repeats one. */
  private writes = 0;

  async create(job: Job): Promise<void> {
    this.insert(job);
  }

  async createWithinLimit(job: Job, maxActive: number): Promise<void> {
    // Counted and inserted with no await in between: nothing can interleave.
    const current = this.activeOf(job.ownerUid);
    if (current >= maxActive) throw activeJobLimitReached(current, maxActive);
    this.insert(job);
  }

  async get(jobId: string): Promise<Job | null> {
    const row = this.jobs.get(jobId);
    return row ? parse(row.doc) : null;
  }

  async listByOwner(ownerUid: string, options: { limit: number; cursor?: string | null }): Promise<JobPage> {
    const limit = Math.max(1, Math.min(Math.floor(options.limit) || 1, 100));
    const after = decodeJobCursor(options.cursor);
    const jobs = this.all()
      .filter((j) => j.ownerUid === ownerUid)
      .filter((j) => !after || j.createdAt < after.createdAt || (j.createdAt === after.createdAt && j.jobId < after.jobId))
      .sort((a, b) => compare(b.createdAt, a.createdAt) || compare(b.jobId, a.jobId));
    return pageOf(jobs, limit, (j) => j, encodeJobCursor);
  }

  async countActiveByOwner(ownerUid: string): Promise<number> {
    return this.activeOf(ownerUid);
  }

  async listOverdue(cutoff: string, options: { limit: number; cursor?: string | null }): Promise<JobPage> {
    const limit = Math.max(1, Math.min(Math.floor(options.limit) || 1, 500));
    const after = decodeOverdueCursor(options.cursor);
    const at = new Date(cutoff).toISOString();
    const jobs = this.all()
      .filter((j): j is Job & { nextRunAt: string } => ACTIVE(j) && j.nextRunAt !== null && j.nextRunAt <= at)
      .filter((j) => !after || j.nextRunAt > after.nextRunAt || (j.nextRunAt === after.nextRunAt && j.jobId > after.jobId))
      .sort((a, b) => compare(a.nextRunAt, b.nextRunAt) || compare(a.jobId, b.jobId));
    return pageOf(jobs, limit, (j) => j, encodeOverdueCursor);
  }

  async update(jobId: string, mutate: JobMutation): Promise<UpdateResult> {
    const row = this.jobs.get(jobId);
    if (!row) return { job: null, changed: false };
    const current = parse(row.doc);
    const next = mutate(current);
    if (!next) return { job: current, changed: false };
    this.jobs.set(jobId, { doc: JSON.stringify(next), version: ++this.writes });
    this.events.emit(jobId);
    return { job: parse(JSON.stringify(next)), changed: true };
  }

  watch(jobId: string, onSnapshot: (job: Job) => void): Unsubscribe {
    let seen = -1;
    let stopped = false;
    const check = (): void => {
      const row = this.jobs.get(jobId);
      if (stopped || this.closed || !row || row.version === seen) return;
      seen = row.version;
      onSnapshot(parse(row.doc));
    };
    this.events.on(jobId, check);
    queueMicrotask(check);
    return () => {
      stopped = true;
      this.events.off(jobId, check);
    };
  }

  async delete(jobId: string): Promise<void> {
    this.jobs.delete(jobId);
  }

  async listEndedBefore(before: string, limit: number): Promise<Job[]> {
    return this.all()
      .filter((j) => isTerminal(j.status) && j.completedAt !== null && j.completedAt < before)
      .sort((a, b) => compare(a.completedAt ?? '', b.completedAt ?? ''))
      .slice(0, Math.max(1, Math.floor(limit)));
  }

  async getProviderStats(provider: string): Promise<ProviderStats | null> {
    const doc = this.stats.get(provider);
    return doc ? (JSON.parse(doc) as ProviderStats) : null;
  }

  async updateProviderStats(provider: string, mutate: (current: ProviderStats | null) => ProviderStats): Promise<ProviderStats> {
    const doc = this.stats.get(provider);
    const next = mutate(doc ? (JSON.parse(doc) as ProviderStats) : null);
    this.stats.set(provider, JSON.stringify(next));
    return next;
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error('the store is closed');
  }

  async close(): Promise<void> {
    this.closed = true;
    this.events.removeAllListeners();
  }

  private insert(job: Job): void {
    if (this.jobs.has(job.jobId)) throw new PermanentError('already_exists', `Job ${job.jobId} already exists`);
    this.jobs.set(job.jobId, { doc: JSON.stringify(job), version: ++this.writes });
    this.events.emit(job.jobId);
  }

  private activeOf(ownerUid: string): number {
    return this.all().filter((j) => j.ownerUid === ownerUid && ACTIVE(j)).length;
  }

  private all(): Job[] {
    return [...this.jobs.values()].map((row) => parse(row.doc));
  }
}

function parse(doc: string): Job {
  return JSON.parse(doc) as Job;
}

/** Code-unit order, as SQLite and Firestore compare strings. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
