import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MeteredStream } from '../../src/adapters/localBlobStore';
import { NotFoundError } from '../../src/domain/errors';
import type { BlobInfo, BlobStore, PutOptions, PutResult } from '../../src/ports/blobStore';

interface StoredBlob {
  /** The chunks as they arrived: never joined, so the store holds one copy of the bytes. */
  chunks: Buffer[];
  bytes: number;
  contentType: string | null;
}

/**
 * BlobStore in memory, for tests of the pipeline without a disk. Metering and the size limit
 * are the local store's own (MeteredStream), and an object appears only once its write is
 * complete, so a failed write leaves nothing, as with the real stores. It passes the BlobStore
 * contract suite (server/test/contract/memoryBlobStore.contract.test.ts).
 */
export class MemoryBlobStore implements BlobStore {
  private readonly blobs = new Map<string, StoredBlob>();
  /** Keys with a write in progress (what a failed write could leave behind). */
  private readonly writing = new Map<string, number>();

  async putStream(key: string, stream: Readable, options: PutOptions = {}): Promise<PutResult> {
    const meter = new MeteredStream(options.maxBytes, { sha256: options.sha256 });
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk);
        done();
      },
    });
    this.writing.set(key, (this.writing.get(key) ?? 0) + 1);
    try {
      await pipeline(stream, meter, sink);
    } finally {
      const left = (this.writing.get(key) ?? 1) - 1;
      if (left > 0) this.writing.set(key, left);
      else this.writing.delete(key);
    }
    const contentType = options.contentType ?? null;
    this.blobs.set(key, { chunks, bytes: meter.bytes, contentType });
    return { bytes: meter.bytes, sha256: meter.digest(), contentType };
  }

  async openRead(key: string, range?: { start: number; end?: number }): Promise<Readable> {
    const blob = this.blobs.get(key);
    if (!blob) throw new NotFoundError('not_found', `No blob at ${key}`);
    const start = range?.start ?? 0;
    const end = range?.end ?? blob.bytes - 1;
    return Readable.from(slices(blob.chunks, start, end));
  }

  async stat(key: string): Promise<BlobInfo | null> {
    const blob = this.blobs.get(key);
    return blob ? { bytes: blob.bytes, contentType: blob.contentType } : null;
  }

  /** Like the local store, this one makes no URLs: the API streams the object instead. */
  async signedReadUrl(): Promise<string | null> {
    return null;
  }

  async delete(key: string): Promise<void> {
    this.blobs.delete(key);
  }

  /** Stored keys and writes in progress, sorted: what the store holds right now. */
  contents(): string[] {
    return [...this.blobs.keys(), ...[...this.writing.keys()].map((k) => `${k} (writing)`)].sort();
  }
}

/** The bytes from `start` to `end` inclusive, as views of the stored chunks. */
function* slices(chunks: Buffer[], start: number, end: number): Generator<Buffer> {
  let offset = 0;
  for (const chunk of chunks) {
    const from = Math.max(start - offset, 0);
    const to = Math.min(end + 1 - offset, chunk.length);
    if (from < to) yield chunk.subarray(from, to);
    offset += chunk.length;
    if (offset > end) return;
  }
}
