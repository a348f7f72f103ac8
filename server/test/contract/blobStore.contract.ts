import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import { NotFoundError, PermanentError, TooLargeError } from '../../src/domain/errors';
import type { BlobStore } from '../../src/ports/blobStore';

/** What a contract run needs from one adapter. */
export interface BlobStoreFixture {
  store: BlobStore;
  /** True when the store makes signed URLs (GCS); false when it returns null (local). */
  signsUrls: boolean;
  /**
   * Everything the backend holds right now (object names, temp files, open uploads), so the
   * suite can check that a failed write left nothing at all behind, not only under its key.
   */
  residue(): Promise<string[]>;
  teardown(): Promise<void>;
}

const MB = 1024 * 1024;

/** Deterministic, incompressible-looking bytes, made chunk by chunk (never held whole). */
function* generatedChunks(totalBytes: number, chunkBytes = 64 * 1024, seed = 1): Generator<Buffer> {
  let x = seed >>> 0 || 1;
  for (let sent = 0; sent < totalBytes; sent += chunkBytes) {
    const chunk = Buffer.allocUnsafe(Math.min(chunkBytes, totalBytes - sent));
    for (let i = 0; i + 4 <= chunk.length; i += 4) {
      // xorshift32
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      chunk.writeUInt32LE(x, i);
    }
    for (let i = chunk.length - (chunk.length % 4); i < chunk.length; i++) chunk[i] = i & 0xff;
    yield chunk;
  }
}

function bytesOf(totalBytes: number, seed = 1): Buffer {
  return Buffer.concat([...generatedChunks(totalBytes, 64 * 1024, seed)]);
}

