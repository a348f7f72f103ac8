import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { SqliteJobStore } from '../../src/adapters/sqliteJobStore';
import { describeJobStoreContract, makeJob } from './jobStore.contract';

describeJobStoreContract('SqliteJobStore', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'jobstore-'));
  const store = new SqliteJobStore({ file: path.join(dir, 'jobs.db'), pollMs: 50 });
  return {
    store,
    teardown: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

// better-sqlite3 is synchronous, so updates inside one thread can never interleave. Real races
// come from the api and worker roles running as separate processes on one DATA_DIR: here two
// threads, each with its own connection (its own SqliteJobStore), hammer the same file.
const RACER = `
  const { workerData, parentPort } = require('node:worker_threads');
  require('tsx/cjs');
  const { SqliteJobStore } = require(workerData.adapter);
  (async () => {
    const store = new SqliteJobStore({ file: workerData.file });
    // Start together: wait for the go signal so both threads are loaded before racing.
    await new Promise((resolve) => parentPort.once('message', resolve));
    // A slow decision widens the window between reading and writing, where a store without a
    // real transaction would lose the other thread's increment.
    const slowly = (f) => (j) => { const until = Date.now() + 2; while (Date.now() < until); return f(j); };
    let claimed = false;
    for (let i = 0; i < workerData.increments; i += 1) {
      await store.update(workerData.counterJob, slowly((j) => ({ ...j, attempts: j.attempts + 1 })));
      if (i === 0) {
        const claim = await store.update(workerData.claimJob, slowly((j) =>
          j.leaseUntil === null ? { ...j, leaseUntil: '2030-01-01T00:00:00.000Z', provider: { ...j.provider, providerStatus: workerData.name } } : null,
        ));
        claimed = claim.changed;
      }
    }
    await store.close();
    parentPort.postMessage({ claimed });
  })().catch((err) => { throw err; });
`;

describe('SqliteJobStore across two connections on one file', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'jobstore-race-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('when two processes race updates on the same file, every increment lands and only one claim wins', async () => {
    const file = path.join(dir, 'jobs.db');
    const setupStore = new SqliteJobStore({ file });
    const counter = makeJob();
    const claimable = makeJob();
    await setupStore.create(counter);
    await setupStore.create(claimable);

    const increments = 40;
    const workers = ['racer-1', 'racer-2'].map(
      (name) =>
        new Worker(RACER, {
          eval: true,
          workerData: {
            name,
            file,
            increments,
            counterJob: counter.jobId,
            claimJob: claimable.jobId,
            adapter: path.resolve(__dirname, '../../src/adapters/sqliteJobStore.ts'),
          },
        }),
    );
    const results = workers.map(
      (w) =>
        new Promise<{ claimed: boolean }>((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
          w.once('exit', (code) => reject(new Error(`racer exited with ${code}`)));
        }),
    );
    // Both threads need a moment to load tsx and open the file; then release them together.
    await new Promise((r) => setTimeout(r, 300));
    for (const w of workers) w.postMessage('go');
    const outcomes = await Promise.all(results);

    expect((await setupStore.get(counter.jobId))?.attempts).toBe(2 * increments);
    expect(outcomes.filter((o) => o.claimed)).toHaveLength(1);
    const winner = outcomes[0]!.claimed ? 'racer-1' : 'racer-2';
    expect((await setupStore.get(claimable.jobId))?.provider.providerStatus).toBe(winner);
    await setupStore.close();
  });

  test('a change written through one connection reaches a watcher on the other', async () => {
    const file = path.join(dir, 'jobs.db');
    const writer = new SqliteJobStore({ file });
    const reader = new SqliteJobStore({ file, pollMs: 25 });
    const job = makeJob();
    await writer.create(job);
    const seen: number[] = [];
    const stop = reader.watch(job.jobId, (j) => seen.push(j.progress.percent));
    try {
      const deadline = Date.now() + 3000;
      while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await writer.update(job.jobId, (j) => ({ ...j, progress: { ...j.progress, percent: 40 } }));
      while (!seen.includes(40) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(seen).toEqual([0, 40]);
    } finally {
      stop();
      await reader.close();
      await writer.close();
    }
  });
});
