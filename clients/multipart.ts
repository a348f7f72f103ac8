/**
 * POST a multipart/form-data body built by hand, its parts in the order given, files streamed
 * from disk with a precomputed Content-Length: neither side ever holds a file in memory, and
 * http.request with a known length sends no chunked framing either. Bytes are counted as they
 * go out, for a progress bar.
 */
import { createReadStream } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { countingStream } from './progress';

/** A text field, a file on disk, or a file already in memory. */
export type MultipartPart =
  | { name: string; value: string }
  | { name: string; filename: string; contentType: string; path: string; bytes: number }
  | { name: string; filename: string; contentType: string; data: Buffer };

export interface MultipartAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The length of the body sent (the Content-Length). */
  bytesSent: number;
}

export interface MultipartOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  onProgress?: (sent: number, total: number) => void;
  /** `false`: a connection of its own, as a browser's parallel uploads have. */
  agent?: http.Agent | false;
  /** Read size for files on disk (default 64 KB). */
  readSize?: number;
}

/** A quoted-string-safe filename (printable ASCII, no quote or backslash). */
const safeFilename = (name: string): string => name.replace(/[^\x20-\x7e]|["\\]/g, '_');

/** The body's pieces (buffers and files to stream), its boundary and its length. */
export function multipartBody(parts: MultipartPart[]): { boundary: string; pieces: Array<Buffer | { path: string; bytes: number }>; length: number } {
  const boundary = `----avatar-client-${Math.random().toString(16).slice(2)}${Date.now().toString(16)}`;
  const pieces: Array<Buffer | { path: string; bytes: number }> = [];
  for (const part of parts) {
    if ('value' in part) {
      pieces.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"\r\n\r\n${part.value}\r\n`));
      continue;
    }
    pieces.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"; filename="${safeFilename(part.filename)}"\r\nContent-Type: ${part.contentType}\r\n\r\n`,
      ),
    );
    pieces.push('data' in part ? part.data : { path: part.path, bytes: part.bytes });
    pieces.push(Buffer.from('\r\n'));
  }
  pieces.push(Buffer.from(`--${boundary}--\r\n`));
  const length = pieces.reduce((n, p) => n + (Buffer.isBuffer(p) ? p.length : p.bytes), 0);
  return { boundary, pieces, length };
}

/**
 * Sends the parts to `url` and resolves with whatever the server answered (any status). A
 * refused connection or an abort rejects with the socket's error.
 */
export function postMultipart(url: string | URL, parts: MultipartPart[], options: MultipartOptions = {}): Promise<MultipartAnswer> {
  const { boundary, pieces, length } = multipartBody(parts);
  const target = new URL(url);
  const client = target.protocol === 'https:' ? https : http;
  const readSize = options.readSize ?? 64 * 1024;
  return new Promise((resolve, reject) => {
    const req = client.request(target, {
      method: 'POST',
      signal: options.signal,
      agent: options.agent,
      headers: { ...options.headers, 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': String(length) },
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), bytesSent: length }));
      res.on('error', reject);
      res.on('close', () => {
        if (!res.complete) reject(new Error('the answer was cut off'));
      });
    });
    req.on('error', reject);

    async function* body(): AsyncGenerator<Buffer> {
      for (const piece of pieces) {
        if (Buffer.isBuffer(piece)) yield piece;
        else yield* createReadStream(piece.path, { highWaterMark: readSize }) as AsyncIterable<Buffer>;
      }
    }
    const stages: NodeJS.ReadableStream[] = [Readable.from(body())];
    if (options.onProgress) stages.push(countingStream(length, options.onProgress));
    // The server may answer early (a refused type, an error) and close: its answer is what counts.
    (pipeline as (...streams: unknown[]) => Promise<void>)(...stages, req).catch(() => undefined);
  });
}
