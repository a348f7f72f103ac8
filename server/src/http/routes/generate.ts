import { randomUUID } from 'node:crypto';
import { Router, type Request, type RequestHandler } from 'express';
import { z } from 'zod';
import { formatBytes } from '../../domain/format';
import { DEFAULT_UPLOAD_LIMITS } from '../../domain/uploadRules';
import { InvalidInputError, TooLargeError, ClientAbortedError } from '../../domain/errors';
import { ClientError } from '../errors';
import { checkActiveLimit, createJob, type JobsDeps } from '../../pipeline/createJob';
import type { BlobStore } from '../../ports/blobStore';
import type { WebhookSender } from '../../ports/webhookSender';
import { authMiddleware, isValidUserId, type Authenticate } from '../auth';
import { checkUploadedMedia, startMediaCheck } from '../mediaChecks';
import { maxUploadBodyBytes, newUploadContext, receiveUpload, type UploadLimits } from '../upload';
import { jobLinks, publicBaseUrl } from './links';

export interface GenerateDeps {
  jobs: JobsDeps;
  blobs: BlobStore;
  limits: UploadLimits;
  authenticate: Authenticate;
  /** Local mode only: the `userId` form field may name the caller. */
  allowUserIdField: boolean;
  publicUrl?: string;
  /** Absent when WEBHOOK_SECRET is not set: a callbackUrl is then refused. */
  webhooks?: WebhookSender;
  /** An upload that sends no byte for this long is stopped with 408 (0: never). */
  uploadIdleTimeoutMs: number;
}

/**
 * The optional callbackUrl: https only in the cloud, and never a name that resolves to a
 * private, loopback or link-local address (checked again at delivery). Undefined when absent.
 */
async function validateCallbackUrl(raw: string | undefined, webhooks: WebhookSender | undefined): Promise<string | undefined> {
  const value = raw?.trim();
  if (!value) return undefined;
  if (value.length > 2048) throw new InvalidInputError('bad_callback_url', 'callbackUrl must be at most 2048 characters');
  if (!webhooks) throw new InvalidInputError('webhooks_disabled', 'This server sends no webhooks (WEBHOOK_SECRET is not set)');
  try {
    await webhooks.check(value);
  } catch (err) {
    throw new InvalidInputError('bad_callback_url', (err as Error).message, { cause: err });
  }
  return value;
}

function fieldsSchema(limits: UploadLimits) {
  return z.object({
    instructorName: z
      .string({ error: 'instructorName is required' })
      .trim()
      .min(1, 'instructorName is required')
      .max(limits.nameMaxChars, `instructorName must be at most ${limits.nameMaxChars} characters`),
    instructorBio: z
      .string()
      .trim()
      .max(limits.bioMaxChars, `instructorBio must be at most ${limits.bioMaxChars} characters`)
      .default(''),
    userId: z.string().optional(),
    callbackUrl: z.string().optional(),
  });
}

const KNOWN_FIELDS = new Set(['instructorName', 'instructorBio', 'userId', 'callbackUrl']);

/**
 * POST /generate-with-tasks: stream the two files into the BlobStore, check the form, store the
 * job and its first task, answer 202 with the jobId. Any failure removes every blob this
 * request wrote: bad input leaves nothing behind.
 */
