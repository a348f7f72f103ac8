import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Storage, type Bucket, type File, type StorageOptions } from '@google-cloud/storage';
import { AppError, RetryableError, PermanentError, NotFoundError } from '../domain/errors';
import type { Logger } from '../logger';
import type { BlobInfo, BlobStore, PutOptions, PutResult } from '../ports/blobStore';
import { MeteredStream } from './localBlobStore';

/** Longest lifetime GCS accepts for a V4 signed URL (7 days). */
const MAX_V4_TTL_SEC = 7 * 24 * 3600;

export interface GcsBlobStoreOptions {
  bucket: string;
  /** A ready client (tests pass one pointed at the local GCS server); built from `storageOptions` otherwise. */
  storage?: Storage;
  storageOptions?: StorageOptions;
  /** Lifetime of a signed URL when the caller passes none (or 0); 15 minutes by default. */
  signedUrlTtlSec?: number;
  logger?: Logger;
}

/**
 * BlobStore on Cloud Storage through the official `@google-cloud/storage` client.
 *
 * Uploads are resumable (a session, then the bytes in one streamed PUT), chosen for Cloud Run:
 * objects here are up to 30 MB (audio) and finished videos are larger, so a connection reset
 * midway is resumed from the last byte GCS acknowledged instead of failing the step; client v7
 * keeps only the chunk in flight in memory and, unlike older versions, writes no session file
 * under ~/.config. The price is one extra request per object. A single multipart request
 * (`resumable: false`) would be cheaper for small files, but it cannot be cancelled: when its
 * source fails, client v7 leaves the request open with no way to abort it.
 *
 * Writes stream through a `MeteredStream` (size limit, SHA-256) into `file.createWriteStream`;
 * a write that fails or exceeds `maxBytes` removes whatever object it may have created (only
 * its own: each upload carries a unique `uploadId` in its custom metadata, and the cleanup
 * deletes with `ifGenerationMatch`, so a failed overwrite never removes the older object
 * under the same key, nor a newer one written meanwhile).
 *
 * Errors: 404 → `NotFoundError('not_found')`; 408, 429, 5xx and network failures →
 * `RetryableError('storage_unavailable')`; 401/403 → `PermanentError('storage_forbidden')`.
 *
 * Signed URLs are V4 (`X-Goog-Signature`), valid for at most 7 days. On Cloud Run there is no
 * key file: the client signs through the IAM Credentials `signBlob` API as the service's own
 * service account, which therefore needs `iam.serviceAccounts.signBlob` on itself, e.g.
 * `gcloud iam service-accounts add-iam-policy-binding SA --member=serviceAccount:SA
 * --role=roles/iam.serviceAccountTokenCreator`, and the IAM Credentials API enabled. Without
 * it the client's SigningError ("Permission 'iam.serviceAccounts.signBlob' denied") surfaces
 * as a `RetryableError('storage_unavailable')` carrying that message.
 */
export class GcsBlobStore implements BlobStore {
  readonly bucketName: string;
  private readonly bucket: Bucket;
  private readonly signedUrlTtlSec: number;
  private readonly logger?: Logger;

  constructor(options: GcsBlobStoreOptions) {
    const storage = options.storage ?? new Storage(options.storageOptions);
    this.bucketName = options.bucket;
    this.bucket = storage.bucket(options.bucket);
    this.signedUrlTtlSec = options.signedUrlTtlSec ?? 15 * 60;
    this.logger = options.logger;
  }

  async putStream(key: string, stream: Readable, options: PutOptions = {}): Promise<PutResult> {
    const file = this.bucket.file(key);
    const uploadId = randomUUID();
    const metadata = { contentType: options.contentType, metadata: { uploadId } };
    let sessionUri: string | undefined;
    try {
      // Open the resumable session ourselves so that its URI is known before any byte is
      // sent: a failed upload is then cancelled explicitly (see cancelSession).
      [sessionUri] = await file.createResumableUpload({ metadata });
    } catch (err) {
      stream.destroy();
      throw toStoreError(err, key);
    }
    const meter = new MeteredStream(options.maxBytes, { sha256: options.sha256 });
    let sourceError: unknown;
    stream.once('error', (err) => {
      sourceError = err;
    });
    const upload = file.createWriteStream({
      uri: sessionUri,
      resumable: true,
      contentType: options.contentType,
      metadata,
      // The client checks the CRC32C GCS reports against the bytes it sent (the default).
      validation: 'crc32c',
    });
    try {
      await pipeline(stream, meter, upload);
    } catch (err) {
      // The client never sends the end of the body, so GCS never finishes the object; but
      // client v7 does not abort its in-flight PUT when its write stream is destroyed (the
      // request would hang open). Cancelling the session ends that request on the server side.
      await this.cancelSession(sessionUri, key);
      await this.removeOwnUpload(file, uploadId);
      if (err instanceof AppError) throw err; // the size limit (TooLargeError)
      if (sourceError !== undefined) throw sourceError;
      throw toStoreError(err, key);
    }
    return { bytes: meter.bytes, sha256: meter.digest(), contentType: options.contentType ?? null };
  }

