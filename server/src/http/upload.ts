import type { Request } from 'express';
import { Readable } from 'node:stream';
import { InvalidInputError, TooLargeError, ClientAbortedError } from '../domain/errors';
import { ClientError, isRefusal } from './errors';
import type { BlobStore } from '../ports/blobStore';
import { uploadKey } from '../domain/blobKeys';
import { formatBytes } from '../domain/format';
import { AUDIO_TYPES, IMAGE_TYPES, type UploadLimitValues } from '../domain/uploadRules';
import type { MediaLimits } from './mediaChecks';
import { AUDIO_HEAD_BYTES } from './audioLength';
import { boundaryOf, readMultipart, type MultipartLimits } from './multipart';
import { SNIFF_BYTES, sniffAudio, sniffImage, type MediaType } from './mediaTypes';

/** One accepted upload, as the route sees it after the storage engine has stored it. */
export interface StoredUpload {
  field: 'image' | 'audio';
  key: string;
  mime: string;
  bytes: number;
  /** A recording's first bytes (AUDIO_HEAD_BYTES or more, or all of a shorter file), read anyway on the way to the store: a WAV's length is in them. */
  head?: Buffer;
}

/** The upload limits (domain/uploadRules.ts); `media` (checked after the upload) defaults when absent. */
export type UploadLimits = Omit<UploadLimitValues, 'media'> & { media?: MediaLimits };

/** Per-request upload state, kept on the request so cleanup can find every key ever started. */
export interface UploadContext {
  jobId: string;
  startedKeys: Set<string>;
  stored: Map<string, StoredUpload>;
  /** Files being written now; cleanup waits for them so no write lands after it. */
  inFlight: Set<Promise<void>>;
  /** Set by cleanup: a file that starts afterwards is refused at once. */
  closed: boolean;
  /** Ends the upload at once with this error, without reading the rest of the body. */
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
 * Stores one file part straight into the BlobStore: a file is never held whole in memory. The
 * type is decided from the first bytes; the size limit is enforced per field while the bytes
 * flow. Every key it starts is recorded on the context first, so cleanup finds it.
 */
async function storeFile(blobs: BlobStore, limits: UploadLimits, ctx: UploadContext, name: string, stream: Readable): Promise<StoredUpload> {
  const spec = FIELDS[name as Field];
  if (!spec) throw new InvalidInputError('unexpected_file', `Unexpected file field "${name}"; send one "image" and one "audio"`);
  const field = name as Field;
  if (ctx.stored.has(field) || ctx.startedKeys.has(`field:${field}`)) {
    throw new InvalidInputError('unexpected_file', `Send one "${field}" file only`);
  }
  ctx.startedKeys.add(`field:${field}`);

  const { head, ended } = await peek(stream, field === 'audio' ? AUDIO_HEAD_BYTES : SNIFF_BYTES);
  if (head.length === 0) throw new InvalidInputError('empty_file', `The ${field} file is empty`);
  const type: MediaType | null = spec.sniff(head);
  if (!type) {
    throw new ClientError(415, 'unsupported_media_type', `The ${field} must be ${spec.accepted}; this file's contents are not`);
  }
  const key = uploadKey(ctx.jobId, field, type.ext);
  ctx.startedKeys.add(key);
  const source = ended ? Readable.from([head]) : stream;
  const maxBytes = spec.limit(limits);
  try {
    const result = await blobs.putStream(key, source, { maxBytes, contentType: type.mime, sha256: false });
    const stored: StoredUpload = { field, key, mime: type.mime, bytes: result.bytes, ...(field === 'audio' ? { head } : {}) };
    ctx.stored.set(field, stored);
    return stored;
  } catch (err) {
    if (err instanceof TooLargeError && err.code === 'file_too_large') {
      throw new TooLargeError('file_too_large', `The ${field} file is larger than ${formatBytes(maxBytes)}`);
    }
    throw err;
  }
}

/** The form around the two files: a few short text fields. */
function formLimits(limits: UploadLimits): MultipartLimits {
  return {
    fields: 8,
    parts: 10,
    // UTF-8 takes up to 4 bytes a character; the schema checks characters afterwards.
    fieldBytes: Math.max(limits.bioMaxChars, limits.nameMaxChars) * 4 + 16,
    nameChars: 100,
    headerBytes: 16 * 1024,
  };
}

/**
 * Reads the upload's form: text fields into `req.body`, each file into the BlobStore as it
 * arrives. Resolves when the body has been read and every file is stored. Rejects as soon as a
 * file is refused (type, size), when no byte arrives for `idleTimeoutMs`, or when the client
 * goes away (ClientAbortedError), without reading the rest of the body.
 */
export function receiveUpload(
  req: Request,
  options: {
    blobs: BlobStore;
    limits: UploadLimits;
    idleTimeoutMs: number;
    /** Told of each file as soon as it is stored, while the rest of the form may still arrive. */
    onStored?: (file: StoredUpload) => void;
  },
): Promise<void> {
  const ctx = req.upload;
  if (!ctx) return Promise.reject(new Error('upload context missing'));
  const boundary = boundaryOf(req.headers['content-type']);
  if (!boundary) return Promise.reject(new InvalidInputError('bad_multipart', 'The upload is not valid multipart/form-data: its Content-Type names no boundary'));
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const fields: [string, string][] = [];
    const finish = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      req.off('timeout', onIdle);
      req.off('close', onClose);
      if (options.idleTimeoutMs > 0) req.setTimeout(0);
      if (err) {
        reader.stop(err instanceof Error ? err : new Error(String(err)));
        reject(translateUploadError(err, req));
        return;
      }
      // Object.fromEntries defines own properties: a field named "__proto__" stays a field.
      req.body = Object.fromEntries(fields);
      resolve();
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
    ctx.fail = (err) => finish(err);

    const reader = readMultipart(req, boundary, formLimits(options.limits), {
      onField: (name, value) => {
        if (fields.some(([n]) => n === name)) throw new InvalidInputError('unexpected_field', `Send the field "${name}" once`);
        fields.push([name, value]);
      },
      onFile: ({ name, stream }) => {
        const work = ctx.closed
          ? Promise.reject(new InvalidInputError('upload_closed', 'The upload was already refused'))
          : storeFile(options.blobs, options.limits, ctx, name, stream);
        const settledWork = work.then(
          () => undefined,
          () => undefined,
        );
        ctx.inFlight.add(settledWork);
        void settledWork.then(() => ctx.inFlight.delete(settledWork));
        // A refused file ends the upload now: the rest of a body that may be gigabytes long is
        // not read.
        work.then(
          (stored) => options.onStored?.(stored),
          (err: unknown) => finish(err),
        );
      },
    });
    if (options.idleTimeoutMs > 0) req.setTimeout(options.idleTimeoutMs, onIdle);
    req.on('close', onClose);
    reader.done.then(
      // Every file part has ended; wait for the stores to finish writing them.
      async () => {
        while (ctx.inFlight.size > 0) await Promise.all(ctx.inFlight);
        finish();
      },
      (err: unknown) => finish(err),
    );
  });
}

/** What went wrong reading an upload, said in the product's words. */
export function translateUploadError(err: unknown, req?: Request): unknown {
  // Whatever the parser says about a body that stopped half-way, the client left.
  if (req && !req.complete && (req.destroyed || req.socket?.destroyed) && !isRefusal(err)) {
    return new ClientAbortedError(undefined, { cause: err });
  }
  return err;
}
