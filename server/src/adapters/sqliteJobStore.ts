import Database from 'better-sqlite3';
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PermanentError, activeJobLimitReached } from '../domain/errors';
import { decodeJobCursor, decodeOverdueCursor, encodeJobCursor, encodeOverdueCursor } from './jobCursor';
import type { Job } from '../domain/job';
import type { JobMutation, JobPage, JobStore, ProviderStats, Unsubscribe, UpdateResult } from '../ports/jobStore';

interface Row {
  doc: string;
  version: number;
}

/**
 * Jobs in a SQLite file (the local stack). Each job is one JSON document plus the columns the
 * owner query needs. `update` runs its decision inside a `BEGIN IMMEDIATE` transaction, so it is
 * atomic even when the api and worker roles run as two processes on the same DATA_DIR.
 *
 * watch(): changes made by this process are pushed at once; changes made by another process
 * on the same file are noticed by a light version poll (`pollMs`).
 */
export class SqliteJobStore implements JobStore {
  private readonly db: Database.Database;
  private readonly events = new EventEmitter();
  private readonly pollMs: number;
  private closed = false;
  /** Statements are prepared once: preparing on every call costs more than running them. */
  private readonly sql: {
    insert: Database.Statement;
    select: Database.Statement;
    write: Database.Statement;
    countActive: Database.Statement;
    remove: Database.Statement;
    firstPage: Database.Statement;
    nextPage: Database.Statement;
    overdueFirst: Database.Statement;
    overdueNext: Database.Statement;
    endedBefore: Database.Statement;
    statsSelect: Database.Statement;
    statsWrite: Database.Statement;
  };

