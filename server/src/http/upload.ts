import type { Request, RequestHandler, Response } from 'express';
import multer, { MulterError, type StorageEngine } from 'multer';
import { Readable } from 'node:stream';
import { InvalidInputError, TooLargeError, ClientAbortedError } from '../domain/errors';
import { ClientError, isRefusal } from './errors';
import type { BlobStore } from '../ports/blobStore';
import { uploadKey } from '../domain/blobKeys';
import { formatBytes } from '../domain/format';
import { AUDIO_TYPES, IMAGE_TYPES } from '../domain/uploadRules';
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
  /** Files being written now; cleanup waits for them so no write lands after it. */
  inFlight: Set<Promise<void>>;
  /** Set by cleanup: a file that starts afterwards is refused at once. */
  closed: boolean;
  /**
   * Ends the upload at once with this error, without waiting for the parser to read the rest
   * of the body (multer drains a failed request to its end before it reports).
   */
  fail?: (err: unknown) => void;
}

/** Room for the multipart framing and the text fields, on top of the two files. */
export const FORM_OVERHEAD_BYTES = 64 * 1024;

/** The largest request body an upload can honestly need: both files at their limits, and the form. */
export function maxUploadBodyBytes(limits: UploadLimits): number {
  return limits.imageMaxBytes + limits.audioMaxBytes + FORM_OVERHEAD_BYTES;
}

/** A fresh upload context for one request. */
export function newUploadContext(jobId: string): UploadContext {
  return { jobId, startedKeys: new Set(), stored: new Map(), inFlight: new Set(), closed: false };
}

declare module 'express-serve-static-core' {
  interface Request {
    upload?: UploadContext;
  }
}

const FIELDS = {
  image: { sniff: sniffImage, limit: (l: UploadLimits) => l.imageMaxBytes, accepted: IMAGE_TYPES.label },
  audio: { sniff: sniffAudio, limit: (l: UploadLimits) => l.audioMaxBytes, accepted: AUDIO_TYPES.label },
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
    const ctx = req.upload;
    const work = ctx?.closed ? Promise.reject(new InvalidInputError('upload_closed', 'The upload was already refused')) : this.store(req, file);
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    ctx?.inFlight.add(settled);
    void settled.then(() => ctx?.inFlight.delete(settled));
    work.then(
      (stored) => cb(null, { path: stored.key, size: stored.bytes, mimetype: stored.mime }),
      (err) => {
        // Let the parser move on, and end the request now: a refused file must not make the
        // server read the rest of a body that may be gigabytes long.
        file.stream.resume();
        ctx?.fail?.(err);
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
    if (!spec) throw new InvalidInputError('unexpected_file', `Unexpected file field "${file.fieldname}"; send "image" and "audio"`);
    if (ctx.stored.has(field) || ctx.startedKeys.has(`field:${field}`)) {
      throw new InvalidInputError('unexpected_file', `Send one "${field}" file only`);
    }
    ctx.startedKeys.add(`field:${field}`);

    const { head, ended } = await peek(file.stream, SNIFF_BYTES);
    if (head.length === 0) throw new InvalidInputError('empty_file', `The ${field} file is empty`);
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
      if (err instanceof TooLargeError && err.code === 'file_too_large') {
        throw new TooLargeError('file_too_large', `The ${field} file is larger than ${formatBytes(maxBytes)}`);
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

/**
 * Runs the upload middleware and resolves when every file is stored. Rejects as soon as a file
 * is refused (type, size), when no byte arrives for `idleTimeoutMs`, or when the client goes
 * away (ClientAbortedError), without waiting for the rest of the body.
 */
export function receiveUpload(
  req: Request,
  res: Response,
  middleware: RequestHandler,
  options: { limits: UploadLimits; idleTimeoutMs: number },
): Promise<void> {
  const ctx = req.upload;
  if (!ctx) return Promise.reject(new Error('upload context missing'));
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      req.off('timeout', onIdle);
      req.off('close', onClose);
      if (options.idleTimeoutMs > 0) req.setTimeout(0);
      if (err) reject(err);
      else resolve();
    };
    // The socket's idle timer: during an upload the server writes nothing, so it measures the
    // time since the client last sent a byte.
    const onIdle = (): void =>
      finish(
        new ClientError(408, 'upload_timeout', `No upload data arrived for ${Math.round(options.idleTimeoutMs / 1000)} s; the upload was stopped`),
      );
    const onClose = (): void => {
      if (!req.complete) finish(new ClientAbortedError());
    };
    ctx.fail = (err) => finish(translateMulterError(err, options.limits, req));
    if (options.idleTimeoutMs > 0) req.setTimeout(options.idleTimeoutMs, onIdle);
    req.on('close', onClose);
    middleware(req, res, (err?: unknown) => finish(err ? translateMulterError(err, options.limits, req) : undefined));
  });
}

/** Multer's own errors, said in the product's words. */
export function translateMulterError(err: unknown, limits: UploadLimits, req?: Request): unknown {
  // Whatever the parser says about a body that stopped half-way, the client left.
  if (req && !req.complete && (req.destroyed || req.socket?.destroyed) && !isRefusal(err)) {
    return new ClientAbortedError(undefined, { cause: err });
  }
  if (!(err instanceof MulterError)) {
    if (err instanceof Error && /Unexpected end of form|Malformed part header|Multipart: Boundary not found/i.test(err.message)) {
      return new InvalidInputError('bad_multipart', `The upload is not valid multipart/form-data: ${err.message}`);
    }
    return err;
  }
  switch (err.code) {
    case 'LIMIT_FILE_SIZE': {
      const field = err.field === 'image' ? 'image' : 'audio';
      const max = field === 'image' ? limits.imageMaxBytes : limits.audioMaxBytes;
      return new TooLargeError('file_too_large', `The ${field} file is larger than ${formatBytes(max)}`);
    }
    case 'LIMIT_UNEXPECTED_FILE':
      return new InvalidInputError('unexpected_file', `Unexpected file field "${err.field}"; send one "image" and one "audio"`);
    case 'LIMIT_FILE_COUNT':
      return new InvalidInputError('unexpected_file', 'Send exactly two files: one "image" and one "audio"');
    case 'LIMIT_FIELD_VALUE':
      return new InvalidInputError('field_too_long', `The field "${err.field}" is too long`);
    case 'LIMIT_FIELD_COUNT':
    case 'LIMIT_PART_COUNT':
    case 'LIMIT_FIELD_KEY':
      return new InvalidInputError('too_many_fields', 'The form has too many or too long fields');
    default:
      return new InvalidInputError('bad_upload', err.message);
  }
}
