import fs from 'node:fs';
import path from 'node:path';
import {
  assertFails,
  assertSucceeds,
  initializeTestEnvironment,
  type RulesTestEnvironment,
} from '@firebase/rules-unit-testing';
import {
  collection,
  deleteDoc,
  doc,
  getDoc,
  getDocs,
  limit,
  onSnapshot,
  orderBy,
  query,
  setDoc,
  setLogLevel,
  updateDoc,
  where,
  type DocumentReference,
  type Firestore,
  type Query,
} from 'firebase/firestore';
import { googleFirestoreEmulator, mustHaveGoogleEmulator, probeGoogleFirestoreEmulator } from '../support/googleFirestoreEmulator';

// infra/firestore.rules, the rules the Flutter app reads its jobs under, enforced by Google's
// emulator (the npm stand-in has no rules engine). A project id of its own, so the rules loaded
// here never apply to the other suites on the same emulator, whose admin clients bypass rules.
const RULES = fs.readFileSync(path.resolve(__dirname, '../../../infra/firestore.rules'), 'utf8');
const PROJECT_ID = 'demo-avatar-rules';
const JOBS = 'avatarJobs';

const probe = probeGoogleFirestoreEmulator();
const withEmulator = probe.available || mustHaveGoogleEmulator() ? describe : describe.skip;
const because = probe.available ? '' : ` (skipped: ${probe.reason})`;

let env: RulesTestEnvironment;

beforeAll(async () => {
  if (!probe.available && !mustHaveGoogleEmulator()) return;
  // Each refused call is logged as a warning by the SDK; the assertions say what matters.
  setLogLevel('silent');
  const google = await googleFirestoreEmulator();
  if (!google.available) throw new Error(`CI must run the security-rules suite: ${google.reason}`);
  env = await initializeTestEnvironment({
    projectId: PROJECT_ID,
    firestore: { rules: RULES, host: google.hostname, port: google.port },
  });
}, 120_000);

afterAll(async () => {
  await env?.cleanup();
});

beforeEach(async () => {
  if (!env) return;
  await env.clearFirestore();
  // Seeded as the server writes them (the Admin SDK bypasses rules; here: rules disabled).
  await env.withSecurityRulesDisabled(async (ctx) => {
    const db = ctx.firestore();
    await setDoc(doc(db, JOBS, 'job-alice-1'), job('job-alice-1', 'alice', '2025-03-01T10:00:00Z'));
    await setDoc(doc(db, JOBS, 'job-alice-2'), job('job-alice-2', 'alice', '2025-03-01T11:00:00Z'));
    await setDoc(doc(db, JOBS, 'job-bob-1'), job('job-bob-1', 'bob', '2025-03-01T12:00:00Z'));
    await setDoc(doc(db, 'users', 'alice'), { name: 'Alice' });
  });
});

function job(jobId: string, ownerUid: string, createdAt: string) {
  return { jobId, ownerUid, status: 'processing', progress: { percent: 40 }, stepSeq: 2, createdAt: new Date(createdAt) };
}

const as = (uid: string): Firestore => env.authenticatedContext(uid).firestore() as unknown as Firestore;
const anonymous = (): Firestore => env.unauthenticatedContext().firestore() as unknown as Firestore;

/** The first snapshot a listener gets, or its error: what the app's onSnapshot sees. */
function listenOnce(target: DocumentReference | Query): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const stop = onSnapshot(
      target as Query,
      (snap) => {
        stop();
        resolve(snap);
      },
      (err) => reject(err),
    );
  });
}

withEmulator(`infra/firestore.rules on Google's emulator${because}`, () => {
  test('the owner may get their job', async () => {
    const snap = await assertSucceeds(getDoc(doc(as('alice'), JOBS, 'job-alice-1')));
    expect(snap.get('ownerUid')).toBe('alice');
  });

  test('the owner may listen to their job, as the Flutter app does with onSnapshot', async () => {
    const snap = (await assertSucceeds(listenOnce(doc(as('alice'), JOBS, 'job-alice-2')))) as { get(f: string): unknown };
    expect(snap.get('progress')).toEqual({ percent: 40 });
  });

  test('the owner may list their jobs with the ownerUid filter, newest first, and gets only theirs', async () => {
    const mine = query(collection(as('alice'), JOBS), where('ownerUid', '==', 'alice'), orderBy('createdAt', 'desc'), limit(20));
    const page = await assertSucceeds(getDocs(mine));
    expect(page.docs.map((d) => d.id)).toEqual(['job-alice-2', 'job-alice-1']);
    const live = (await assertSucceeds(listenOnce(mine))) as { size: number };
    expect(live.size).toBe(2);
  });

  test("another user can neither get, listen to nor list someone else's jobs", async () => {
    await assertFails(getDoc(doc(as('bob'), JOBS, 'job-alice-1')));
    await assertFails(listenOnce(doc(as('bob'), JOBS, 'job-alice-1')));
    await assertFails(getDocs(query(collection(as('bob'), JOBS), where('ownerUid', '==', 'alice'))));
  });

  test('an anonymous caller reads nothing, not even with the right ownerUid filter', async () => {
    await assertFails(getDoc(doc(anonymous(), JOBS, 'job-alice-1')));
    await assertFails(getDocs(query(collection(anonymous(), JOBS), where('ownerUid', '==', 'alice'))));
  });

  test("a list without the ownerUid filter is refused, even for a user who owns jobs (rules are not filters)", async () => {
    await assertFails(getDocs(query(collection(as('alice'), JOBS), limit(20))));
    await assertFails(getDocs(query(collection(as('alice'), JOBS), where('status', '==', 'processing'))));
  });

  test('no client writes: not the owner creating, updating, deleting or taking over a job, nor anyone else', async () => {
    const alice = as('alice');
    await assertFails(setDoc(doc(alice, JOBS, 'job-alice-new'), job('job-alice-new', 'alice', '2025-03-02T00:00:00Z')));
    await assertFails(updateDoc(doc(alice, JOBS, 'job-alice-1'), { status: 'completed' }));
    await assertFails(updateDoc(doc(alice, JOBS, 'job-alice-1'), { stepSeq: 99, leaseUntil: null }));
    await assertFails(deleteDoc(doc(alice, JOBS, 'job-alice-1')));
    await assertFails(updateDoc(doc(as('bob'), JOBS, 'job-alice-1'), { ownerUid: 'bob' }));
    await assertFails(setDoc(doc(anonymous(), JOBS, 'job-anon'), job('job-anon', 'anon', '2025-03-02T00:00:00Z')));
    // Nothing changed underneath.
    await env.withSecurityRulesDisabled(async (ctx) => {
      const stored = await getDoc(doc(ctx.firestore() as unknown as Firestore, JOBS, 'job-alice-1'));
      expect(stored.data()).toMatchObject({ status: 'processing', stepSeq: 2, ownerUid: 'alice' });
      expect((await getDoc(doc(ctx.firestore() as unknown as Firestore, JOBS, 'job-alice-new'))).exists()).toBe(false);
    });
  });

  test('every other collection is closed, to read and to write, even a document named after the caller', async () => {
    await assertFails(getDoc(doc(as('alice'), 'users', 'alice')));
    await assertFails(setDoc(doc(as('alice'), 'users', 'alice'), { name: 'A' }));
    await assertFails(getDocs(collection(as('alice'), 'users')));
    await assertFails(getDoc(doc(as('alice'), JOBS, 'job-alice-1', 'events', 'e1')));
  });
});
