import express, { Router } from 'express';
import { z } from 'zod';
import { ClientError } from '../../errors';
import { deliverNotification, type LifecycleDeps } from '../../pipeline/lifecycle';
import { advanceJob, type PipelineDeps } from '../../pipeline/runner';
import { workerAuthMiddleware, type AuthenticateWorker } from '../auth';

const TaskBody = z.object({
  jobId: z.string().min(1).max(64),
  stepSeq: z.number().int().min(0),
});

const NotifyBody = z.object({
  kind: z.literal('notify'),
  channel: z.enum(['push', 'webhook']),
  jobId: z.string().min(1).max(64),
});

/**
 * POST /worker/process-avatar: Cloud Tasks delivers `{jobId, stepSeq}` or a notification task
 * `{kind: 'notify', channel, jobId}` (same queue, same auth); one pipeline step runs
 * and the answer tells the queue what to do: 200 done (or a duplicate, ignored), 429/503 retry.
 */
export function workerRoutes(deps: { pipeline: PipelineDeps; lifecycle?: LifecycleDeps; authenticateWorker: AuthenticateWorker }): Router {
  const router = Router();
  router.post(
    '/worker/process-avatar',
    workerAuthMiddleware(deps.authenticateWorker),
    express.json({ limit: '16kb', type: () => true }),
    async (req, res) => {
      if ((req.body as { kind?: unknown } | null)?.kind === 'notify') {
        const notify = NotifyBody.safeParse(req.body);
        if (!notify.success || !deps.lifecycle) {
          throw new ClientError(400, 'bad_task', 'A notification task must be {kind: "notify", channel: "push" | "webhook", jobId}');
        }
        res.locals.jobId = notify.data.jobId;
        const result = await deliverNotification(deps.lifecycle, notify.data);
        res.status(200).json({ success: true, jobId: notify.data.jobId, channel: notify.data.channel, result });
        return;
      }
      const parsed = TaskBody.safeParse(req.body);
      if (!parsed.success) {
        throw new ClientError(400, 'bad_task', `The task body must be {jobId, stepSeq}: ${parsed.error.issues[0]!.message}`);
      }
      res.locals.jobId = parsed.data.jobId;
      const retryCount = Number(req.header('x-cloudtasks-taskretrycount') ?? '0');
      const result = await advanceJob(deps.pipeline, parsed.data, {
        retryCount: Number.isFinite(retryCount) ? retryCount : 0,
        taskName: req.header('x-cloudtasks-taskname') ?? undefined,
      });
      res.status(200).json({ success: true, jobId: parsed.data.jobId, stepSeq: parsed.data.stepSeq, result });
    },
  );
  return router;
}
