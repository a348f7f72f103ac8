import type { Request } from 'express';
import multer, { MulterError, type StorageEngine } from 'multer';
import { Readable } from 'node:stream';
import { formatBytes } from '../adapters/localBlobStore';
import { ClientError } from '../errors';
import type { BlobStore } from '../ports/blobStore';
import { uploadKey } from '../pipeline/runner';
import type { MediaLimits } from './mediaChecks';
import { SNIFF_BYTES, sniffAudio, sniffImage, type MediaType } from './mediaTypes';

/** One accepted upload, as the route sees it after the storage engine has stored it. */
export interface StoredUpload {
  field: 'image' | 'audio';
  key: string;
  mime: string;
  bytes: number;
}

export interface UploadLimits {
  imageMaxBytes: number;
  audioMaxBytes: number;
  nameMaxChars: number;
  bioMaxChars: number;
  /** Picture size and recording length limits checked after the upload; defaults when absent. */
  media?: MediaLimits;
}

/** Per-request upload state, kept on the request so cleanup can find every key ever started. */
export interface UploadContext {
  jobId: string;
  startedKeys: Set<string>;
  stored: Map<string, StoredUpload>;
}

declare module 'express-serve-static-core' {
  interface Request {
    upload?: UploadContext;
  }
}

const FIELDS = {
  image: { sniff: sniffImage, limit: (l: UploadLimits) => l.imageMaxBytes, accepted: 'JPEG, PNG, WebP or HEIC' },
  audio: { sniff: sniffAudio, limit: (l: UploadLimits) => l.audioMaxBytes, accepted: 'WAV, MP3 or M4A/AAC' },
} as const;

type Field = keyof typeof FIELDS;

/**
 * Reads the first bytes of a stream without losing them: they are pushed back with unshift
 * (a small file that already ended is returned whole).
 */
function peek(stream: Readable, n: number): Promise<{ head: Buffer; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const cleanup = (): void => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('error', onError);
    };
    const finish = (ended: boolean): void => {
      cleanup();
      const head = Buffer.concat(chunks);
      if (!ended) stream.unshift(head);
      resolve({ head, ended });
    };
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = stream.read() as Buffer | null) !== null) {
        chunks.push(chunk);
        length += chunk.length;
        if (length >= n) return finish(false);
      }
    };
    const onEnd = (): void => finish(true);
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    stream.on('readable', onReadable);
    stream.on('end', onEnd);
    stream.on('error', onError);
  });
}

/**
 * A multer storage engine that streams each file straight into the BlobStore: a file is never
 * held whole in memory. The type is decided from the first bytes; the size limit is enforced
 * per field while the bytes flow.
 */
export class BlobStorageEngine implements StorageEngine {
  constructor(
    private readonly blobs: BlobStore,
    private readonly limits: UploadLimits,
  ) {}

  _handleFile(req: Request, file: Express.Multer.File, cb: (error?: unknown, info?: Partial<Express.Multer.File>) => void): void {
    this.store(req, file).then(
      (stored) => cb(null, { path: stored.key, size: stored.bytes, mimetype: stored.mime }),
      (err) => {
        // Drain what is left so the multipart parser can move on to report the error.
        file.stream.resume();
        cb(err);
      },
    );
  }

  _removeFile(req: Request, file: Express.Multer.File, cb: (error: Error | null) => void): void {
    this.blobs.delete(file.path).then(
      () => {
        req.upload?.stored.delete(file.fieldname);
        cb(null);
      },
      (err: Error) => cb(err),
    );
  }

  private async store(req: Request, file: Express.Multer.File): Promise<StoredUpload> {
    const ctx = req.upload;
    if (!ctx) throw new Error('upload context missing');
    const field = file.fieldname as Field;
    const spec = FIELDS[field];
    if (!spec) throw new ClientError(400, 'unexpected_file', `Unexpected file field "${file.fieldname}"; send "image" and "audio"`);
    if (ctx.stored.has(field) || ctx.startedKeys.has(`field:${field}`)) {
      throw new ClientError(400, 'unexpected_file', `Send one "${field}" file only`);
    }
    ctx.startedKeys.add(`field:${field}`);

    const { head, ended } = await peek(file.stream, SNIFF_BYTES);
    if (head.length === 0) throw new ClientError(400, 'empty_file', `The ${field} file is empty`);
    const type: MediaType | null = spec.sniff(head);
    if (!type) {
      throw new ClientError(415, 'unsupported_media_type', `The ${field} must be ${spec.accepted}; this file's contents are not`);
    }
    const key = uploadKey(ctx.jobId, field, type.ext);
    ctx.startedKeys.add(key);
    const source = ended ? Readable.from([head]) : file.stream;
    const maxBytes = spec.limit(this.limits);
    try {
      const result = await this.blobs.putStream(key, source, { maxBytes, contentType: type.mime, sha256: false });
      const stored: StoredUpload = { field, key, mime: type.mime, bytes: result.bytes };
      ctx.stored.set(field, stored);
      return stored;
    } catch (err) {
      if (err instanceof ClientError && err.code === 'file_too_large') {
        throw new ClientError(413, 'file_too_large', `The ${field} file is larger than ${formatBytes(maxBytes)}`);
      }
      throw err;
    }
  }
}

/** Multer with limits that match the product's; the storage engine enforces per-field sizes. */
export function createUploadMiddleware(blobs: BlobStore, limits: UploadLimits) {
  return multer({
    storage: new BlobStorageEngine(blobs, limits),
    limits: {
      files: 2,
      fields: 8,
      parts: 10,
      fieldSize: Math.max(limits.bioMaxChars, limits.nameMaxChars) * 4 + 16,
      fileSize: Math.max(limits.imageMaxBytes, limits.audioMaxBytes),
      headerPairs: 100,
    },
  }).fields([
    { name: 'image', maxCount: 1 },
    { name: 'audio', maxCount: 1 },
  ]);
}

/** Multer's own errors, said in the product's words. */
export function translateMulterError(err: unknown, limits: UploadLimits): unknown {
  if (!(err instanceof MulterError)) {
    if (err instanceof Error && /Unexpected end of form|Malformed part header|Multipart: Boundary not found/i.test(err.message)) {
      return new ClientError(400, 'bad_multipart', `The upload is not valid multipart/form-data: ${err.message}`);
    }
    return err;
  }
  switch (err.code) {
    case 'LIMIT_FILE_SIZE': {
      const field = err.field === 'image' ? 'image' : 'audio';
      const max = field === 'image' ? limits.imageMaxBytes : limits.audioMaxBytes;
      return new ClientError(413, 'file_too_large', `The ${field} file is larger than ${formatBytes(max)}`);
    }
    case 'LIMIT_UNEXPECTED_FILE':
      return new ClientError(400, 'unexpected_file', `Unexpected file field "${err.field}"; send one "image" and one "audio"`);
    case 'LIMIT_FILE_COUNT':
      return new ClientError(400, 'unexpected_file', 'Send exactly two files: one "image" and one "audio"');
    case 'LIMIT_FIELD_VALUE':
      return new ClientError(400, 'field_too_long', `The field "${err.field}" is too long`);
    case 'LIMIT_FIELD_COUNT':
    case 'LIMIT_PART_COUNT':
    case 'LIMIT_FIELD_KEY':
      return new ClientError(400, 'too_many_fields', 'The form has too many or too long fields');
    default:
      return new ClientError(400, 'bad_upload', err.message);
  }
}
