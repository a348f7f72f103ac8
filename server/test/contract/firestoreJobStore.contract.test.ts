import { randomUUID } from 'node:crypto';
import { deleteApp, initializeApp, type App } from 'firebase-admin/app';
import { getFirestore, Timestamp } from 'firebase-admin/firestore';
import { FirestoreJobStore } from '../../src/adapters/firestoreJobStore';
import { startFirestoreEmulator, type FirestoreEmulator } from '../support/firestoreEmulator';
import { describeJobStoreContract, makeJob } from './jobStore.contract';

// Google's own emulator (Java) serialises transactions like production Firestore; when the
// user points FIRESTORE_EMULATOR_HOST at it, everything runs there, concurrency included.
// Otherwise the in-process npm emulator serves reads, writes, queries and listeners, and the
// concurrency cases are skipped: it lets two conflicting transactions both commit.
const googleEmulatorHost = process.env.FIRESTORE_EMULATOR_HOST;
const PROJECT_ID = 'demo-test';

let emulator: FirestoreEmulator | undefined;
let app: App;

beforeAll(async () => {
  if (!googleEmulatorHost) {
    emulator = await startFirestoreEmulator();
    // Read by the Firestore client when it is constructed: plaintext gRPC, fake credentials.
    process.env.FIRESTORE_EMULATOR_HOST = emulator.host;
  }
  app = initializeApp({ projectId: PROJECT_ID }, `jobstore-contract-${randomUUID()}`);
});

afterAll(async () => {
  // Stop the emulator first: it never ends a listen stream the client has half-closed, so its
  // shutdown is what finishes those streams, and their final status must arrive while the test
  // environment is still alive.
  await emulator?.stop();
  await deleteApp(app);
  if (!googleEmulatorHost) delete process.env.FIRESTORE_EMULATOR_HOST;
});

/**
 * Each test gets its own collection, so tests never see each other's jobs, on either emulator.
 * The Firestore instance is shared by the file (one per app): the store's close() would
 * terminate it, so teardown leaves it open and deleteApp() ends it once at the end.
 */
async function setup() {
  const firestore = getFirestore(app);
  const store = new FirestoreJobStore({ firestore, collection: `avatarJobs-${randomUUID()}` });
  return { store, teardown: async () => undefined };
}

describeJobStoreContract('FirestoreJobStore', setup, {
  atomicTransactions: Boolean(googleEmulatorHost),
  skipReason: "needs Google's Firestore emulator: set FIRESTORE_EMULATOR_HOST",
});

describe('FirestoreJobStore documents, as the Flutter app reads them', () => {
  test('timestamps are stored as Firestore Timestamps and the document has exactly the job fields', async () => {
    const firestore = getFirestore(app);
    const collection = `avatarJobs-${randomUUID()}`;
    const store = new FirestoreJobStore({ firestore, collection });
    const job = makeJob({ leaseUntil: '2025-03-01T10:05:00.250Z', nextRunAt: '2025-03-01T10:04:00.000Z' });
    await store.create(job);

    const raw = (await firestore.collection(collection).doc(job.jobId).get()).data()!;
    expect(Object.keys(raw).sort()).toEqual(Object.keys(job).sort());
    expect(raw.createdAt).toBeInstanceOf(Timestamp);
    expect((raw.createdAt as Timestamp).toDate().toISOString()).toBe(job.createdAt);
    expect((raw.leaseUntil as Timestamp).toMillis()).toBe(Date.parse('2025-03-01T10:05:00.250Z'));
    expect(raw.updatedAt).toBeInstanceOf(Timestamp);
    expect(raw.nextRunAt).toBeInstanceOf(Timestamp);
    expect(raw.completedAt).toBeNull();
    expect(raw.progress).toEqual(job.progress);
    expect(raw.input).toEqual(job.input);
  });

  test('the default collection is avatarJobs', async () => {
    const firestore = getFirestore(app);
    const store = new FirestoreJobStore({ firestore });
    const job = makeJob();
    await store.create(job);
    expect((await firestore.collection('avatarJobs').doc(job.jobId).get()).get('ownerUid')).toBe('owner-a');
  });
});
