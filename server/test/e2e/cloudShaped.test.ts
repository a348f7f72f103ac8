import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Storage } from '@google-cloud/storage';
import { GcsBlobStore } from '../../src/adapters/gcsBlobStore';
import { startGcsEmulator, type GcsEmulator } from '../../src/local/gcsEmulator';
import { startVisionStorySimulator, type VisionStorySimulator } from '../../src/local/visionStorySimulator';
import { makeTestAudio, makeTestImage, probe } from '../support/media';
import { TASKS_SA, startTestStackBehindFrontEnd, upload, waitForJob, type StackBehindFrontEnd } from '../support/stack';
import { preparedImageKey } from '../../src/domain/blobKeys';

// The production shape on one machine: uploads stream into Cloud Storage (the official client
// against a local server speaking the GCS API), the provider (VisionStory simulator) reads the
// inputs through V4 signed URLs, the worker accepts only the OIDC token of the tasks service
// account (signed by the Cloud Tasks emulator), checked first by the Cloud Run front-end
// stand-in, which hands the worker the token with its signature removed, as Google's front end
// does), and the finished video is served by redirect to a fresh signed URL.

const BUCKET = 'avatar-cloud-shaped';
const CLIENT_EMAIL = 'avatar-runtime@test-project.iam.gserviceaccount.com';
const keys = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

let media: string;
let gcs: GcsEmulator;
let sim: VisionStorySimulator;
let stack: StackBehindFrontEnd;

beforeAll(async () => {
  media = await mkdtemp(path.join(os.tmpdir(), 'cloud-shaped-'));
  gcs = await startGcsEmulator({ serviceAccounts: { [CLIENT_EMAIL]: keys.publicKey } });
  sim = await startVisionStorySimulator({ apiKey: 'k', latencyMs: 300 });
  const storage = new Storage({
    apiEndpoint: gcs.baseUrl,
    projectId: 'test-project',
    credentials: { client_email: CLIENT_EMAIL, private_key: keys.privateKey },
  });
  stack = await startTestStackBehindFrontEnd({
    env: {
      PROVIDER: 'visionstory',
      VISIONSTORY_API_KEY: 'k',
      VISIONSTORY_API_BASE: sim.baseUrl,
      TASKS_SERVICE_ACCOUNT: TASKS_SA,
      SIGNED_URL_TTL: '300',
      VISIONSTORY_TIMEOUT: '10', // shorter than the tests' STEP_LEASE (30 s)
    },
    overrides: { blobs: new GcsBlobStore({ bucket: BUCKET, storage }) },
  });
});

afterAll(async () => {
  await stack.close();
  await sim.close();
  await gcs.close();
  await rm(media, { recursive: true, force: true });
});

test('a job runs with Cloud Storage, signed URLs for the provider, OIDC-checked worker calls, and a redirect to the video', async () => {
  const image = await makeTestImage(media, { format: 'jpeg', name: 'face' });
  const audio = await makeTestAudio(media, { format: 'wav', seconds: 1.5, name: 'voice' });
  const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Cloud' });
  expect(res.status).toBe(202);
  const job = await waitForJob(stack.baseUrl, res.body.jobId);
  expect(job.status).toBe('completed');
  expect(gcs.objectNames(BUCKET).sort()).toEqual(
    [job.input.imagePath, job.input.audioPath, preparedImageKey(job.jobId), `videos/${job.jobId}.mp4`].sort(),
  );
  // Every step (and the job-end notification task) went through the front end and reached the
  // worker with the signature removed. The notification may still be in flight: let it land.
  const inFlight = () => stack.frontEnd.requests.some((r) => r.status === 0);
  for (const deadline = Date.now() + 10_000; inFlight() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
  const steps = stack.frontEnd.requests.filter((r) => r.path === '/worker/process-avatar');
  expect(steps.length).toBeGreaterThanOrEqual(4);
  expect(steps.filter((r) => !(r.forwarded && r.status === 200)).map((r) => `${r.status} ${r.containerStatus}`)).toEqual([]);
  expect(steps.every((r) => r.forwardedToken?.endsWith('.SIGNATURE_REMOVED_BY_GOOGLE'))).toBe(true);

  // The worker refuses a delivery without the tasks service account's token.
  const open = await fetch(`${stack.baseUrl}/worker/process-avatar`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jobId: job.jobId, stepSeq: job.stepSeq }),
  });
  expect(open.status).toBe(401);

  const redirect = await fetch(`${stack.baseUrl}/jobs/${job.jobId}/video`, { redirect: 'manual' });
  expect(redirect.status).toBe(302);
  const location = redirect.headers.get('location')!;
  expect(location.startsWith(gcs.baseUrl)).toBe(true);
  expect(location).toContain('X-Goog-Signature=');
  const video = await fetch(location);
  expect(video.status).toBe(200);
  const file = path.join(media, 'cloud.mp4');
  await writeFile(file, Buffer.from(await video.arrayBuffer()));
  const info = await probe(file);
  expect(info.streams.map((s) => s.codecName).sort()).toEqual(['aac', 'h264']);

  // Each request gets a fresh URL: signed URLs expire, the stored path does not.
  const again = await fetch(`${stack.baseUrl}/jobs/${job.jobId}/video`, { redirect: 'manual' });
  expect(again.headers.get('location')).toEqual(expect.stringContaining('X-Goog-Signature='));
});
