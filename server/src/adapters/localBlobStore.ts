import { createHash, randomUUID, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PermanentError, NotFoundError, TooLargeError } from '../domain/errors';
import { formatBytes } from '../domain/format';
import type { BlobInfo, BlobStore, PutOptions, PutResult } from '../ports/blobStore';

/**
 * Counts (and unless told not to, hashes) bytes as they pass; fails the stream once
 * `maxBytes` is exceeded.
 */
export class MeteredStream extends Transform {
  bytes = 0;
  private readonly hash: Hash | null;
  constructor(
    private readonly maxBytes: number = Number.POSITIVE_INFINITY,
    options: { sha256?: boolean } = {},
  ) {
    super();
    this.hash = options.sha256 === false ? null : createHash('sha256');
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      done(new TooLargeError('file_too_large', `The file is larger than the limit of ${formatBytes(this.maxBytes)}`));
      return;
    }
    this.hash?.update(chunk);
    done(null, chunk);
  }
  /** The hex SHA-256 of everything that passed, or null when hashing was turned off. */
  digest(): string | null {
    return this.hash ? this.hash.digest('hex') : null;
  }
}

/**
 * The same metering as {@link MeteredStream}, done by watching the source's chunks instead of
 * adding a stream stage: one stage fewer per chunk is measurably faster for big uploads. An
 * oversized source is destroyed with a TooLargeError, which fails the pipeline it feeds.
 */
export function watchBytes(source: Readable, maxBytes = Number.POSITIVE_INFINITY, options: { sha256?: boolean } = {}) {
  const hash = options.sha256 === false ? null : createHash('sha256');
  const meter = { bytes: 0, digest: (): string | null => (hash ? hash.digest('hex') : null) };
  source.on('data', (chunk: Buffer) => {
    meter.bytes += chunk.length;
    if (meter.bytes > maxBytes) {
      source.destroy(new TooLargeError('file_too_large', `The file is larger than the limit of ${formatBytes(maxBytes)}`));
      return;
    }
    hash?.update(chunk);
  });
  return meter;
}

/**
 * Blobs as files under `rootDir`. Writes go to a temporary name and are renamed into place
 * only when complete, so a reader never sees half a file and a failed upload leaves nothing.
 * Content types are kept in a small sidecar file.
 */
export class LocalBlobStore implements BlobStore {
  private readonly rootDir: string;

  constructor(options: { rootDir: string }) {
    this.rootDir = path.resolve(options.rootDir);
  }

  localPath(key: string): string {
    const normalized = path.posix.normalize(key);
    if (
      normalized.startsWith('..') ||
      path.posix.isAbsolute(normalized) ||
      normalized.includes('\0') ||
      /\.(meta\.json|part)$/.test(normalized) // names the store keeps for itself
    ) {
      throw new PermanentError('bad_key', `Invalid blob key: ${key}`);
    }
    return path.join(this.rootDir, normalized);
  }

  async putStream(key: string, stream: Readable, options: PutOptions = {}): Promise<PutResult> {
    const target = this.localPath(key);
    await fs.mkdir(path.dirname(target), { recursive: true });
    const id = randomUUID();
    const temp = `${target}.${id}.part`;
    const metaTemp = `${target}.meta.json.${id}.part`;
    const meter = watchBytes(stream, options.maxBytes, { sha256: options.sha256 });
    // The sidecar is written while the bytes arrive, not after them: once the last byte is on
    // disk only two renames remain (each a turn of libuv's pool, behind other uploads' writes).
    // It is rewritten on every put, so an overwrite never keeps an old content type, and it is
    // renamed into place before the data, so a blob is never seen with a sidecar older than it.
    const written = await Promise.allSettled([
      pipeline(stream, createWriteStream(temp, { highWaterMark: 256 * 1024 })),
      fs.writeFile(metaTemp, JSON.stringify({ contentType: options.contentType ?? null })),
    ]);
    try {
      const failed = written.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      await fs.rename(metaTemp, `${target}.meta.json`);
      await fs.rename(temp, target);
    } catch (err) {
      await Promise.all([fs.rm(temp, { force: true }), fs.rm(metaTemp, { force: true })]);
      throw err;
    }
    return { bytes: meter.bytes, sha256: meter.digest(), contentType: options.contentType ?? null };
  }

  async openRead(key: string, range?: { start: number; end?: number }): Promise<Readable> {
    const file = this.localPath(key);
    try {
      await fs.access(file);
    } catch {
      throw new NotFoundError('not_found', `No blob at ${key}`);
    }
    return createReadStream(file, range ? { start: range.start, end: range.end } : undefined);
  }

  async stat(key: string): Promise<BlobInfo | null> {
    const file = this.localPath(key);
    try {
      const info = await fs.stat(file);
      let contentType: string | null = null;
      try {
        contentType = JSON.parse(await fs.readFile(`${file}.meta.json`, 'utf8')).contentType ?? null;
      } catch {
        contentType = null;
      }
      return { bytes: info.size, contentType };
    } catch {
      return null;
    }
  }

  /** The local store has no URL of its own: the API streams the object instead. */
  async signedReadUrl(): Promise<string | null> {
    return null;
  }

  async delete(key: string): Promise<void> {
    const file = this.localPath(key);
    await fs.rm(file, { force: true });
    await fs.rm(`${file}.meta.json`, { force: true });
    // A refused upload must not leave its folder (uploads/<jobId>/) behind. Only folders below
    // the top level are pruned: a top-level one (videos/) is shared, and removing it could race
    // another key's write between its mkdir and its open.
    const dir = path.dirname(file);
    if (path.dirname(dir) !== this.rootDir && dir !== this.rootDir) await removeIfEmpty(dir);
  }

  /**
   * Start-up housekeeping: removes the temporary `.part` files of writes that a crash cut short,
   * and the folders they leave empty. A file written in the last `olderThanMs` is kept: with the
   * api and worker as two processes on one DATA_DIR, it may be another process's upload.
   */
  async removeCrashLeftovers(olderThanMs: number, now = Date.now()): Promise<{ partials: string[]; folders: string[] }> {
    const removed = { partials: [] as string[], folders: [] as string[] };
    const visit = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          // Judged before the visit: removing a partial inside touches the folder's mtime.
          const info = await fs.stat(full).catch(() => null);
          const old = info !== null && now - info.mtimeMs >= olderThanMs;
          await visit(full);
          if (old && path.dirname(full) !== this.rootDir && (await removeIfEmpty(full))) removed.folders.push(path.relative(this.rootDir, full));
        } else if (entry.name.endsWith('.part')) {
          const info = await fs.stat(full).catch(() => null);
          if (info && now - info.mtimeMs >= olderThanMs) {
            await fs.rm(full, { force: true });
            removed.partials.push(path.relative(this.rootDir, full));
          }
        }
      }
    };
    await visit(this.rootDir);
    return removed;
  }
}

/** Removes a folder if it is empty; true when it did. */
async function removeIfEmpty(dir: string): Promise<boolean> {
  try {
    await fs.rmdir(dir);
    return true;
  } catch {
    return false; // not empty, already gone, or written to meanwhile
  }
}
