import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export type QueueState = 'RUNNING' | 'PAUSED' | 'DISABLED';

export interface RateLimitsRecord {
  maxDispatchesPerSecond: number;
  maxBurstSize: number;
  maxConcurrentDispatches: number;
}

export interface RetryConfigRecord {
  /** Counts the first attempt; -1 means unlimited. */
  maxAttempts: number;
  minBackoffMs: number;
  maxBackoffMs: number;
  maxDoublings: number;
  /** 0 means no time limit. */
  maxRetryDurationMs: number;
}

export interface QueueRecord {
  name: string;
  state: QueueState;
  rateLimits: RateLimitsRecord;
  retryConfig: RetryConfigRecord;
  purgeTimeMs?: number;
}

export interface AttemptRecord {
  scheduleMs: number;
  dispatchMs: number;
  responseMs?: number;
  /** google.rpc.Status of the attempt: 0 OK, else a gRPC code mapped from the HTTP answer. */
  status?: { code: number; message: string };
}

export interface HttpTargetRecord {
  url: string;
  httpMethod: string;
  headers: Record<string, string>;
  bodyBase64?: string;
  oidcToken?: { serviceAccountEmail: string; audience?: string };
  oauthToken?: { serviceAccountEmail: string; scope?: string };
}

export interface TaskRecord {
  name: string;
  queue: string;
  http: HttpTargetRecord;
  scheduleMs: number;
  createMs: number;
  dispatchDeadlineMs: number;
  /** Dispatches so far (X-CloudTasks-TaskRetryCount of the next one). */
  dispatchCount: number;
  /** Dispatches that got any HTTP response. */
  responseCount: number;
  /** Responses that were not 5xx (X-CloudTasks-TaskExecutionCount of the next one). */
  executionCount: number;
  firstAttempt?: AttemptRecord;
  lastAttempt?: AttemptRecord;
  lastResponseCode?: number;
}

/**
 * Queues, tasks and recently used task names in SQLite, so pending tasks survive a restart.
 * Rows hold JSON; the columns beside it exist for lookups the dispatcher makes often.
 */
export class EmulatorStore {
  private readonly db: Database.Database;
  // Prepared once and reused: the dispatcher runs these several times per task, and preparing
  // a statement costs more than running it (measured by `npm run bench`).
  private readonly statements = new Map<string, Database.Statement>();

