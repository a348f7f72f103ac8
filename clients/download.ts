import { createWriteStream, promises as fs } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { countingStream } from './progress';

/**
 * Writes a response body into `out` through `out.part`, renamed when complete (removed when
 * not), reporting the bytes received against the Content-Length. Resolves with the byte count.
 */
export async function saveBody(res: Response, out: string, onProgress: (got: number, total: number) => void = () => undefined): Promise<number> {
  const total = Number(res.headers.get('content-length') ?? 0);
  const partial = `${out}.part`;
  const counter = countingStream(total, onProgress);
  try {
    await pipeline(Readable.fromWeb(res.body as WebReadableStream), counter, createWriteStream(partial));
    await fs.rename(partial, out);
  } catch (e) {
    await fs.rm(partial, { force: true });
    throw e;
  }
  return counter.bytes;
}
