import type Database from 'better-sqlite3';
import type { Device, DeviceStore } from '../ports/deviceStore';
import { openSqliteFile } from './sqliteFile';

/** Push tokens in a SQLite file of their own (the local stack). */
export class SqliteDeviceStore implements DeviceStore {
  private readonly db: Database.Database;

  constructor(options: { file: string }) {
    this.db = openSqliteFile(options.file);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS devices (
        token      TEXT PRIMARY KEY,
        owner_uid  TEXT NOT NULL,
        platform   TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS devices_by_owner ON devices (owner_uid, updated_at DESC);
    `);
  }

  async register(device: Device): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO devices (token, owner_uid, platform, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(token) DO UPDATE SET owner_uid = excluded.owner_uid, platform = excluded.platform, updated_at = excluded.updated_at`,
      )
      .run(device.token, device.ownerUid, device.platform, device.updatedAt);
  }

  async listByOwner(ownerUid: string): Promise<Device[]> {
    const rows = this.db
      .prepare('SELECT token, owner_uid, platform, updated_at FROM devices WHERE owner_uid = ? ORDER BY updated_at DESC, token')
      .all(ownerUid) as { token: string; owner_uid: string; platform: Device['platform']; updated_at: string }[];
    return rows.map((r) => ({ token: r.token, ownerUid: r.owner_uid, platform: r.platform, updatedAt: r.updated_at }));
  }

  async remove(token: string): Promise<void> {
    this.db.prepare('DELETE FROM devices WHERE token = ?').run(token);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
