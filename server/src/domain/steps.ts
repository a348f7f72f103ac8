import type { StepName } from './job';

/** The pipeline's steps, in order: each is one short worker request (or a few, for polling). */
export const STEPS: readonly Exclude<StepName, 'done'>[] = ['avatar.create', 'video.create', 'video.poll', 'video.store'];
export const TOTAL_STEPS = STEPS.length;

/** What each step does, in English: the job's progress message, and the label clients show. */
export const STEP_LABELS: Readonly<Record<StepName, string>> = {
  'avatar.create': 'Creating the avatar from the photo',
  'video.create': 'Asking the provider to make the video',
  'video.poll': 'The provider is making the video',
  'video.store': 'Saving the finished video',
  done: 'Finished',
};
