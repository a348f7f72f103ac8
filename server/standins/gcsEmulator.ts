import { createHash, randomUUID, verify as verifySignature } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * A local stand-in for Cloud Storage that speaks the parts of the GCS JSON API, the upload API
 * and V4 signed URLs that the official `@google-cloud/storage` client uses for GcsBlobStore:
 *
 * - `POST /upload/storage/v1/b/:bucket/o?uploadType=media|multipart|resumable`
 * - `PUT  <resumable session URI>` (whole-body `bytes 0-*\/*`, chunks, and `bytes *\/*` status checks)
 * - `GET  /storage/v1/b/:bucket/o/:object` (metadata) and `?alt=media` (bytes, with Range)
 * - `DELETE /storage/v1/b/:bucket/o/:object`
 * - `PATCH /storage/v1/b/:bucket/o/:object` (customTime only; like GCS, it may not go backwards)
 * - `GET  /:bucket/:object?X-Goog-Signature=...` (a V4 signed URL: expiry and, for known
 *   service accounts, the RSA signature are checked as GCS does)
 *
 * Objects live in a temporary directory, so large uploads do not grow the process's memory.
 * Point the client at it with `new Storage({apiEndpoint: baseUrl, ...})` (or the environment
 * variable STORAGE_EMULATOR_HOST=baseUrl, read when the client is constructed); signed URLs
 * then use the same host, so a test can GET them.
 */
export interface GcsEmulator {
  /** `http://127.0.0.1:<port>`: pass as the Storage client's `apiEndpoint`. */
  readonly baseUrl: string;
  readonly port: number;
  /** Names of the finished objects in a bucket (sorted). */
  objectNames(bucket: string): string[];
  /** Upload sessions and uploads that have started but neither finished nor been abandoned. */
  openUploads(): number;
  /**
   * Makes the next `times` JSON API or upload requests (not signed-URL GETs) answer `status`,
   * to test how callers handle an unavailable service.
   */
  failNext(status: number, times?: number): void;
  close(): Promise<void>;
}

export interface GcsEmulatorOptions {
  port?: number;
  host?: string;
  /**
   * Service-account emails and their PEM public keys. A signed URL whose credential names one
   * of them must carry a valid signature; with no keys at all, signatures are not checked.
   */
  serviceAccounts?: Record<string, string>;
  /** Where to keep object bytes; a fresh temporary directory by default (removed on close). */
  dataDir?: string;
}

interface StoredObject {
  bucket: string;
  name: string;
  file: string;
  size: number;
  contentType: string;
  metadata?: Record<string, string>;
  generation: string;
  md5Hash: string;
  crc32c: string;
  created: string;
  customTime?: string;
}

interface UploadSession {
  id: string;
  bucket: string;
  name: string;
  contentType: string;
  metadata?: Record<string, string>;
  file: string;
  received: number;
  /** Digests are kept incrementally so chunks never need to be read back. */
  md5: ReturnType<typeof createHash>;
  crc: number;
  done?: StoredObject;
  /** The PUT now streaming into this session, ended if the session is cancelled. */
  active?: { req: IncomingMessage; res: ServerResponse };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

// CRC32C (Castagnoli), which the client checks after every upload and download; Node 20 has
// no built-in for it. Reflected polynomial 0x82F63B78.
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32cUpdate(crc: number, buf: Buffer): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function crc32cBase64(crc: number): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc >>> 0);
  return out.toString('base64');
}

/** Counts and digests bytes on their way to disk. */
class Digester extends Transform {
  bytes = 0;
  constructor(
    readonly md5: ReturnType<typeof createHash>,
    public crc: number,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    this.md5.update(chunk);
    this.crc = crc32cUpdate(this.crc, chunk);
    done(null, chunk);
  }
}

/** The same encoding the client uses when it builds the canonical request of a V4 signature. */
function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

