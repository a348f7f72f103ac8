import type { Readable } from 'node:stream';

/**
 * AvatarProvider: the AI service that turns a photo into an avatar and an avatar plus audio
 * into a video. Every creating call carries an idempotency key derived from the job and step,
 * so a retried step never makes a second avatar or video.
 *
 * Errors: throw RetryableError for transient failures (network, 5xx, 429, 409 in progress) and
 * PermanentError for the rest (4xx, bad media, `provider_bad_response`).
 */

/** A stored input the provider can read, by its BlobStore key. */
export interface MediaRef {
  key: string;
  contentType: string;
}

export type VideoState =
  | { state: 'queued'; providerStatus: string }
  | { state: 'running'; providerStatus: string; percent?: number }
  | { state: 'done'; providerStatus: string; url: string; durationSec?: number | null }
  | { state: 'failed'; providerStatus: string; reason: string };

/** Who is speaking: shown by providers that can title a video (the local renderer's lower third). */
export interface VideoCaption {
  instructorName: string;
  instructorBio: string;
}

export interface AvatarProvider {
  /** Provider name written into the job document (`provider.name`). */
  readonly name: string;
  createAvatar(image: MediaRef, idempotencyKey: string): Promise<{ avatarId: string }>;
  createVideo(avatarId: string, audio: MediaRef, idempotencyKey: string, caption?: VideoCaption): Promise<{ videoId: string }>;
  getVideo(videoId: string): Promise<VideoState>;
  /** Opens the finished video at `url` (as given by getVideo) for copying into our BlobStore. */
  openVideo(url: string): Promise<Readable>;
  /**
   * Deletes the provider's own copies of a job's avatar and video, where its API allows; a
   * provider without such an API leaves this out (VisionStory: its copies expire after 7 days).
   */
  deleteMedia?(ids: { avatarId: string | null; videoId: string | null }): Promise<void>;
  close?(): Promise<void>;
}