  constructor(dbPath: string) {
    if (dbPath !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(dbPath)), { recursive: true });
    this.db = new Database(dbPath);
    this.db.pragma('journal_mode = WAL');
    // With WAL, NORMAL still survives a crash of this process; it only skips the fsync per
    // commit that FULL makes, which blocked the event loop on every CreateTask and completion.
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY, data TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS tasks (
        name TEXT PRIMARY KEY, queue TEXT NOT NULL, schedule_ms REAL NOT NULL, create_ms REAL NOT NULL,
        data TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS tasks_by_queue_time ON tasks (queue, schedule_ms);
      CREATE TABLE IF NOT EXISTS tombstones (name TEXT PRIMARY KEY, until_ms REAL NOT NULL);
    `);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private prepare(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  getQueue(name: string): QueueRecord | undefined {
    const row = this.prepare('SELECT data FROM queues WHERE name = ?').get(name) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as QueueRecord) : undefined;
  }

  putQueue(queue: QueueRecord): void {
    this.prepare('INSERT INTO queues (name, data) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET data = excluded.data').run(queue.name, JSON.stringify(queue));
  }

  /** Queues whose name starts with `prefix`, by name. */
  listQueues(prefix: string): QueueRecord[] {
    const rows = this.prepare('SELECT data FROM queues WHERE substr(name, 1, ?) = ? ORDER BY name').all(prefix.length, prefix) as { data: string }[];
    return rows.map((r) => JSON.parse(r.data) as QueueRecord);
  }

  allQueues(): QueueRecord[] {
    return (this.prepare('SELECT data FROM queues ORDER BY name').all() as { data: string }[]).map((r) => JSON.parse(r.data) as QueueRecord);
  }

  deleteQueue(name: string): void {
    this.db.transaction(() => {
      this.prepare('DELETE FROM tasks WHERE queue = ?').run(name);
      this.prepare('DELETE FROM queues WHERE name = ?').run(name);
    })();
  }

  getTask(name: string): TaskRecord | undefined {
    const row = this.prepare('SELECT data FROM tasks WHERE name = ?').get(name) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as TaskRecord) : undefined;
  }

  /** Inserts a task unless its name exists or was used within the tombstone window. */
  insertTask(task: TaskRecord, nowMs: number): 'created' | 'exists' {
    return this.db.transaction((): 'created' | 'exists' => {
      this.prepare('DELETE FROM tombstones WHERE until_ms <= ?').run(nowMs);
      if (this.prepare('SELECT 1 FROM tombstones WHERE name = ?').get(task.name)) return 'exists';
      const result = this.db
        .prepare('INSERT OR IGNORE INTO tasks (name, queue, schedule_ms, create_ms, data) VALUES (?, ?, ?, ?, ?)')
        .run(task.name, task.queue, task.scheduleMs, task.createMs, JSON.stringify(task));
      return result.changes === 1 ? 'created' : 'exists';
    })();
  }

  updateTask(task: TaskRecord): boolean {
    const result = this.prepare('UPDATE tasks SET schedule_ms = ?, data = ? WHERE name = ?').run(task.scheduleMs, JSON.stringify(task), task.name);
    return result.changes === 1;
  }

  /** Removes a task and keeps its name reserved until `tombstoneUntilMs`. */
  removeTask(name: string, tombstoneUntilMs: number): boolean {
    return this.db.transaction(() => {
      const result = this.prepare('DELETE FROM tasks WHERE name = ?').run(name);
      this.prepare('INSERT INTO tombstones (name, until_ms) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET until_ms = excluded.until_ms').run(name, tombstoneUntilMs);
      return result.changes === 1;
    })();
  }

  /** Removes every task of a queue, reserving their names; returns how many went. */
  purgeQueue(queue: string, tombstoneUntilMs: number): number {
    return this.db.transaction(() => {
      this.prepare('INSERT OR REPLACE INTO tombstones (name, until_ms) SELECT name, ? FROM tasks WHERE queue = ?').run(tombstoneUntilMs, queue);
      return this.prepare('DELETE FROM tasks WHERE queue = ?').run(queue).changes;
    })();
  }

  listTasks(queue: string, offset: number, limit: number): TaskRecord[] {
    const rows = this.prepare('SELECT data FROM tasks WHERE queue = ? ORDER BY schedule_ms, name LIMIT ? OFFSET ?').all(queue, limit, offset) as { data: string }[];
    return rows.map((r) => JSON.parse(r.data) as TaskRecord);
  }

  /**
   * Points every stored task whose URL has `target`'s path but another origin at `target`
   * (and its OIDC audience, when that was the old URL). Returns how many changed.
   */
  retargetTasks(target: string): number {
    const to = new URL(target);
    return this.db.transaction(() => {
      let changed = 0;
      for (const row of this.prepare('SELECT data FROM tasks').all() as { data: string }[]) {
        const task = JSON.parse(row.data) as TaskRecord;
        let from: URL;
        try {
          from = new URL(task.http.url);
        } catch {
          continue;
        }
        if (from.pathname !== to.pathname || from.origin === to.origin) continue;
        const oldUrl = task.http.url;
        task.http.url = new URL(from.pathname + from.search, to.origin).toString();
        if (task.http.oidcToken?.audience === oldUrl) task.http.oidcToken.audience = task.http.url;
        this.updateTask(task);
        changed += 1;
      }
      return changed;
    })();
  }

  /** Tasks of a queue due at `nowMs`, earliest first. */
  dueTasks(queue: string, nowMs: number, limit: number): TaskRecord[] {
    const rows = this.prepare('SELECT data FROM tasks WHERE queue = ? AND schedule_ms <= ? ORDER BY schedule_ms, name LIMIT ?').all(queue, nowMs, limit) as { data: string }[];
    return rows.map((r) => JSON.parse(r.data) as TaskRecord);
  }

  /** The earliest schedule time after `nowMs` in a queue, if any. */
  nextScheduleAfter(queue: string, nowMs: number): number | undefined {
    const row = this.prepare('SELECT MIN(schedule_ms) AS t FROM tasks WHERE queue = ? AND schedule_ms > ?').get(queue, nowMs) as { t: number | null };
    return row.t ?? undefined;
  }
}