/** `20240102T030405Z` → epoch milliseconds. */
function parseGoogDate(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return Number.NaN;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

/** Starts the emulator on 127.0.0.1 (port 0 by default: a free port). */
export async function startGcsEmulator(options: GcsEmulatorOptions = {}): Promise<GcsEmulator> {
  const host = options.host ?? '127.0.0.1';
  const ownsDir = !options.dataDir;
  const dataDir = options.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'gcs-emulator-')));
  await fs.mkdir(dataDir, { recursive: true });
  const serviceAccounts = options.serviceAccounts ?? {};
  const objects = new Map<string, StoredObject>();
  const sessions = new Map<string, UploadSession>();
  let uploadsInFlight = 0;
  let generationCounter = Date.now() * 1000;
  const faults: number[] = [];
  let baseUrl = '';

  const objectKey = (bucket: string, name: string) => `${bucket}/${name}`;
  const tempFile = () => path.join(dataDir, `${randomUUID()}.part`);

  function resource(o: StoredObject): Record<string, unknown> {
    const encoded = encodeURIComponent(o.name);
    return {
      kind: 'storage#object',
      id: `${o.bucket}/${o.name}/${o.generation}`,
      selfLink: `${baseUrl}/storage/v1/b/${o.bucket}/o/${encoded}`,
      mediaLink: `${baseUrl}/download/storage/v1/b/${o.bucket}/o/${encoded}?generation=${o.generation}&alt=media`,
      name: o.name,
      bucket: o.bucket,
      generation: o.generation,
      metageneration: '1',
      contentType: o.contentType,
      storageClass: 'STANDARD',
      size: String(o.size),
      md5Hash: o.md5Hash,
      crc32c: o.crc32c,
      etag: Buffer.from(o.generation).toString('base64'),
      timeCreated: o.created,
      updated: o.created,
      ...(o.metadata ? { metadata: o.metadata } : {}),
      ...(o.customTime ? { customTime: o.customTime } : {}),
    };
  }

  /** Makes a finished file the live object (a new generation), replacing any older one. */
  async function commit(
    bucket: string,
    name: string,
    file: string,
    size: number,
    contentType: string,
    metadata: Record<string, string> | undefined,
    md5: Buffer,
    crc: number,
  ): Promise<StoredObject> {
    const previous = objects.get(objectKey(bucket, name));
    const stored: StoredObject = {
      bucket,
      name,
      file,
      size,
      contentType,
      metadata,
      generation: String(++generationCounter),
      md5Hash: md5.toString('base64'),
      crc32c: crc32cBase64(crc),
      created: new Date().toISOString(),
    };
    objects.set(objectKey(bucket, name), stored);
    if (previous) await fs.rm(previous.file, { force: true });
    return stored;
  }

  function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  function sendJsonError(res: ServerResponse, err: HttpError): void {
    sendJson(res, err.status, {
      error: { code: err.status, message: err.message, errors: [{ message: err.message, domain: 'global', reason: err.reason }] },
    });
  }

  /** Signed-URL errors are XML, as GCS answers them on the XML API host. */
  function sendXmlError(res: ServerResponse, status: number, code: string, message: string): void {
    const text = `<?xml version='1.0' encoding='UTF-8'?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
    res.writeHead(status, { 'content-type': 'application/xml; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > 1024 * 1024) throw new HttpError(400, 'invalid', 'Metadata too large');
      chunks.push(chunk as Buffer);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    if (!text) return {};
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new HttpError(400, 'parseError', 'Parse Error');
    }
  }

  /** Streams the request body to `file`; a client that disconnects midway leaves no file. */
  async function receiveBody(req: IncomingMessage, file: string, digester: Digester): Promise<void> {
    uploadsInFlight++;
    try {
      await pipeline(req, digester, createWriteStream(file, { flags: 'a' }));
    } catch (err) {
      throw new HttpError(499, 'clientClosedRequest', `Upload interrupted: ${(err as Error).message}`);
    } finally {
      uploadsInFlight--;
    }
  }

  function objectMetadataFrom(meta: Record<string, unknown>): Record<string, string> | undefined {
    const m = meta.metadata;
    if (!m || typeof m !== 'object') return undefined;
    return Object.fromEntries(Object.entries(m as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
  }

  async function uploadMedia(req: IncomingMessage, res: ServerResponse, bucket: string, url: URL): Promise<void> {
    const name = url.searchParams.get('name');
    if (!name) throw new HttpError(400, 'required', 'Required parameter: name');
    const file = tempFile();
    const digester = new Digester(createHash('md5'), 0);
    try {
      await receiveBody(req, file, digester);
    } catch (err) {
      await fs.rm(file, { force: true });
      throw err;
    }
    const contentType = req.headers['content-type'] ?? 'application/octet-stream';
    const stored = await commit(bucket, name, file, digester.bytes, contentType, undefined, digester.md5.digest(), digester.crc);
    sendJson(res, 200, resource(stored));
  }

  /**
   * multipart/related: a JSON metadata part, then the media part, then the closing delimiter.
   * The raw body goes to disk first; then the head (metadata and part headers) and the tail
   * (closing delimiter) are read back, and only the media bytes are copied into the object.
   * A body without its closing delimiter (the client gave up midway) creates nothing.
   */
  async function uploadMultipart(req: IncomingMessage, res: ServerResponse, bucket: string, url: URL): Promise<void> {
    const boundary = /boundary="?([^";]+)"?/i.exec(req.headers['content-type'] ?? '')?.[1];
    if (!boundary) throw new HttpError(400, 'invalid', 'Missing multipart boundary');
    const raw = tempFile();
    try {
      await receiveBody(req, raw, new Digester(createHash('md5'), 0));
      const { size } = await fs.stat(raw);
      const handle = await fs.open(raw, 'r');
      let head: Buffer;
      let tail: Buffer;
      try {
        head = Buffer.alloc(Math.min(size, 256 * 1024));
        await handle.read(head, 0, head.length, 0);
        const tailLength = Math.min(size, boundary.length + 16);
        tail = Buffer.alloc(tailLength);
        await handle.read(tail, 0, tailLength, size - tailLength);
      } finally {
        await handle.close();
      }
      const delimiter = `--${boundary}`;
      const first = head.indexOf(`${delimiter}\r\n`);
      const metaStart = head.indexOf('\r\n\r\n', first) + 4;
      const metaEnd = head.indexOf(`\r\n${delimiter}\r\n`, metaStart);
      const mediaHeadersEnd = metaEnd < 0 ? -1 : head.indexOf('\r\n\r\n', metaEnd + 2);
      if (first < 0 || metaStart < 4 || metaEnd < 0 || mediaHeadersEnd < 0) throw new HttpError(400, 'invalid', 'Malformed multipart body');
      const closing = tail.lastIndexOf(`\r\n${delimiter}--`);
      if (closing < 0) throw new HttpError(400, 'invalid', 'Incomplete multipart body');
      const mediaHeaders = head.subarray(metaEnd + 2 + delimiter.length + 2, mediaHeadersEnd).toString('utf8');
      const meta = JSON.parse(head.subarray(metaStart, metaEnd).toString('utf8')) as Record<string, unknown>;
      const dataStart = mediaHeadersEnd + 4;
      const dataEnd = size - tail.length + closing; // exclusive
      const name = (url.searchParams.get('name') ?? (meta.name as string | undefined)) || '';
      if (!name) throw new HttpError(400, 'required', 'Required parameter: name');
      const contentType =
        (meta.contentType as string | undefined) ?? /content-type:\s*([^\r\n]+)/i.exec(mediaHeaders)?.[1] ?? 'application/octet-stream';
      const file = tempFile();
      const digester = new Digester(createHash('md5'), 0);
      if (dataEnd > dataStart) {
        await pipeline(createReadStream(raw, { start: dataStart, end: dataEnd - 1 }), digester, createWriteStream(file));
      } else {
        await fs.writeFile(file, Buffer.alloc(0));
      }
      const stored = await commit(bucket, name, file, digester.bytes, contentType, objectMetadataFrom(meta), digester.md5.digest(), digester.crc);
      sendJson(res, 200, resource(stored));
    } finally {
      await fs.rm(raw, { force: true });
    }
  }

  async function startResumable(req: IncomingMessage, res: ServerResponse, bucket: string, url: URL): Promise<void> {
    const meta = await readJson(req);
    const name = url.searchParams.get('name') ?? (meta.name as string | undefined);
    if (!name) throw new HttpError(400, 'required', 'Required parameter: name');
    const id = randomUUID();
    const header = req.headers['x-upload-content-type'];
    const session: UploadSession = {
      id,
      bucket,
      name,
      contentType: (typeof header === 'string' ? header : undefined) ?? (meta.contentType as string | undefined) ?? 'application/octet-stream',
      metadata: objectMetadataFrom(meta),
      file: tempFile(),
      received: 0,
      md5: createHash('md5'),
      crc: 0,
    };
    await fs.writeFile(session.file, Buffer.alloc(0));
    sessions.set(id, session);
    const location = `${baseUrl}/upload/storage/v1/b/${bucket}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${id}`;
    res.writeHead(200, { location, 'x-guploader-uploadid': id, 'content-length': 0 });
    res.end();
  }

  function sendIncomplete(res: ServerResponse, session: UploadSession): void {
    const headers: Record<string, string | number> = { 'content-length': 0 };
    if (session.received > 0) headers.range = `bytes=0-${session.received - 1}`;
    res.writeHead(308, headers);
    res.end();
  }

  /**
   * One PUT to a resumable session. `Content-Range: bytes A-B/T` appends a chunk; `bytes A-*\/T`
   * is the rest of the object in one request (what the client sends when it has no chunkSize),
   * which finishes the upload when the body ends; `bytes *\/T` asks how much has arrived.
   */
  async function putResumable(req: IncomingMessage, res: ServerResponse, uploadId: string): Promise<void> {
    const session = sessions.get(uploadId);
    if (!session) throw new HttpError(404, 'notFound', 'No such upload session');
    if (session.done) {
      req.resume();
      sendJson(res, 200, resource(session.done));
      return;
    }
    const range = (req.headers['content-range'] ?? 'bytes */*').trim();
    const status = /^bytes \*\/(\d+|\*)$/.exec(range);
    if (status) {
      req.resume();
      sendIncomplete(res, session);
      return;
    }
    const m = /^bytes (\d+)-(\d+|\*)\/(\d+|\*)$/.exec(range);
    if (!m) throw new HttpError(400, 'invalid', `Bad Content-Range: ${range}`);
    const start = Number(m[1]);
    if (start !== session.received) {
      // GCS answers a chunk that does not start where the last one ended with the current state.
      req.resume();
      sendIncomplete(res, session);
      return;
    }
    const digester = new Digester(session.md5, session.crc);
    session.active = { req, res };
    try {
      await receiveBody(req, session.file, digester);
    } catch (err) {
      if (!sessions.has(session.id)) throw err; // cancelled: its file is already gone
      // Drop what this request appended: the session stays at its last complete chunk.
      await fs.truncate(session.file, session.received).catch(() => undefined);
      session.md5 = createHash('md5');
      session.crc = 0;
      if (session.received > 0) {
        // Rebuild the digests of what is kept (rare: only after an interrupted chunk).
        const keep = new Digester(session.md5, 0);
        await pipeline(createReadStream(session.file), keep, new Writable({ write: (_c, _e, cb) => cb() }));
        session.crc = keep.crc;
      }
      throw err;
    } finally {
      session.active = undefined;
    }
    session.received += digester.bytes;
    session.crc = digester.crc;
    const total = m[3] === '*' ? undefined : Number(m[3]);
    const finished = m[2] === '*' || (total !== undefined && session.received >= total);
    if (!finished) {
      sendIncomplete(res, session);
      return;
    }
    if (total !== undefined && session.received !== total) throw new HttpError(400, 'invalid', 'Upload size does not match Content-Range');
    session.done = await commit(
      session.bucket,
      session.name,
      session.file,
      session.received,
      session.contentType,
      session.metadata,
      session.md5.digest(),
      session.crc,
    );
    sendJson(res, 200, resource(session.done));
  }

  /** Serves an object's bytes, whole or one `Range: bytes=a-b` slice. */
  function sendMedia(req: IncomingMessage, res: ServerResponse, o: StoredObject): void {
    const headers: Record<string, string | number> = {
      'content-type': o.contentType,
      'x-goog-generation': o.generation,
      'x-goog-metageneration': '1',
      'x-goog-stored-content-length': o.size,
      'x-goog-stored-content-encoding': 'identity',
      'x-goog-hash': `crc32c=${o.crc32c},md5=${o.md5Hash}`,
      'accept-ranges': 'bytes',
    };
    let start = 0;
    let end = o.size - 1;
    let status = 200;
    const range = req.headers.range;
    if (range) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      if (m && (m[1] || m[2])) {
        if (m[1]) {
          start = Number(m[1]);
          if (m[2]) end = Math.min(Number(m[2]), o.size - 1);
        } else {
          start = Math.max(0, o.size - Number(m[2])); // suffix range: the last N bytes
        }
        if (start >= o.size) {
          res.writeHead(416, { 'content-range': `bytes */${o.size}`, 'content-length': 0 });
          res.end();
          return;
        }
        status = 206;
        headers['content-range'] = `bytes ${start}-${end}/${o.size}`;
        // A slice has no whole-object hash to check against.
        delete headers['x-goog-hash'];
      }
    }
    headers['content-length'] = Math.max(0, end - start + 1);
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || end < start) {
      res.end();
      return;
    }
    createReadStream(o.file, { start, end }).on('error', () => res.destroy()).pipe(res);
  }

  /**
   * A V4 signed URL, checked as GCS checks it: the URL must not be used before X-Goog-Date or
   * after X-Goog-Date + X-Goog-Expires, and the signature must match the canonical request
   * (method, path, sorted query without the signature, signed headers, UNSIGNED-PAYLOAD).
   */
  function serveSigned(req: IncomingMessage, res: ServerResponse, url: URL, rawPath: string): void {
    const q = url.searchParams;
    const algorithm = q.get('X-Goog-Algorithm');
    const credential = q.get('X-Goog-Credential') ?? '';
    const date = q.get('X-Goog-Date') ?? '';
    const expires = Number(q.get('X-Goog-Expires'));
    const signedHeaders = q.get('X-Goog-SignedHeaders') ?? '';
    const signature = q.get('X-Goog-Signature') ?? '';
    if (algorithm !== 'GOOG4-RSA-SHA256' || !credential || !date || !Number.isFinite(expires) || !signature) {
      sendXmlError(res, 400, 'AuthorizationQueryParametersError', 'Missing or malformed V4 signature parameters.');
      return;
    }
    const signedAt = parseGoogDate(date);
    if (!Number.isFinite(signedAt)) {
      sendXmlError(res, 400, 'AuthorizationQueryParametersError', 'Invalid X-Goog-Date.');
      return;
    }
    if (Date.now() > signedAt + expires * 1000) {
      sendXmlError(res, 400, 'ExpiredToken', 'Invalid argument.');
      return;
    }
    if (Date.now() + 60_000 < signedAt) {
      sendXmlError(res, 400, 'AuthorizationQueryParametersError', 'Request is not yet valid.');
      return;
    }
    const email = credential.split('/')[0]!;
    const scope = credential.slice(email.length + 1);
    const publicKey = serviceAccounts[email];
    if (publicKey || Object.keys(serviceAccounts).length > 0) {
      const query = [...q.entries()]
        .filter(([k]) => k !== 'X-Goog-Signature')
        .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
        .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
        .map(([k, v]) => `${k}=${v}`)
        .join('&');
      const headerNames = signedHeaders.split(';').filter(Boolean);
      const headerLines = headerNames
        .map((h) => {
          // The client signs the host without its port (it uses URL.hostname).
          const value = h === 'host' ? (req.headers.host ?? '').replace(/:\d+$/, '') : String(req.headers[h] ?? '');
          return `${h}:${value.trim().replace(/\s{2,}/g, ' ')}\n`;
        })
        .join('');
      const canonicalRequest = [req.method, rawPath, query, headerLines, signedHeaders, 'UNSIGNED-PAYLOAD'].join('\n');
      const stringToSign = ['GOOG4-RSA-SHA256', date, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
      const ok =
        !!publicKey && /^[0-9a-f]+$/i.test(signature) && verifySignature('RSA-SHA256', Buffer.from(stringToSign), publicKey, Buffer.from(signature, 'hex'));
      if (!ok) {
        sendXmlError(res, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
        return;
      }
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendXmlError(res, 405, 'MethodNotAllowed', 'Only GET is served for signed URLs here.');
      return;
    }
    const [bucket, ...rest] = rawPath.slice(1).split('/');
    const o = objects.get(objectKey(decodeURIComponent(bucket ?? ''), decodeURIComponent(rest.join('/'))));
    if (!o) {
      sendXmlError(res, 404, 'NoSuchKey', 'The specified key does not exist.');
      return;
    }
    sendMedia(req, res, o);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');
    const rawPath = (req.url ?? '/').split('?')[0]!;
    const method = req.method ?? 'GET';

    if (url.searchParams.has('X-Goog-Signature')) {
      serveSigned(req, res, url, rawPath);
      return;
    }
    if (faults.length > 0) {
      const status = faults.shift()!;
      req.resume();
      sendJsonError(res, new HttpError(status, status === 503 ? 'backendError' : 'injected', 'Injected failure'));
      return;
    }

    let m = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(rawPath);
    if (m) {
      const bucket = decodeURIComponent(m[1]!);
      const uploadId = url.searchParams.get('upload_id');
      if (uploadId && method === 'PUT') return putResumable(req, res, uploadId);
      if (uploadId && method === 'DELETE') {
        // Cancelling a session: GCS answers 499, and so does the PUT still streaming into it.
        const session = sessions.get(uploadId);
        sessions.delete(uploadId);
        if (session?.active) {
          const { req: putReq, res: putRes } = session.active;
          if (!putRes.headersSent) sendJsonError(putRes, new HttpError(499, 'clientClosedRequest', 'Upload cancelled'));
          putReq.destroy();
        }
        if (session && !session.done) await fs.rm(session.file, { force: true });
        req.resume();
        res.writeHead(499, { 'content-length': 0 });
        res.end();
        return;
      }
      if (method !== 'POST') throw new HttpError(405, 'methodNotAllowed', 'Method not allowed');
      const type = url.searchParams.get('uploadType');
      if (type === 'media') return uploadMedia(req, res, bucket, url);
      if (type === 'multipart') return uploadMultipart(req, res, bucket, url);
      if (type === 'resumable') return startResumable(req, res, bucket, url);
      throw new HttpError(400, 'invalid', `Unsupported uploadType: ${type}`);
    }

    // With STORAGE_EMULATOR_HOST set, client v7 sends JSON API calls to `<host>/b/...`
    // (no /storage/v1 prefix); with `apiEndpoint`, to `<endpoint>/storage/v1/b/...`.
    m = /^(?:\/download)?(?:\/storage\/v1)?\/b\/([^/]+)\/o\/(.+)$/.exec(rawPath);
    if (m) {
      const patch = method === 'PATCH' ? await readJson(req) : undefined;
      req.resume();
      const bucket = decodeURIComponent(m[1]!);
      const name = decodeURIComponent(m[2]!);
      const o = objects.get(objectKey(bucket, name));
      const generation = url.searchParams.get('generation');
      const ifGenerationMatch = url.searchParams.get('ifGenerationMatch');
      if (!o || (generation && generation !== o.generation)) throw new HttpError(404, 'notFound', `No such object: ${bucket}/${name}`);
      if (ifGenerationMatch && ifGenerationMatch !== o.generation) throw new HttpError(412, 'conditionNotMet', 'Precondition Failed');
      if (method === 'GET' || method === 'HEAD') {
        if (url.searchParams.get('alt') === 'media' || rawPath.startsWith('/download/')) sendMedia(req, res, o);
        else sendJson(res, 200, resource(o));
        return;
      }
      if (method === 'DELETE') {
        objects.delete(objectKey(bucket, name));
        await fs.rm(o.file, { force: true });
        res.writeHead(204, { 'content-length': 0 });
        res.end();
        return;
      }
      if (method === 'PATCH') {
        const customTime = (patch as { customTime?: unknown } | undefined)?.customTime;
        if (typeof customTime === 'string') {
          if (Number.isNaN(Date.parse(customTime))) throw new HttpError(400, 'invalid', 'Invalid customTime');
          if (o.customTime && Date.parse(customTime) < Date.parse(o.customTime)) {
            throw new HttpError(400, 'invalid', 'customTime cannot be decreased');
          }
          o.customTime = new Date(customTime).toISOString();
        }
        sendJson(res, 200, resource(o));
        return;
      }
      throw new HttpError(405, 'methodNotAllowed', 'Method not allowed');
    }
    req.resume();
    throw new HttpError(404, 'notFound', `Not found: ${method} ${rawPath}`);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      const httpErr = err instanceof HttpError ? err : new HttpError(500, 'internalError', (err as Error).message);
      if (httpErr.status === 499) {
        res.destroy(); // the client is gone; nobody reads an answer
        return;
      }
      sendJsonError(res, httpErr);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://${host}:${port}`;

  return {
    baseUrl,
    port,
    objectNames: (bucket) =>
      [...objects.values()]
        .filter((o) => o.bucket === bucket)
        .map((o) => o.name)
        .sort(),
    openUploads: () => uploadsInFlight,
    failNext(status, times = 1) {
      for (let i = 0; i < times; i++) faults.push(status);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (ownsDir) await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}
