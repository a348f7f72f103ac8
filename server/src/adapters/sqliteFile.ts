import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

/**
 * Opens (or creates, with its folder) a SQLite file of the local stack. WAL lets readers go on
 * while one connection writes, and the busy timeout makes a second process on the same
 * DATA_DIR (the api and worker roles apart) wait for the write lock instead of failing.
 */
export function openSqliteFile(file: string): Database.Database {
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  return db;
}
