import { createHash, randomUUID, type Hash } from 'node:crypto';
import { close, createReadStream, open, promises as fs, writeSync, writev } from 'node:fs';
import path from 'node:path';
import { Transform, Writable, type Readable, type TransformCallback } from 'node:stream';
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
    // The sidecar is written while the bytes arrive, not after them: once the last byte is
    // written only two renames remain (each a turn of libuv's pool, behind other uploads' work).
    // It is rewritten on every put, so an overwrite never keeps an old content type, and it is
    // renamed into place before the data, so a blob is never seen with a sidecar older than it.
    const written = await Promise.allSettled([
      pipeline(stream, new DirectFileWriter(temp)),
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

/**
 * A direct write slower than this sends writes to libuv's pool. Well above a busy machine's
 * scheduling delays (a process waiting for a core for a few ms would otherwise count), and
 * below what the kernel's throttling of writers costs (it sleeps them for tens of ms or more).
 */
const SLOW_WRITE_MS = 50;
/** For how long, after a slow direct write, every file's writes go through the pool. */
const POOL_AFTER_SLOW_MS = 5_000;
/** Until when writes go through the pool (0: write directly). Shared: the disk is shared. */
let pooledUntil = 0;

/**
 * A file written from the event loop (`writeSync`) while the disk takes writes at memory speed,
 * and through libuv's thread pool once it does not.
 *
 * Why: writing a 64 KB chunk into the page cache costs about 11 µs of CPU, but handing it to a
 * pool thread costs more than that: a mutex, a thread woken, its answer woken back, on every
 * chunk. With 16 uploads at once on two cores, the pool's threads spent 280–440 ms of kernel
 * time per 640 MB, mostly in those wake-ups; the same bytes written directly cost ~110 ms
 * (measured by `npm run bench` and a bare write loop). A write that blocks (the kernel throttles
 * writers once too much is waiting for the disk, or the folder is on a network disk) would stall
 * the whole service, so one taking longer than {@link SLOW_WRITE_MS} sends every file's writes to
 * the pool for the next {@link POOL_AFTER_SLOW_MS}. Opening and closing always use the pool.
 */
export class DirectFileWriter extends Writable {
  private fd: number | undefined;
  /** Chunks written from the event loop and through the pool, for tests. */
  readonly writes = { direct: 0, pooled: 0 };

  constructor(
    private readonly file: string,
    private readonly timing: { now(): number; slowWriteMs: number } = { now: () => performance.now(), slowWriteMs: SLOW_WRITE_MS },
  ) {
    // While a pooled write is in flight, chunks wait here and go together in one writev.
    super({ highWaterMark: 256 * 1024 });
  }

  override _construct(done: (err?: Error | null) => void): void {
    open(this.file, 'w', (err, fd) => {
      this.fd = fd;
      done(err);
    });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this._writev([{ chunk }], done);
  }

  override _writev(chunks: { chunk: Buffer }[], done: (err?: Error | null) => void): void {
    let i = 0;
    try {
      // Each write's end time is the next one's start: one clock read per chunk.
      for (let now = this.timing.now(); i < chunks.length && now >= pooledUntil; i++) now = this.writeDirect(chunks[i]!.chunk, now);
    } catch (err) {
      done(err as Error);
      return;
    }
    if (i === chunks.length) {
      done();
      return;
    }
    this.writes.pooled += chunks.length - i;
    writeAll(this.fd!, chunks.slice(i).map((c) => c.chunk), done);
  }

  /** Writes `chunk` with the event loop, begun at `start`; answers when it ended. */
  private writeDirect(chunk: Buffer, start: number): number {
    for (let at = 0; at < chunk.length; ) at += writeSync(this.fd!, chunk, at);
    this.writes.direct++;
    const end = this.timing.now();
    if (end - start > this.timing.slowWriteMs) pooledUntil = end + POOL_AFTER_SLOW_MS;
    return end;
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    if (this.fd === undefined) {
      done(err);
      return;
    }
    const fd = this.fd;
    this.fd = undefined;
    close(fd, (closeErr) => done(err ?? closeErr));
  }
}

/** For tests: writes go direct again, as after a quiet {@link POOL_AFTER_SLOW_MS}. */
export function resetDirectWrites(): void {
  pooledUntil = 0;
}

/** A pooled `writev` until every byte is written: a file may take fewer bytes than asked. */
function writeAll(fd: number, buffers: Buffer[], done: (err?: Error | null) => void): void {
  writev(fd, buffers, (err, written) => {
    if (err) {
      done(err);
      return;
    }
    let rest = written;
    while (buffers.length > 0 && rest >= buffers[0]!.length) rest -= buffers.shift()!.length;
    if (buffers.length === 0) done();
    else writeAll(fd, [buffers[0]!.subarray(rest), ...buffers.slice(1)], done);
  });
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