export function generateRoutes(deps: GenerateDeps): Router {
  const router = Router();
  const schema = fieldsSchema(deps.limits);

  const maxBodyBytes = maxUploadBodyBytes(deps.limits);
  const mediaLimits = deps.limits.media ?? DEFAULT_UPLOAD_LIMITS.media;

  const cleanup = async (req: Request): Promise<void> => {
    const ctx = req.upload;
    if (!ctx) return;
    ctx.closed = true;
    // A file still being written would land after the deletes below.
    await Promise.all(ctx.inFlight);
    const keys = [...ctx.startedKeys].filter((k) => !k.startsWith('field:'));
    await Promise.all(keys.map((k) => deps.blobs.delete(k).catch((err) => req.log?.warn({ message: 'cleanup failed', key: k, error: String(err) }))));
  };

  // Before anything else, and before a byte of the body is read: a declared size that no
  // valid upload can have is refused at once.
  const refuseOversized: RequestHandler = (req, res, next) => {
    res.locals.bodyBudgetBytes = maxBodyBytes;
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBodyBytes) {
      next(new TooLargeError('upload_too_large', `The upload is ${formatBytes(declared)}; at most ${formatBytes(maxBodyBytes)} is accepted (image ${formatBytes(deps.limits.imageMaxBytes)}, audio ${formatBytes(deps.limits.audioMaxBytes)})`));
      return;
    }
    next();
  };

  router.post('/generate-with-tasks', refuseOversized, authMiddleware(deps.authenticate), async (req, res, next) => {
    const jobId = randomUUID();
    res.locals.jobId = jobId;
    req.upload = newUploadContext(jobId);
    try {
      if (!req.is('multipart/form-data')) {
        throw new InvalidInputError('expected_multipart', 'Send the files as multipart/form-data with fields "image" and "audio"');
      }
      // Refuse early, before any byte is stored, when the caller is already at the limit.
      await checkActiveLimit(deps.jobs, req.caller!.uid);

      // Each file's check starts as soon as it is stored: the photo's runs while the recording
      // is still arriving.
      const checks: { image?: Promise<number | undefined>; audio?: Promise<number | undefined> } = {};
      await receiveUpload(req, {
        blobs: deps.blobs,
        limits: deps.limits,
        idleTimeoutMs: deps.uploadIdleTimeoutMs,
        onStored: (file) => {
          checks[file.field] = startMediaCheck(deps.blobs, file, mediaLimits, req.log);
        },
      });

      const body = (req.body ?? {}) as Record<string, unknown>;
      const unknown = Object.keys(body).filter((k) => !KNOWN_FIELDS.has(k));
      if (unknown.length > 0) throw new InvalidInputError('unexpected_field', `Unknown form field "${unknown[0]}"`);
      const parsed = schema.safeParse(body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new InvalidInputError(issue.code === 'too_big' ? 'field_too_long' : 'missing_field', issue.message);
      }
      const image = req.upload!.stored.get('image');
      const audio = req.upload!.stored.get('audio');
      if (!image) throw new InvalidInputError('missing_file', 'The "image" file is missing');
      if (!audio) throw new InvalidInputError('missing_file', 'The "audio" file is missing');
      const { audioDurationSec } = await checkUploadedMedia(deps.blobs, { image, audio }, mediaLimits, req.log, checks);

      const callbackUrl = await validateCallbackUrl(parsed.data.callbackUrl, deps.webhooks);

      let ownerUid = req.caller!.uid;
      if (deps.allowUserIdField && req.caller!.isDefault && parsed.data.userId !== undefined) {
        if (!isValidUserId(parsed.data.userId)) throw new InvalidInputError('bad_user_id', 'userId may hold letters, digits and _.@- only');
        ownerUid = parsed.data.userId;
        await checkActiveLimit(deps.jobs, ownerUid);
      }

      const job = await createJob(deps.jobs, {
        jobId,
        ownerUid,
        input: {
          imagePath: image.key,
          audioPath: audio.key,
          imageType: image.mime,
          audioType: audio.mime,
          instructorName: parsed.data.instructorName,
          instructorBio: parsed.data.instructorBio,
          imageBytes: image.bytes,
          audioBytes: audio.bytes,
          audioDurationSec: Math.round(audioDurationSec * 1000) / 1000,
          ...(callbackUrl ? { callbackUrl } : {}),
        },
      });

      const base = publicBaseUrl(req, deps.publicUrl);
      res.status(202).json({
        success: true,
        jobId: job.jobId,
        message: 'Job accepted; watch its progress at statusUrl or eventsUrl',
        ...jobLinks(base, job.jobId),
      });
    } catch (err) {
      // Also when the enqueue failed: createJob has removed that job, so its inputs will never
      // be read. An idle or vanished client holds a file write open until its connection ends,
      // so answer it (which closes the connection) before cleaning up; otherwise clean first.
      const connectionMustEndFirst = err instanceof ClientAbortedError || (err instanceof ClientError && err.code === 'upload_timeout');
      if (connectionMustEndFirst) next(err);
      await cleanup(req);
      if (!connectionMustEndFirst) next(err);
    }
  });
  return router;
}