  constructor(options: { file: string; pollMs?: number }) {
    if (options.file !== ':memory:') mkdirSync(path.dirname(path.resolve(options.file)), { recursive: true });
    this.db = new Database(options.file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS jobs (
        job_id     TEXT PRIMARY KEY,
        owner_uid  TEXT NOT NULL,
        created_at TEXT NOT NULL,
        status     TEXT NOT NULL,
        version    INTEGER NOT NULL,
        doc        TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS jobs_by_owner ON jobs (owner_uid, created_at DESC, job_id DESC);
      CREATE TABLE IF NOT EXISTS provider_stats (
        provider TEXT PRIMARY KEY,
        doc      TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS jobs_overdue ON jobs (status, json_extract(doc, '$.nextRunAt'), job_id);
    `);
    this.sql = {
      insert: this.db.prepare('INSERT INTO jobs (job_id, owner_uid, created_at, status, version, doc) VALUES (?, ?, ?, ?, 1, ?)'),
      select: this.db.prepare('SELECT doc, version FROM jobs WHERE job_id = ?'),
      write: this.db.prepare('UPDATE jobs SET doc = ?, status = ?, version = version + 1 WHERE job_id = ?'),
      countActive: this.db.prepare("SELECT COUNT(*) AS n FROM jobs WHERE owner_uid = ? AND status IN ('queued', 'processing')"),
      remove: this.db.prepare('DELETE FROM jobs WHERE job_id = ?'),
      firstPage: this.db.prepare('SELECT doc FROM jobs WHERE owner_uid = ? ORDER BY created_at DESC, job_id DESC LIMIT ?'),
      nextPage: this.db.prepare(
        `SELECT doc FROM jobs WHERE owner_uid = ? AND (created_at < ? OR (created_at = ? AND job_id < ?))
         ORDER BY created_at DESC, job_id DESC LIMIT ?`,
      ),
      // The sweep's query; nextRunAt is read from the document through the expression index
      // above, so files made before the sweep existed need no migration.
      overdueFirst: this.db.prepare(
        `SELECT doc FROM jobs WHERE status IN ('queued', 'processing') AND json_extract(doc, '$.nextRunAt') <= ?
         ORDER BY json_extract(doc, '$.nextRunAt'), job_id LIMIT ?`,
      ),
      overdueNext: this.db.prepare(
        `SELECT doc FROM jobs WHERE status IN ('queued', 'processing') AND json_extract(doc, '$.nextRunAt') <= ?
           AND (json_extract(doc, '$.nextRunAt') > ? OR (json_extract(doc, '$.nextRunAt') = ? AND job_id > ?))
         ORDER BY json_extract(doc, '$.nextRunAt'), job_id LIMIT ?`,
      ),
      endedBefore: this.db.prepare(
        `SELECT doc FROM jobs WHERE status IN ('completed', 'failed', 'cancelled')
           AND json_extract(doc, '$.completedAt') < ? ORDER BY json_extract(doc, '$.completedAt') LIMIT ?`,
      ),
      statsSelect: this.db.prepare('SELECT doc FROM provider_stats WHERE provider = ?'),
      statsWrite: this.db.prepare(
        'INSERT INTO provider_stats (provider, doc) VALUES (?, ?) ON CONFLICT (provider) DO UPDATE SET doc = excluded.doc',
      ),
    };
    this.pollMs = options.pollMs ?? 500;
    this.events.setMaxListeners(0);
  }

  async create(job: Job): Promise<void> {
    this.insert(() => this.sql.insert.run(job.jobId, job.ownerUid, job.createdAt, job.status, JSON.stringify(job)), job);
  }

  async createWithinLimit(job: Job, maxActive: number): Promise<void> {
    const { countActive, insert } = this.sql;
    // BEGIN IMMEDIATE takes the write lock before the count, so two connections (the api and
    // worker processes on one file) cannot both count four and both insert the fifth.
    const run = this.db.transaction(() => {
      const { n } = countActive.get(job.ownerUid) as { n: number };
      if (n >= maxActive) throw activeJobLimitReached(n, maxActive);
      insert.run(job.jobId, job.ownerUid, job.createdAt, job.status, JSON.stringify(job));
    });
    this.insert(() => run.immediate(), job);
  }

  private insert(write: () => void, job: Job): void {
    try {
      write();
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new PermanentError('already_exists', `Job ${job.jobId} already exists`, { cause: err });
      }
      throw err;
    }
    this.events.emit(job.jobId, job);
  }

  async delete(jobId: string): Promise<void> {
    this.sql.remove.run(jobId);
  }

  async get(jobId: string): Promise<Job | null> {
    const row = this.sql.select.get(jobId) as Row | undefined;
    return row ? (JSON.parse(row.doc) as Job) : null;
  }

  async listByOwner(ownerUid: string, options: { limit: number; cursor?: string | null }): Promise<JobPage> {
    const limit = Math.max(1, Math.min(Math.floor(options.limit) || 1, 100));
    const after = decodeJobCursor(options.cursor);
    const rows = (
      after
        ? this.sql.nextPage.all(ownerUid, after.createdAt, after.createdAt, after.jobId, limit + 1)
        : this.sql.firstPage.all(ownerUid, limit + 1)
    ) as { doc: string }[];
    const jobs = rows.slice(0, limit).map((r) => JSON.parse(r.doc) as Job);
    const last = jobs[jobs.length - 1];
    return { jobs, nextCursor: rows.length > limit && last ? encodeJobCursor(last) : null };
  }

  async countActiveByOwner(ownerUid: string): Promise<number> {
    const row = this.sql.countActive.get(ownerUid) as { n: number };
    return row.n;
  }

  async listOverdue(cutoff: string, options: { limit: number; cursor?: string | null }): Promise<JobPage> {
    const limit = Math.max(1, Math.min(Math.floor(options.limit) || 1, 500));
    const after = decodeOverdueCursor(options.cursor);
    // ISO strings in UTC with milliseconds (toISOString) sort as the instants they name.
    const at = new Date(cutoff).toISOString();
    const rows = (
      after
        ? this.sql.overdueNext.all(at, after.nextRunAt, after.nextRunAt, after.jobId, limit + 1)
        : this.sql.overdueFirst.all(at, limit + 1)
    ) as { doc: string }[];
    const jobs = rows.slice(0, limit).map((r) => JSON.parse(r.doc) as Job);
    const last = jobs[jobs.length - 1];
    return { jobs, nextCursor: rows.length > limit && last ? encodeOverdueCursor(last) : null };
  }

  async update(jobId: string, mutate: JobMutation): Promise<UpdateResult> {
    const { select, write } = this.sql;
    const run = this.db.transaction((): UpdateResult => {
      const row = select.get(jobId) as Row | undefined;
      if (!row) return { job: null, changed: false };
      const current = JSON.parse(row.doc) as Job;
      const next = mutate(current);
      if (!next) return { job: current, changed: false };
      write.run(JSON.stringify(next), next.status, jobId);
      return { job: next, changed: true };
    });
    const result = run.immediate();
    if (result.changed && result.job) this.events.emit(jobId, result.job);
    return result;
  }

  async listEndedBefore(before: string, limit: number): Promise<Job[]> {
    const rows = this.sql.endedBefore.all(before, Math.max(1, Math.floor(limit))) as { doc: string }[];
    return rows.map((r) => JSON.parse(r.doc) as Job);
  }

  watch(jobId: string, onSnapshot: (job: Job) => void, onError?: (err: Error) => void): Unsubscribe {
    let lastVersion = -1;
    let stopped = false;
    const versionOf = this.sql.select;
    const check = (): void => {
      if (stopped || this.closed) return;
      try {
        const row = versionOf.get(jobId) as Row | undefined;
        if (row && row.version !== lastVersion) {
          lastVersion = row.version;
          onSnapshot(JSON.parse(row.doc) as Job);
        }
      } catch (err) {
        stop();
        onError?.(err as Error);
      }
    };
    // In-process writes arrive through the emitter; re-read so the version stays in step.
    const listener = (): void => check();
    this.events.on(jobId, listener);
    const timer = setInterval(check, this.pollMs);
    timer.unref();
    const stop = (): void => {
      stopped = true;
      clearInterval(timer);
      this.events.off(jobId, listener);
    };
    queueMicrotask(check);
    return stop;
  }

  async getProviderStats(provider: string): Promise<ProviderStats | null> {
    const row = this.sql.statsSelect.get(provider) as { doc: string } | undefined;
    return row ? (JSON.parse(row.doc) as ProviderStats) : null;
  }

  async updateProviderStats(provider: string, mutate: (current: ProviderStats | null) => ProviderStats): Promise<ProviderStats> {
    const { statsSelect, statsWrite } = this.sql;
    const run = this.db.transaction((): ProviderStats => {
      const row = statsSelect.get(provider) as { doc: string } | undefined;
      const next = mutate(row ? (JSON.parse(row.doc) as ProviderStats) : null);
      statsWrite.run(provider, JSON.stringify(next));
      return next;
    });
    return run.immediate();
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.events.removeAllListeners();
    this.db.close();
  }
}
