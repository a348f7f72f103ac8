import { generateKeyPairSync } from 'node:crypto';
import { Readable } from 'node:stream';
import { Storage } from '@google-cloud/storage';
import { GcsBlobStore } from '../../src/adapters/gcsBlobStore';
import { RetryableError, PermanentError } from '../../src/domain/errors';
import { startGcsEmulator, type GcsEmulator } from '../../src/local/gcsEmulator';
import { describeBlobStoreContract } from './blobStore.contract';

const BUCKET = 'avatar-videos-test';
const CLIENT_EMAIL = 'blob-writer@test-project.iam.gserviceaccount.com';

// A throwaway service-account key: the client signs URLs locally with it (no IAM call, no
// metadata server), and the local server checks signatures with its public half.
const keys = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

/** The official client pointed at the local server. Retries off so failure tests are quick. */
function storageFor(emulator: { baseUrl: string }): Storage {
  return new Storage({
    apiEndpoint: emulator.baseUrl,
    projectId: 'test-project',
    credentials: { client_email: CLIENT_EMAIL, private_key: keys.privateKey },
    retryOptions: { autoRetry: false, maxRetries: 0 },
  });
}

async function startEmulator(): Promise<GcsEmulator> {
  return startGcsEmulator({ serviceAccounts: { [CLIENT_EMAIL]: keys.publicKey } });
}

/** Waits until the server has no upload request open (a hung PUT would keep one). */
async function uploadsSettled(emulator: GcsEmulator): Promise<number> {
  for (let i = 0; i < 50 && emulator.openUploads() > 0; i++) await new Promise((r) => setTimeout(r, 20));
  return emulator.openUploads();
}

describeBlobStoreContract('GcsBlobStore on the local GCS server', async () => {
  const emulator = await startEmulator();
  return {
    store: new GcsBlobStore({ bucket: BUCKET, storage: storageFor(emulator) }),
    signsUrls: true,
    residue: async () => {
      const open = await uploadsSettled(emulator);
      return [...emulator.objectNames(BUCKET), ...(open ? [`${open} open upload request(s)`] : [])];
    },
    teardown: () => emulator.close(),
  };
});

describe('GcsBlobStore against the local GCS server', () => {
  let emulator: GcsEmulator;
  let store: GcsBlobStore;
  beforeEach(async () => {
    emulator = await startEmulator();
    store = new GcsBlobStore({ bucket: BUCKET, storage: storageFor(emulator) });
  });
  afterEach(async () => {
    await emulator.close();
  });

  test('setCustomTime starts the lifecycle clock at the job end; a missing object is skipped', async () => {
    await store.putStream('videos/j1.mp4', Readable.from([Buffer.from('video')]), { contentType: 'video/mp4' });
    await store.setCustomTime('videos/j1.mp4', new Date('2025-03-01T10:00:00.000Z'));
    const [metadata] = await storageFor(emulator).bucket(BUCKET).file('videos/j1.mp4').getMetadata();
    expect(new Date(String(metadata.customTime)).toISOString()).toBe('2025-03-01T10:00:00.000Z');
    await expect(store.setCustomTime('videos/missing.mp4', new Date())).resolves.toBeUndefined();
  });

  test('when Cloud Storage answers 503, the store raises a retryable storage_unavailable', async () => {
    emulator.failNext(503);
    const stat = store.stat('any.bin');
    await expect(stat).rejects.toBeInstanceOf(RetryableError);
    await expect(stat).rejects.toMatchObject({ code: 'storage_unavailable' });
  });

  test('when the upload session cannot be opened (503), the write fails as retryable and stores nothing', async () => {
    emulator.failNext(503);
    await expect(store.putStream('x.bin', Readable.from([Buffer.from('data')]))).rejects.toMatchObject({ code: 'storage_unavailable' });
    expect(emulator.objectNames(BUCKET)).toEqual([]);
  });

  test('when Cloud Storage cannot be reached at all, reads and writes fail as retryable', async () => {
    await emulator.close();
    await expect(store.stat('a.bin')).rejects.toMatchObject({ code: 'storage_unavailable' });
    await expect(store.putStream('a.bin', Readable.from([Buffer.from('data')]))).rejects.toBeInstanceOf(RetryableError);
    emulator = await startEmulator(); // for afterEach
  });

  test('a failed upload ends its request on the server instead of leaving it hanging', async () => {
    // Several chunks reach the server before the source fails, so the PUT is mid-body.
    const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(64 * 1024, i));
    let sent = 0;
    const source = new Readable({
      read() {
        if (sent < chunks.length) this.push(chunks[sent++]);
        else setTimeout(() => this.destroy(new Error('upstream reset')), 50);
      },
    });
    await expect(store.putStream('cut.bin', source)).rejects.toThrow('upstream reset');
    expect(await uploadsSettled(emulator)).toBe(0);
    expect(emulator.objectNames(BUCKET)).toEqual([]);
  });

  test('a signed URL whose signature was altered is refused with 403', async () => {
    await store.putStream('doc.txt', Readable.from([Buffer.from('private words')]));
    const url = new URL((await store.signedReadUrl('doc.txt', 60))!);
    const sig = url.searchParams.get('X-Goog-Signature')!;
    url.searchParams.set('X-Goog-Signature', (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1));
    const res = await fetch(url);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('SignatureDoesNotMatch');
  });

  test('a signed URL is bound to its object: pointing it at another key is refused', async () => {
    await store.putStream('mine.txt', Readable.from([Buffer.from('mine')]));
    await store.putStream('theirs.txt', Readable.from([Buffer.from('theirs')]));
    const url = new URL((await store.signedReadUrl('mine.txt', 60))!);
    url.pathname = url.pathname.replace('mine.txt', 'theirs.txt');
    expect((await fetch(url)).status).toBe(403);
  });

  test('a signed URL points at the configured endpoint and lives as long as asked', async () => {
    await store.putStream('v.mp4', Readable.from([Buffer.from('v')]));
    const url = new URL((await store.signedReadUrl('v.mp4', 900))!);
    expect(url.origin).toBe(emulator.baseUrl);
    expect(url.pathname).toBe(`/${BUCKET}/v.mp4`);
    expect(url.searchParams.get('X-Goog-Expires')).toBe('900');
    expect(url.searchParams.get('X-Goog-Algorithm')).toBe('GOOG4-RSA-SHA256');
  });

  test('reading a key deleted after openRead looked it up fails the stream, not silently', async () => {
    await store.putStream('soon-gone.bin', Readable.from([Buffer.alloc(1000, 1)]));
    const stream = await store.openRead('soon-gone.bin');
    await store.delete('soon-gone.bin');
    const read = (async () => {
      for await (const _ of stream) void _;
    })();
    await expect(read).rejects.toBeInstanceOf(PermanentError);
  });
});