  /**
   * DELETE on a resumable session URI cancels the upload (GCS answers 499). The session URI
   * is itself the credential for its upload, so no token is needed.
   */
  private async cancelSession(sessionUri: string, key: string): Promise<void> {
    try {
      const res = await fetch(sessionUri, { method: 'DELETE', signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
    } catch (err) {
      this.logger?.warn({ key, err: (err as Error).message }, 'could not cancel a failed upload session');
    }
  }

  async openRead(key: string, range?: { start: number; end?: number }): Promise<Readable> {
    // createReadStream is lazy (the request starts on the first read) and reports a missing
    // object as a stream error; look the object up first so a missing key rejects here, and
    // pin its generation so the bytes read are the ones just looked up.
    const metadata = await this.metadataOf(key);
    if (!metadata) throw new NotFoundError('not_found', `No blob at ${key}`);
    const size = Number(metadata.size ?? 0);
    if (range && (range.start >= size || (range.end !== undefined && range.end < range.start))) {
      return Readable.from([]); // as a local file read past its end: nothing (GCS would answer 416)
    }
    const pinned = this.bucket.file(key, { generation: metadata.generation });
    // Lazy like the client's own stream: no request until the caller reads, so an error can
    // only surface while someone is listening. Errors come out as the pipeline's errors.
    async function* bytes(): AsyncGenerator<Buffer> {
      const source = pinned.createReadStream(range ? { start: range.start, end: range.end } : {});
      try {
        for await (const chunk of source) yield chunk as Buffer;
      } catch (err) {
        throw toStoreError(err, key);
      } finally {
        source.destroy();
      }
    }
    return Readable.from(bytes(), { objectMode: false });
  }

  async stat(key: string): Promise<BlobInfo | null> {
    const metadata = await this.metadataOf(key);
    if (!metadata) return null;
    return { bytes: Number(metadata.size ?? 0), contentType: metadata.contentType ?? null };
  }

  async signedReadUrl(key: string, ttlSec: number): Promise<string | null> {
    const ttl = Math.min(ttlSec > 0 ? ttlSec : this.signedUrlTtlSec, MAX_V4_TTL_SEC);
    try {
      const [url] = await this.bucket.file(key).getSignedUrl({ version: 'v4', action: 'read', expires: Date.now() + ttl * 1000 });
      return url;
    } catch (err) {
      throw toStoreError(err, key);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.bucket.file(key).delete({ ignoreNotFound: true });
    } catch (err) {
      throw toStoreError(err, key);
    }
  }

  /** Starts the lifecycle rules' `daysSinceCustomTime` clock; a missing object is skipped. */
  async setCustomTime(key: string, at: Date): Promise<void> {
    try {
      await this.bucket.file(key).setMetadata({ customTime: at.toISOString() });
    } catch (err) {
      const mapped = toStoreError(err, key);
      if (mapped.code === 'not_found') return;
      throw mapped;
    }
  }

  private async metadataOf(key: string): Promise<{ size?: string | number; contentType?: string; generation?: string | number } | null> {
    try {
      const [metadata] = await this.bucket.file(key).getMetadata();
      return metadata;
    } catch (err) {
      const mapped = toStoreError(err, key);
      if (mapped.code === 'not_found') return null;
      throw mapped;
    }
  }

  /** Deletes the object at `file` only if this upload (by its `uploadId`) created it. */
  private async removeOwnUpload(file: File, uploadId: string): Promise<void> {
    try {
      const [metadata] = await file.getMetadata();
      if (metadata.metadata?.uploadId !== uploadId) return;
      await file.delete({ ifGenerationMatch: metadata.generation, ignoreNotFound: true });
    } catch (err) {
      if (toStoreError(err, file.name).code === 'not_found') return;
      this.logger?.warn({ key: file.name, err: (err as Error).message }, 'could not remove a failed upload');
    }
  }
}

/**
 * Maps what the storage client throws (ApiError with a numeric `code`, GaxiosError with a
 * `response.status`, node-fetch/undici errors with a string `code`) to the pipeline's errors.
 */
export function toStoreError(err: unknown, key: string): AppError {
  if (err instanceof AppError) return err;
  const e = err as { code?: unknown; status?: unknown; response?: { status?: unknown }; message?: string; name?: string };
  const status =
    typeof e.code === 'number' ? e.code : typeof e.response?.status === 'number' ? e.response.status : typeof e.status === 'number' ? e.status : undefined;
  const message = `Cloud Storage, ${key}: ${e.message ?? String(err)}`;
  if (status === 404) return new NotFoundError('not_found', `No blob at ${key}`, { cause: err });
  if (status === 408 || status === 429 || (status !== undefined && status >= 500)) {
    return new RetryableError('storage_unavailable', message, { cause: err });
  }
  if (status === 401 || status === 403) return new PermanentError('storage_forbidden', message, { cause: err });
  if (status !== undefined) return new PermanentError('storage_error', message, { cause: err });
  // No HTTP status: the request never got an answer (ECONNREFUSED, ECONNRESET, ETIMEDOUT,
  // DNS), or a client-side failure such as a signing error. Retrying is the safer default:
  // Cloud Tasks' attempt limit still fails the job if it never clears.
  return new RetryableError('storage_unavailable', message, { cause: err });
}