/** A source that sends `before` bytes and then fails, as a dropped client upload does. */
function failingSource(before: number, error: Error): Readable {
  const chunks = [...generatedChunks(before)];
  return new Readable({
    read() {
      const next = chunks.shift();
      if (next) this.push(next);
      else this.destroy(error);
    },
  });
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * The garbage collector as a function, whether or not node ran with --expose-gc: the flag can
 * be set at run time, and a fresh context then sees `gc`.
 */
function exposedGc(): () => void {
  if (typeof global.gc === 'function') return global.gc;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

const sha256 = (buf: Buffer) => createHash('sha256').update(buf).digest('hex');

/**
 * The BlobStore contract: every adapter must pass it. `setup` runs before each test and gets a
 * fresh, empty store.
 */
export function describeBlobStoreContract(name: string, setup: () => Promise<BlobStoreFixture>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let fx: BlobStoreFixture;
    beforeEach(async () => {
      fx = await setup();
    });
    afterEach(async () => {
      await fx.teardown();
    });

    test('when a stream is stored, reading it back gives the same bytes, and the result reports their count and SHA-256', async () => {
      const data = bytesOf(300 * 1024 + 7);
      const result = await fx.store.putStream('uploads/u1/photo.bin', Readable.from([data.subarray(0, 1000), data.subarray(1000)]));
      expect(result.bytes).toBe(data.length);
      expect(result.sha256).toBe(sha256(data));
      const back = await readAll(await fx.store.openRead('uploads/u1/photo.bin'));
      expect(back.equals(data)).toBe(true);
    });

    test('a put that asks for no hash stores the same bytes and reports no SHA-256', async () => {
      const data = bytesOf(70 * 1024);
      const result = await fx.store.putStream('uploads/u1/nohash.bin', Readable.from([data]), { sha256: false, maxBytes: data.length });
      expect(result).toMatchObject({ bytes: data.length, sha256: null });
      expect((await readAll(await fx.store.openRead('uploads/u1/nohash.bin'))).equals(data)).toBe(true);
    });

    test('an empty stream is stored as an empty object', async () => {
      const result = await fx.store.putStream('empty.txt', Readable.from([]));
      expect(result).toMatchObject({ bytes: 0, sha256: sha256(Buffer.alloc(0)) });
      expect((await fx.store.stat('empty.txt'))?.bytes).toBe(0);
      expect((await readAll(await fx.store.openRead('empty.txt'))).length).toBe(0);
    });

    test('the content type given at write time is kept, and stat reports the size', async () => {
      const result = await fx.store.putStream('audio/voice.mp3', Readable.from([Buffer.from('ID3 fake mp3')]), { contentType: 'audio/mpeg' });
      expect(result.contentType).toBe('audio/mpeg');
      expect(await fx.store.stat('audio/voice.mp3')).toEqual({ bytes: 12, contentType: 'audio/mpeg' });
    });

    test('when a stream is longer than maxBytes, the write fails as too large, file_too_large, and leaves nothing behind', async () => {
      const before = await fx.residue();
      const put = fx.store.putStream('too-big.bin', Readable.from(generatedChunks(2 * MB)), { maxBytes: MB });
      await expect(put).rejects.toBeInstanceOf(TooLargeError);
      await expect(put).rejects.toMatchObject({ code: 'file_too_large' });
      expect(await fx.store.stat('too-big.bin')).toBeNull();
      expect(await fx.residue()).toEqual(before);
    });

    test('a stream of exactly maxBytes is accepted', async () => {
      const result = await fx.store.putStream('exact.bin', Readable.from(generatedChunks(100_000)), { maxBytes: 100_000 });
      expect(result.bytes).toBe(100_000);
    });

    test('when the source stream fails midway, the write rejects with that error and leaves nothing behind', async () => {
      const before = await fx.residue();
      const boom = new Error('client went away');
      await expect(fx.store.putStream('half.bin', failingSource(1536 * 1024, boom))).rejects.toBe(boom);
      expect(await fx.store.stat('half.bin')).toBeNull();
      await expect(fx.store.openRead('half.bin')).rejects.toMatchObject({ code: 'not_found' });
      expect(await fx.residue()).toEqual(before);
    });

    test('when an overwrite fails, the object written before is still there, whole', async () => {
      const first = bytesOf(50_000, 7);
      await fx.store.putStream('result/video.mp4', Readable.from([first]), { contentType: 'video/mp4' });
      await expect(fx.store.putStream('result/video.mp4', failingSource(600 * 1024, new Error('provider download cut')))).rejects.toThrow(
        'provider download cut',
      );
      const back = await readAll(await fx.store.openRead('result/video.mp4'));
      expect(sha256(back)).toBe(sha256(first));
    });

    test('a second write to the same key replaces the first', async () => {
      await fx.store.putStream('k.txt', Readable.from([Buffer.from('first version')]));
      await fx.store.putStream('k.txt', Readable.from([Buffer.from('second')]));
      expect((await readAll(await fx.store.openRead('k.txt'))).toString()).toBe('second');
      expect((await fx.store.stat('k.txt'))?.bytes).toBe(6);
    });

    test('a range read returns exactly the bytes from start to end inclusive, or to the end when end is omitted', async () => {
      const data = bytesOf(200_000, 3);
      await fx.store.putStream('ranged.bin', Readable.from([data]));
      const slice = await readAll(await fx.store.openRead('ranged.bin', { start: 1000, end: 1999 }));
      expect(slice.equals(data.subarray(1000, 2000))).toBe(true);
      const tail = await readAll(await fx.store.openRead('ranged.bin', { start: 199_990 }));
      expect(tail.equals(data.subarray(199_990))).toBe(true);
    });

    test('reading a missing key rejects with a permanent not_found, and stat answers null', async () => {
      const read = fx.store.openRead('never/written.bin');
      await expect(read).rejects.toBeInstanceOf(PermanentError);
      await expect(read).rejects.toBeInstanceOf(NotFoundError);
      await expect(read).rejects.toMatchObject({ code: 'not_found' });
      expect(await fx.store.stat('never/written.bin')).toBeNull();
    });

    test('delete removes the object, and deleting it again (or a key never written) is not an error', async () => {
      await fx.store.putStream('gone.txt', Readable.from([Buffer.from('x')]));
      await fx.store.delete('gone.txt');
      expect(await fx.store.stat('gone.txt')).toBeNull();
      await expect(fx.store.delete('gone.txt')).resolves.toBeUndefined();
      await expect(fx.store.delete('never/there.txt')).resolves.toBeUndefined();
    });

    test('a 30 MB stream is written without being held in memory, and reads back with the same SHA-256', async () => {
      const size = 30 * MB;
      const expected = createHash('sha256');
      const source = Readable.from(
        (function* () {
          for (const chunk of generatedChunks(size)) {
            expected.update(chunk);
            yield chunk;
          }
        })(),
      );
      const gc = exposedGc();
      gc();
      const live = () => {
        const m = process.memoryUsage();
        return m.heapUsed + m.arrayBuffers;
      };
      const baseline = { live: live(), rss: process.memoryUsage().rss };
      const peak = { live: baseline.live, rss: baseline.rss };
      // RSS alone cannot tell buffering from garbage not yet collected (64 KB chunks are
      // external memory, freed only when V8 decides to collect). So every 100 ms: collect,
      // then measure what is still alive. A store that buffered the object would hold 30 MB.
      // A full collection can take long on a loaded machine: wait at least three times its
      // duration before the next one, so the write itself keeps most of the time.
      let sampler: NodeJS.Timeout | undefined;
      const sample = (): void => {
        peak.rss = Math.max(peak.rss, process.memoryUsage().rss);
        const started = Date.now();
        gc();
        peak.live = Math.max(peak.live, live());
        sampler = setTimeout(sample, Math.max(100, 3 * (Date.now() - started)));
      };
      sampler = setTimeout(sample, 100);
      let result;
      try {
        result = await fx.store.putStream('big/video.mp4', source, { contentType: 'video/mp4', maxBytes: 31 * MB });
      } finally {
        clearTimeout(sampler);
      }
      const liveMb = (peak.live - baseline.live) / MB;
      const rssMb = (peak.rss - baseline.rss) / MB;
      // Printed so the figures can be compared across adapters and machines.
      process.stdout.write(`[blobStore contract ${name}] 30 MB write: peak live memory +${liveMb.toFixed(1)} MB, peak RSS +${rssMb.toFixed(1)} MB\n`);
      expect(result.bytes).toBe(size);
      expect(result.sha256).toBe(expected.digest('hex'));
      expect(liveMb).toBeLessThan(20);
      const readBack = createHash('sha256');
      for await (const chunk of await fx.store.openRead('big/video.mp4')) readBack.update(chunk as Buffer);
      expect(readBack.digest('hex')).toBe(result.sha256);
      expect(await fx.store.stat('big/video.mp4')).toEqual({ bytes: size, contentType: 'video/mp4' });
    });

    test('a signed read URL is null for a store that cannot sign, or fetches the same bytes for one that can', async () => {
      const data = bytesOf(70_000, 11);
      await fx.store.putStream('videos/job 1/final.mp4', Readable.from([data]), { contentType: 'video/mp4' });
      const url = await fx.store.signedReadUrl('videos/job 1/final.mp4', 300);
      if (!fx.signsUrls) {
        expect(url).toBeNull();
        return;
      }
      expect(url).toEqual(expect.any(String));
      const res = await fetch(url!);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('video/mp4');
      expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true);
    });

    test('an expired signed URL is refused', async () => {
      await fx.store.putStream('short-lived.txt', Readable.from([Buffer.from('secret')]));
      const url = await fx.store.signedReadUrl('short-lived.txt', 1);
      if (!fx.signsUrls) {
        expect(url).toBeNull();
        return;
      }
      // X-Goog-Date has whole seconds: wait past the start of the second after expiry.
      await new Promise((resolve) => setTimeout(resolve, 2100));
      const res = await fetch(url!);
      expect([400, 403]).toContain(res.status);
      expect(await res.text()).not.toContain('secret');
    });
  });
}
