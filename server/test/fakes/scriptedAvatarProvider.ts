import { Readable } from 'node:stream';
import type { AvatarProvider, MediaRef, VideoCaption, VideoState } from '../../src/ports/avatarProvider';

/** One scripted answer: a value to return, or an error to throw. */
export type ScriptedAnswer<T> = T | Error;

/** A call the provider received, in order. */
export type ProviderCall =
  | { method: 'createAvatar'; image: MediaRef; idempotencyKey: string }
  | { method: 'createVideo'; avatarId: string; audio: MediaRef; idempotencyKey: string; caption?: VideoCaption }
  | { method: 'getVideo'; videoId: string }
  | { method: 'openVideo'; url: string };

/**
 * An AvatarProvider that answers from a script, for the pipeline's unit tests: each method
 * takes its next answer from its queue, or a default when the queue is empty (ids derived from
 * the idempotency key, so a repeated key gives the same id; a video that is done). It records
 * every call. It is a script, not a stand-in for a provider: it makes no video, so it does not
 * run the AvatarProvider contract, which asks for a real H.264 render.
 */
export class ScriptedAvatarProvider implements AvatarProvider {
  readonly name: string;
  readonly calls: ProviderCall[] = [];
  readonly answers: {
    createAvatar: ScriptedAnswer<{ avatarId: string }>[];
    createVideo: ScriptedAnswer<{ videoId: string }>[];
    getVideo: ScriptedAnswer<VideoState>[];
  } = { createAvatar: [], createVideo: [], getVideo: [] };
  /** The bytes of the finished video that openVideo streams. */
  videoBytes: Buffer;
  /** When set, createAvatar waits for this before answering (a slow provider). */
  createAvatarGate: Promise<void> | null = null;

  constructor(options: { name?: string; videoBytes?: Buffer } = {}) {
    this.name = options.name ?? 'scripted';
    this.videoBytes = options.videoBytes ?? Buffer.from('a finished video');
  }

  /** How many calls of `method` the provider received. */
  count(method: ProviderCall['method']): number {
    return this.calls.filter((c) => c.method === method).length;
  }

  async createAvatar(image: MediaRef, idempotencyKey: string): Promise<{ avatarId: string }> {
    this.calls.push({ method: 'createAvatar', image, idempotencyKey });
    if (this.createAvatarGate) await this.createAvatarGate;
    return answer(this.answers.createAvatar.shift(), { avatarId: `av-${idempotencyKey}` });
  }

  async createVideo(avatarId: string, audio: MediaRef, idempotencyKey: string, caption?: VideoCaption): Promise<{ videoId: string }> {
    this.calls.push({ method: 'createVideo', avatarId, audio, idempotencyKey, caption });
    return answer(this.answers.createVideo.shift(), { videoId: `vid-${idempotencyKey}` });
  }

  async getVideo(videoId: string): Promise<VideoState> {
    this.calls.push({ method: 'getVideo', videoId });
    return answer(this.answers.getVideo.shift(), { state: 'done', providerStatus: 'created', url: `scripted://${videoId}.mp4`, durationSec: 3 });
  }

  async openVideo(url: string): Promise<Readable> {
    this.calls.push({ method: 'openVideo', url });
    return Readable.from([this.videoBytes]);
  }
}

function answer<T>(scripted: ScriptedAnswer<T> | undefined, fallback: T): T {
  if (scripted instanceof Error) throw scripted;
  return scripted ?? fallback;
}
