import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DirectFileWriter, resetDirectWrites } from '../../src/adapters/localBlobStore';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'direct-writer-'));
  resetDirectWrites();
});
afterEach(async () => {
  resetDirectWrites();
  await fs.rm(dir, { recursive: true, force: true });
});

/**
 * Timings under which no write counts as slow: a busy machine can take longer than the 50 ms
 * threshold over one write, and these stories are about where writes go, not how fast they are.
 */
const neverSlow = { now: () => performance.now(), slowWriteMs: Number.POSITIVE_INFINITY };

/** Chunks of random sizes (1 byte to 100 KB) cut from `bytes`, seeded so a failure repeats. */
function chunksOf(bytes: Buffer, seed: number): Buffer[] {
  const chunks: Buffer[] = [];
  let state = seed;
  for (let at = 0; at < bytes.length; ) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const size = state % 3 === 0 ? 1 + (state % 7) : 1 + (state % (100 * 1024));
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

/** Writes `bytes` to a new file in `dir` through a writer with `timing`, checks the file holds them, and answers the writer. */
async function writeThrough(name: string, bytes: Buffer, seed: number, timing: ConstructorParameters<typeof DirectFileWriter>[1]): Promise<DirectFileWriter> {
  const file = path.join(dir, name);
  const writer = new DirectFileWriter(file, timing);
  await pipeline(Readable.from(chunksOf(bytes, seed)), writer);
  expect((await fs.readFile(file)).equals(bytes)).toBe(true);
  return writer;
}

test('a file written in chunks of every size holds the same bytes, written from the event loop', async () => {
  const writer = await writeThrough('out.bin', randomBytes(3 * 1024 * 1024 + 17), 7, neverSlow);
  expect(writer.writes.direct).toBeGreaterThan(10);
  expect(writer.writes.pooled).toBe(0);
});

test('after one slow write, this file and the next ones are written through the pool until the pause is over', async () => {
  // A clock that stands still, so the 5 s pause cannot run out however slow the machine is.
  // Every write counts as slow with these timings: the first chunk goes direct, the rest to the pool.
  const slow = { now: () => 1000, slowWriteMs: -1 };
  const bytes = randomBytes(512 * 1024);
  const writer = await writeThrough('first.bin', bytes, 11, slow);
  expect(writer.writes.direct).toBe(1);
  expect(writer.writes.pooled).toBeGreaterThan(1);

  // The disk is shared: a second file, whose own writes never count as slow, goes to the pool too.
  const next = await writeThrough('second.bin', bytes, 12, { now: () => 1000, slowWriteMs: Number.POSITIVE_INFINITY });
  expect(next.writes).toEqual({ direct: 0, pooled: expect.any(Number) });
  expect(next.writes.pooled).toBeGreaterThan(1);

  // Once the pause is over (here: reset), writes go direct again.
  resetDirectWrites();
  const third = await writeThrough('third.bin', bytes, 13, neverSlow);
  expect(third.writes.pooled).toBe(0);
});

test('two hundred thousand chunks buffered at once are written in order, without deep recursion', async () => {
  const file = path.join(dir, 'many.bin');
  const writer = new DirectFileWriter(file, neverSlow);
  const expected: Buffer[] = [];
  // Written before the file is open: all of them wait in the stream and arrive in one _writev.
  for (let i = 0; i < 200_000; i++) {
    const chunk = Buffer.from([i % 251]);
    expected.push(chunk);
    writer.write(chunk);
  }
  await new Promise<void>((resolve, reject) => writer.end((err?: Error | null) => (err ? reject(err) : resolve())));
  expect((await fs.readFile(file)).equals(Buffer.concat(expected))).toBe(true);
  expect(writer.writes.direct).toBe(200_000);
});

test('a file that cannot be opened fails the pipeline and leaves nothing', async () => {
  const file = path.join(dir, 'no-such-folder', 'out.bin');
  await expect(pipeline(Readable.from([Buffer.from('x')]), new DirectFileWriter(file))).rejects.toMatchObject({ code: 'ENOENT' });
  expect(await fs.readdir(dir)).toEqual([]);
});

test('a source that fails halfway fails the pipeline and the writer ends', async () => {
  const file = path.join(dir, 'cut.bin');
  async function* cut(): AsyncGenerator<Buffer> {
    yield Buffer.alloc(1000, 1);
    throw new Error('the client went away');
  }
  const writer = new DirectFileWriter(file);
  await expect(pipeline(Readable.from(cut()), writer)).rejects.toThrow('the client went away');
  expect(writer.destroyed).toBe(true);
  await new Promise((resolve) => (writer.closed ? resolve(undefined) : writer.once('close', resolve)));
  expect((await fs.stat(file)).size).toBeLessThanOrEqual(1000); // what arrived before the failure, if any
});
