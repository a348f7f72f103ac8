/**
 * One realistic job document per status, as the pipeline leaves them mid-flight.
 *
 * These are the single source of truth for the document shape that clients read: the Flutter
 * client's JSON fixtures (flutter_client/test/fixtures/job_<status>.json) are generated from
 * them, and server/test/flutter/fixtures.test.ts fails when the two drift apart. Typing each
 * example as `Job` means a change to the port type breaks compilation here first.
 */
import type { Job, JobStatus } from '../../src/domain/job';

const OWNER = 'u_8Zq3mWkT1bXv0pLr2sYd';
const CREATED = '2025-03-14T09:26:53.000Z';

function input(jobId: string): Job['input'] {
  return {
    imagePath: `uploads/${jobId}/image.jpg`,
    audioPath: `uploads/${jobId}/audio.mp3`,
    imageType: 'image/jpeg',
    audioType: 'audio/mpeg',
    instructorName: 'Ada Lovelace',
    instructorBio: 'Mathematician; writes about the Analytical Engine.',
    imageBytes: 482_113,
    audioBytes: 201_344,
    audioDurationSec: 12.5,
  };
}

/** Just created: the first task (avatar.create) is enqueued and no worker has claimed it yet. */
const queued: Job = {
  jobId: 'job_01HQ4V7Y3M2K8T5R9N6W0XBZCA',
  ownerUid: OWNER,
  status: 'queued',
  progress: { currentStep: 'avatar.create', stepNumber: 1, totalSteps: 4, percent: 0, message: 'Waiting to start' },
  input: input('job_01HQ4V7Y3M2K8T5R9N6W0XBZCA'),
  provider: { name: 'visionstory', avatarId: null, videoId: null, providerStatus: null, polls: 0 },
  result: null,
  error: null,
  cancelRequested: false,
  stepSeq: 1,
  leaseUntil: null,
  attempts: 0,
  nextRunAt: CREATED,
  createdAt: CREATED,
  updatedAt: CREATED,
  completedAt: null,
};

/** Waiting on the provider's render: the third poll came back `creating`, the next is scheduled. */
const processing: Job = {
  jobId: 'job_01HQ4V8A6D9F2G4H7J1K3L5M7N',
  ownerUid: OWNER,
  status: 'processing',
  progress: {
    currentStep: 'video.poll',
    stepNumber: 3,
    totalSteps: 4,
    percent: 60,
    message: 'The provider is rendering the video',
  },
  input: input('job_01HQ4V8A6D9F2G4H7J1K3L5M7N'),
  provider: {
    name: 'visionstory',
    avatarId: 'av_5f1c2e9a7b',
    videoId: 'vid_9d3e7a1c44',
    providerStatus: 'creating',
    polls: 3,
  },
  result: null,
  error: null,
  cancelRequested: false,
  stepSeq: 5,
  leaseUntil: null,
  attempts: 5,
  nextRunAt: '2025-03-14T09:28:23.000Z',
  createdAt: CREATED,
  updatedAt: '2025-03-14T09:27:53.412Z',
  completedAt: null,
};

/** Finished: the video was copied into our own storage and is served by the backend. */
const completed: Job = {
  jobId: 'job_01HQ4V9B8C1D3E5F7G9H2J4K6M',
  ownerUid: OWNER,
  status: 'completed',
  progress: { currentStep: 'done', stepNumber: 4, totalSteps: 4, percent: 100, message: 'Your video is ready' },
  input: input('job_01HQ4V9B8C1D3E5F7G9H2J4K6M'),
  provider: {
    name: 'visionstory',
    avatarId: 'av_0b7e4d2f19',
    videoId: 'vid_6a2c8e0f35',
    providerStatus: 'created',
    polls: 7,
  },
  result: {
    videoPath: 'results/job_01HQ4V9B8C1D3E5F7G9H2J4K6M/video.mp4',
    videoUrl: '/jobs/job_01HQ4V9B8C1D3E5F7G9H2J4K6M/video',
    durationSec: 12.48,
  },
  error: null,
  cancelRequested: false,
  stepSeq: 11,
  leaseUntil: null,
  attempts: 11,
  nextRunAt: null,
  createdAt: CREATED,
  updatedAt: '2025-03-14T09:31:02.871Z',
  completedAt: '2025-03-14T09:31:02.871Z',
};

/** The provider refused the audio when asked to create the video: a permanent error. */
const failed: Job = {
  jobId: 'job_01HQ4VAC2E4G6J8L0N2Q4S6U8W',
  ownerUid: OWNER,
  status: 'failed',
  progress: {
    currentStep: 'video.create',
    stepNumber: 2,
    totalSteps: 4,
    percent: 25,
    message: 'Video creation failed',
  },
  input: input('job_01HQ4VAC2E4G6J8L0N2Q4S6U8W'),
  provider: {
    name: 'visionstory',
    avatarId: 'av_3c9a1e7d52',
    videoId: null,
    providerStatus: null,
    polls: 0,
  },
  result: null,
  error: { code: 'provider_rejected', message: 'The provider rejected the audio: unsupported sample rate' },
  cancelRequested: false,
  stepSeq: 3,
  leaseUntil: null,
  attempts: 3,
  nextRunAt: null,
  createdAt: CREATED,
  updatedAt: '2025-03-14T09:27:20.105Z',
  completedAt: '2025-03-14T09:27:20.105Z',
};

/** The owner cancelled while the provider was rendering; the next step noticed and stopped. */
const cancelled: Job = {
  jobId: 'job_01HQ4VBD4F6H8K0M2P4R6T8V0X',
  ownerUid: OWNER,
  status: 'cancelled',
  progress: {
    currentStep: 'video.poll',
    stepNumber: 3,
    totalSteps: 4,
    percent: 55,
    message: 'Cancelled',
  },
  input: input('job_01HQ4VBD4F6H8K0M2P4R6T8V0X'),
  provider: {
    name: 'visionstory',
    avatarId: 'av_7e2b5d9c30',
    videoId: 'vid_1f8a4c6e27',
    providerStatus: 'creating',
    polls: 2,
  },
  result: null,
  error: null,
  cancelRequested: true,
  stepSeq: 5,
  leaseUntil: null,
  attempts: 5,
  nextRunAt: null,
  createdAt: CREATED,
  updatedAt: '2025-03-14T09:28:41.660Z',
  completedAt: '2025-03-14T09:28:41.660Z',
};

/** One example job document for each status. */
export const jobExamples: Readonly<Record<JobStatus, Job>> = { queued, processing, completed, failed, cancelled };

/** A deep copy of the example for `status`, so a test may change it freely. */
export function exampleJob(status: JobStatus, overrides: Partial<Job> = {}): Job {
  return { ...structuredClone(jobExamples[status]), ...overrides };
}
