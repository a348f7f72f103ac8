import { Transform } from 'node:stream';

/** A pass-through stream that reports the running byte count after every chunk. */
export function countingStream(total: number, onProgress: (done: number, total: number) => void): Transform & { readonly bytes: number } {
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      onProgress(bytes, total);
      done(null, chunk);
    },
  });
  return Object.defineProperty(counter, 'bytes', { get: () => bytes }) as Transform & { readonly bytes: number };
}
