import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { getApps, deleteApp } from 'firebase-admin/app';
import { getFirestore, Timestamp } from 'firebase-admin/firestore';
import { startFirestoreEmulator, type FirestoreEmulator } from '../support/firestoreEmulator';
import { googleFirestoreEmulator } from '../support/googleFirestoreEmulator';
import { makeTestAudio, makeTestImage } from '../support/media';
import { pauseQueue, resumeQueue, startTestStack, upload, waitForJob, type TestStack } from '../support/stack';

// The Flutter app's development loop: the local stack (embedded Cloud Tasks, ffmpeg) writing
// its job documents to a Firestore emulator, where a listener sees them change as the app's
// onSnapshot would. Also the whole pipeline over FirestoreJobStore, not just its contract.
// On Google's emulator where it can be had (FIRESTORE_EMULATOR_HOST from .ci/run, or gcloud on
// this machine); otherwise on the in-process npm stand-in, which is enough here: this loop has no
// racing transactions.

const PROJECT = 'demo-avatar-jobs';
let firestore: FirestoreEmulator | undefined;
let stack: TestStack;
let media: string;

beforeAll(async () => {
  const google = await googleFirestoreEmulator();
  if (google.available) {
    process.env.FIRESTORE_EMULATOR_HOST = google.host;
  } else {
    firestore = await startFirestoreEmulator();
    process.env.FIRESTORE_EMULATOR_HOST = firestore.host;
  }
  media = await mkdtemp(path.join(os.tmpdir(), 'fs-loop-'));
  stack = await startTestStack({
    env: {
      GOOGLE_CLOUD_PROJECT: PROJECT,
      JOB_STORE: 'firestore',
      FIRESTORE_COLLECTION: `avatarJobs-${randomUUID().slice(0, 8)}`,
      TASKS: 'embedded',
      AUTH_MODE: 'local',
      LOCAL_RENDER_LATENCY_MS: '500',
    },
  });
}, 120_000);

afterAll(async () => {
  await firestore?.stop();
  await stack.close();
  await Promise.all(getApps().map((a) => deleteApp(a)));
  delete process.env.FIRESTORE_EMULATOR_HOST;
  await rm(media, { recursive: true, force: true });
});

test('a job run by the local stack is written to Firestore, where a listener sees it progress to completed', async () => {
  const image = await makeTestImage(media, { format: 'jpeg', name: 'face' });
  const audio = await makeTestAudio(media, { format: 'wav', seconds: 1, name: 'voice' });
  // The job waits in a paused queue until the listener has its first snapshot, so the listener
  // sees it run however slowly it attaches (the render takes only 500 ms here).
  await pauseQueue(stack);
  const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Flutter' }, { 'X-User-Id': 'uid-1' });
  expect(res.status).toBe(202);
  let firstSnapshot: () => void = () => undefined;
  const listening = new Promise<void>((resolve) => (firstSnapshot = resolve));

  const db = getFirestore(getApps()[0]!);
  const collection = stack.config.jobStore.kind === 'firestore' ? stack.config.jobStore.collection : '';
  const seen: { status: string; percent: number }[] = [];
  const done = new Promise<FirebaseFirestore.DocumentData>((resolve) => {
    const stop = db
      .collection(collection)
      .doc(res.body.jobId)
      .onSnapshot((snap) => {
        const data = snap.data();
        if (!data) return;
        seen.push({ status: data.status, percent: data.progress.percent });
        firstSnapshot();
        if (['completed', 'failed', 'cancelled'].includes(data.status)) {
          stop();
          resolve(data);
        }
      });
  });
  try {
    await listening;
  } finally {
    await resumeQueue(stack);
  }
  const doc = await done;
  expect(seen[0]!.status).toBe('queued');
  expect(doc.status).toBe('completed');
  expect(doc.ownerUid).toBe('uid-1');
  // The app orders and shows dates: real Firestore Timestamps, not strings.
  expect(doc.createdAt).toBeInstanceOf(Timestamp);
  expect(doc.completedAt).toBeInstanceOf(Timestamp);
  expect(doc.result).toMatchObject({ videoUrl: `/jobs/${res.body.jobId}/video` });
  const percents = seen.map((s) => s.percent);
  expect(percents).toEqual([...percents].sort((a, b) => a - b));
  expect(new Set(seen.map((s) => s.status))).toContain('processing');

  // The HTTP API reads the same document.
  const job = await waitForJob(stack.baseUrl, res.body.jobId, undefined, 5000, { 'X-User-Id': 'uid-1' });
  expect(job.status).toBe('completed');
  const video = await fetch(`${stack.baseUrl}/jobs/${res.body.jobId}/video`, { headers: { 'X-User-Id': 'uid-1' } });
  expect(video.status).toBe(200);
  expect((await video.arrayBuffer()).byteLength).toBeGreaterThan(1000);
});
