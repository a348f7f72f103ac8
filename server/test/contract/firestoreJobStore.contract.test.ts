import { randomUUID } from 'node:crypto';
import { deleteApp, initializeApp, type App } from 'firebase-admin/app';
import { getFirestore, Timestamp } from 'firebase-admin/firestore';
import { FirestoreJobStore } from '../../src/adapters/firestoreJobStore';
import { startFirestoreEmulator, type FirestoreEmulator } from '../support/firestoreEmulator';
import { googleFirestoreEmulator, mustHaveGoogleEmulator, probeGoogleFirestoreEmulator } from '../support/googleFirestoreEmulator';
import { describeJobStoreContract, makeJob } from './jobStore.contract';

// Google's own emulator (Java) serialises transactions like production Firestore: where it is
// available (FIRESTORE_EMULATOR_HOST from .ci/run, or gcloud on this machine) everything runs
// there, concurrency included. Otherwise the in-process npm emulator serves reads, writes,
// queries and listeners, and the concurrency cases are skipped, saying why: it lets two
// conflicting transactions both commit. Under CI=true that fallback is a failure.
const PROJECT_ID = 'demo-test';

let emulator: FirestoreEmulator | undefined;
let app: App;
let google: Awaited<ReturnType<typeof googleFirestoreEmulator>>;

beforeAll(async () => {
  google = await googleFirestoreEmulator();
  if (googleAtLoad.available && !google.available) throw new Error(google.reason);
  if (google.available) {
    process.env.FIRESTORE_EMULATOR_HOST = google.host;
  } else {
    emulator = await startFirestoreEmulator();
    // Read by the Firestore client when it is constructed: plaintext gRPC, fake credentials.
    process.env.FIRESTORE_EMULATOR_HOST = emulator.host;
  }
  app = initializeApp({ projectId: PROJECT_ID }, `jobstore-contract-${randomUUID()}`);
}, 120_000);

afterAll(async () => {
  // Stop the emulator first: it never ends a listen stream the client has half-closed, so its
  // shutdown is what finishes those streams, and their final status must arrive while the test
  // environment is still alive.
  await emulator?.stop();
  await deleteApp(app);
  delete process.env.FIRESTORE_EMULATOR_HOST;
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

// Whether Google's emulator can be had decides which cases run, so it is probed before the
// cases are declared; beforeAll then starts it (or finds the one .ci/run started).
const googleAtLoad = probeGoogleFirestoreEmulator();

describeJobStoreContract('FirestoreJobStore', setup, {
  atomicTransactions: googleAtLoad.available,
  skipReason: googleAtLoad.available ? undefined : googleAtLoad.reason,
});

describe("FirestoreJobStore on Google's emulator", () => {
  (googleAtLoad.available || mustHaveGoogleEmulator() ? test : test.skip)(
    `the concurrency cases above run on Google's emulator${googleAtLoad.available ? '' : ` (skipped: ${googleAtLoad.reason})`}`,
    () => {
      if (!google.available) throw new Error(`CI must run the Firestore concurrency cases: ${google.reason}`);
      expect(google.host).toMatch(/^[\w.-]+:\d+$/);
      expect(process.env.FIRESTORE_EMULATOR_HOST).toBe(google.host);
    },
  );
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