describe('the local GCS server with the official client, beyond what GcsBlobStore uses', () => {
  let emulator: GcsEmulator;
  let storage: Storage;
  beforeEach(async () => {
    emulator = await startEmulator();
    storage = storageFor(emulator);
  });
  afterEach(async () => {
    await emulator.close();
  });

  test('a single-request multipart upload (resumable: false) stores the bytes and content type', async () => {
    const file = storage.bucket(BUCKET).file('small/photo.png');
    const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
    await file.save(data, { resumable: false, contentType: 'image/png' });
    const [metadata] = await file.getMetadata();
    expect(metadata).toMatchObject({ size: '5000', contentType: 'image/png' });
    const [back] = await file.download();
    expect(back.equals(data)).toBe(true);
  });

  test('a chunked resumable upload (chunkSize) is assembled in order', async () => {
    const file = storage.bucket(BUCKET).file('chunked.bin');
    const data = Buffer.from(Array.from({ length: 600 * 1024 }, (_, i) => (i * 7) % 256));
    await file.save(data, { resumable: true, chunkSize: 256 * 1024 });
    const [back] = await file.download();
    expect(back.equals(data)).toBe(true);
  });

  test('the client also finds the server through STORAGE_EMULATOR_HOST (JSON API paths without /storage/v1)', async () => {
    const previous = process.env.STORAGE_EMULATOR_HOST;
    process.env.STORAGE_EMULATOR_HOST = emulator.baseUrl;
    let viaEnv: Storage;
    try {
      // Read once, in the constructor.
      viaEnv = new Storage({ projectId: 'test-project', credentials: { client_email: CLIENT_EMAIL, private_key: keys.privateKey } });
    } finally {
      if (previous === undefined) delete process.env.STORAGE_EMULATOR_HOST;
      else process.env.STORAGE_EMULATOR_HOST = previous;
    }
    const envStore = new GcsBlobStore({ bucket: BUCKET, storage: viaEnv });
    await envStore.putStream('env/a.txt', Readable.from([Buffer.from('via env')]), { contentType: 'text/plain' });
    expect(await envStore.stat('env/a.txt')).toEqual({ bytes: 7, contentType: 'text/plain' });
    const res = await fetch((await envStore.signedReadUrl('env/a.txt', 60))!);
    expect(await res.text()).toBe('via env');
  });

  test('a suffix range (the last N bytes) is served', async () => {
    const file = storage.bucket(BUCKET).file('tail.txt');
    await file.save('0123456789', { resumable: false });
    // The client turns a negative `end` into `Range: bytes=-3`.
    const [tail] = await file.download({ end: -3 });
    expect(tail.toString()).toBe('789');
  });
});
