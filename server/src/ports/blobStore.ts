import type { Readable } from 'node:stream';

/**
 * BlobStore: uploads, provider inputs and finished videos. Writes are streamed: a file is
 * never held whole in memory.
 */

export interface PutOptions {
  /** Refuse (and leave nothing behind) when the stream is longer than this. */
  maxBytes?: number;
  contentType?: string;
  /**
   * Compute the SHA-256 of the bytes (default true). Uploads turn it off: hashing every
   * uploaded byte costs more CPU than the rest of the upload path and nothing reads it.
   */
  sha256?: boolean;
}

export interface PutResult {
  bytes: number;
  /** Null when the put asked for no hash. */
  sha256: string | null;
  contentType: string | null;
}

export interface BlobInfo {
  bytes: number;
  contentType: string | null;
}

export interface BlobStore {
  /**
   * Writes the stream under `key`. If the stream errors or exceeds `maxBytes`, the partial
   * object is removed and the promise rejects (a `TooLargeError` `file_too_large` for the
   * size limit, the stream's own error otherwise).
   */
  putStream(key: string, stream: Readable, options?: PutOptions): Promise<PutResult>;
  /** Reads a stored object; rejects with a NotFoundError `not_found` (a PermanentError) when absent. */
  openRead(key: string, range?: { start: number; end?: number }): Promise<Readable>;
  stat(key: string): Promise<BlobInfo | null>;
  /**
   * A URL a third party (the provider, a browser) can GET for `ttlSec` seconds, or null when
   * the store cannot make one (the local store: the API streams the object instead).
   */
  signedReadUrl(key: string, ttlSec: number): Promise<string | null>;
  /** Deletes the object; a missing object is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Sets the object's custom time (Cloud Storage `customTime`): lifecycle rules with
   * `daysSinceCustomTime` then count retention from the job's end, not the upload. Stores
   * without lifecycle rules leave this out (the local sweep deletes what is due).
   */
  setCustomTime?(key: string, at: Date): Promise<void>;
  /** A filesystem path for the object when the store is local (lets ffmpeg read it directly). */
  localPath?(key: string): string;
}
