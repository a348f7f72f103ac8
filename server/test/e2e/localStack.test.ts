import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { taskName } from '../../src/pipeline/decisions';
import { makeTestAudio, makeTestImage, probe } from '../support/media';
import { freePort, getJob, readEvents, startTestStack, upload, waitForJob, type TestStack } from '../support/stack';

// The whole product on one machine: the official Cloud Tasks client talks gRPC to the embedded
// emulator, which dispatches over real HTTP to the worker route; ffmpeg renders; ffprobe checks.

let media: string;
let image: string;
let audio: string;
const AUDIO_SECONDS = 2.5;

beforeAll(async () => {
  media = await mkdtemp(path.join(os.tmpdir(), 'e2e-media-'));
  image = await makeTestImage(media, { format: 'jpeg', name: 'face' });
  audio = await makeTestAudio(media, { format: 'wav', seconds: AUDIO_SECONDS, name: 'voice' });
});

afterAll(async () => {
  await rm(media, { recursive: true, force: true });
});

describe('the local stack, end to end', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ env: { LOCAL_RENDER_LATENCY_MS: '600' } });
  });
  afterAll(async () => {
    await stack.close();
  });

  test('a photo and a voice recording become a playable MP4 whose audio matches the upload', async () => {
    const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Kim', instructorBio: 'Teacher' });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ success: true, jobId: expect.any(String), message: expect.any(String) });
    expect(res.body.statusUrl).toBe(`${stack.baseUrl}/jobs/${res.body.jobId}`);
    expect(res.body.eventsUrl).toBe(`${stack.baseUrl}/jobs/${res.body.jobId}/events`);

    const events = await readEvents(res.body.eventsUrl);
    const snapshots = events.filter((e) => e.event === 'job').map((e) => e.data);
    expect(events[events.length - 1]).toEqual({ event: 'end', data: { jobId: res.body.jobId, status: 'completed' } });
    // Progress only grows, and the stream saw the job pass through polling.
    const percents = snapshots.map((s) => s.progress.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(snapshots.some((s) => s.progress.currentStep === 'video.poll')).toBe(true);
    const stepNumbers = snapshots.map((s) => s.progress.stepNumber);
    expect(stepNumbers).toEqual([...stepNumbers].sort((a, b) => a - b));

    const job = await getJob(stack.baseUrl, res.body.jobId);
    expect(job).toMatchObject({
      status: 'completed',
      ownerUid: 'local-user',
      progress: { currentStep: 'done', percent: 100, stepNumber: 4, totalSteps: 4 },
      input: { imageType: 'image/jpeg', audioType: 'audio/wav', instructorName: 'Kim', instructorBio: 'Teacher' },
      provider: { name: 'local-render', avatarId: expect.any(String), videoId: expect.any(String), providerStatus: 'created' },
      result: { videoUrl: `${stack.baseUrl}/jobs/${job.jobId}/video` },
      error: null,
    });
    expect(job.provider.polls).toBeGreaterThanOrEqual(2); // latency made it poll more than once
    expect(job.completedAt).not.toBeNull();

    const video = await fetch(job.result!.videoUrl);
    expect(video.status).toBe(200);
    expect(video.headers.get('content-type')).toBe('video/mp4');
    const file = path.join(media, 'result.mp4');
    await writeFile(file, Buffer.from(await video.arrayBuffer()));
    const info = await probe(file);
    const v = info.streams.find((s) => s.codecType === 'video');
    const a = info.streams.find((s) => s.codecType === 'audio');
    expect(v?.codecName).toBe('h264');
    expect(v?.width).toBe(640);
    expect(a?.codecName).toBe('aac');
    expect(Math.abs((a?.durationSec ?? info.durationSec ?? 0) - AUDIO_SECONDS)).toBeLessThan(0.3);
  });

  test('the video route serves byte ranges, as browsers ask for when seeking', async () => {
    const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Kim' });
    const job = await waitForJob(stack.baseUrl, res.body.jobId);
    expect(job.status).toBe('completed');
    const part = await fetch(`${stack.baseUrl}/jobs/${job.jobId}/video`, { headers: { Range: 'bytes=0-99' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toMatch(/^bytes 0-99\/\d+$/);
    expect((await part.arrayBuffer()).byteLength).toBe(100);
    const download = await fetch(`${stack.baseUrl}/jobs/${job.jobId}/video?download=1`);
    expect(download.headers.get('content-disposition')).toMatch(/^attachment/);
    await download.arrayBuffer();
  });

  test('when the same task arrives three times at once, the provider makes one avatar', async () => {
    const provider = stack.service.provider;
    const createAvatar = jest.spyOn(provider, 'createAvatar');
    try {
      const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Twice' });
      const deliver = () =>
        fetch(`${stack.baseUrl}/worker/process-avatar`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-cloudtasks-taskretrycount': '0' },
          body: JSON.stringify({ jobId: res.body.jobId, stepSeq: 0 }),
        });
      const answers = await Promise.all([deliver(), deliver()]);
      for (const a of answers) expect([200, 429]).toContain(a.status);
      const job = await waitForJob(stack.baseUrl, res.body.jobId);
      expect(job.status).toBe('completed');
      const calls = createAvatar.mock.calls.filter(([, key]) => key.startsWith(res.body.jobId));
      expect(calls).toHaveLength(1);
    } finally {
      createAvatar.mockRestore();
    }
  });

});

describe('cancelling', () => {
  // A long first poll delay: the poll task waits in the queue, so only the cancel can remove it.
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ env: { POLL_SCHEDULE: '30', POLL_MAX_INTERVAL: '30' } });
  });
  afterAll(async () => {
    await stack.close();
  });

  const tasksOf = async (jobId: string): Promise<string[]> => {
    const [tasks] = await stack.service.queue.client.listTasks({ parent: stack.service.queue.queuePath });
    const prefix = taskName(jobId, 0).split('-')[0];
    return tasks.map((t) => t.name ?? '').filter((n) => n.includes(`/tasks/${prefix}-`));
  };

  test('a cancelled job stops at once, and its pending poll task is removed from the queue', async () => {
    const res = await upload(stack.baseUrl, { image, audio, instructorName: 'Cancel me' });
    const polling = await waitForJob(stack.baseUrl, res.body.jobId, (j) => j.progress.currentStep === 'video.poll');
    // The step commits the job before it creates its next task and before its own task is
    // acknowledged: for a moment the queue may hold the old task, or not yet the new one.
    const pollTask = new RegExp(`-${polling.stepSeq}$`);
    for (const deadline = Date.now() + 10_000; ; ) {
      const names = await tasksOf(polling.jobId);
      if ((names.length === 1 && pollTask.test(names[0]!)) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await tasksOf(polling.jobId)).toEqual([expect.stringMatching(pollTask)]);

    const cancel = await fetch(`${stack.baseUrl}/jobs/${res.body.jobId}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(202);
    const job = await waitForJob(stack.baseUrl, res.body.jobId, undefined, 10000);
    expect(job.status).toBe('cancelled');
    expect(job.cancelRequested).toBe(true);
    expect(job.result).toBeNull();
    // The poll task was due in 30 s; the cancel removed it (and its own task is done) long before.
    const deadline = Date.now() + 5000;
    let left = await tasksOf(job.jobId);
    while (left.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      left = await tasksOf(job.jobId);
    }
    expect(left).toEqual([]);

    const again = await fetch(`${stack.baseUrl}/jobs/${res.body.jobId}/cancel`, { method: 'POST' });
    expect(again.status).toBe(409);
    expect(((await again.json()) as any).error.code).toBe('job_finished');
  });
});

describe('a crash between steps', () => {
  test('when the service stops mid-job and starts again on the same DATA_DIR, the job still completes', async () => {
    const port = String(await freePort());
    const env = { PORT: port, LOCAL_RENDER_LATENCY_MS: '1500', POLL_SCHEDULE: '0.5', POLL_MAX_INTERVAL: '0.5' };
    const first = await startTestStack({ env });
    const res = await upload(first.baseUrl, { image, audio, instructorName: 'Restart' });
    expect(res.status).toBe(202);
    const before = await waitForJob(first.baseUrl, res.body.jobId, (j) => j.progress.currentStep === 'video.poll');
    expect(before.status).toBe('processing');
    await first.close({ keepData: true });

    const second = await startTestStack({ env, dataDir: first.dataDir });
    try {
      const job = await waitForJob(second.baseUrl, res.body.jobId);
      expect(job.status).toBe('completed');
      expect(job.stepSeq).toBeGreaterThan(before.stepSeq);
      const video = await fetch(`${second.baseUrl}/jobs/${job.jobId}/video`);
      expect(video.status).toBe(200);
      expect((await video.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    } finally {
      await second.close();
    }
  });
});
