import express, { Router } from 'express';
import { z } from 'zod';
import { InvalidInputError } from '../../domain/errors';
import type { SweepSettings } from '../../pipeline/decisions';
import { deliverNotification, type LifecycleDeps } from '../../pipeline/lifecycle';
import { advanceJob, type PipelineDeps } from '../../pipeline/runner';
import { sweepOverdueJobs } from '../../pipeline/sweep';
import { workerAuthMiddleware, type AuthenticateWorker } from '../auth';

const SweepBody = z.object({ cursor: z.string().max(500).nullish() }).strict();

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
export function workerRoutes(deps: {
  pipeline: PipelineDeps;
  sweep: SweepSettings;
  lifecycle?: LifecycleDeps;
  authenticateWorker: AuthenticateWorker;
}): Router {
  const router = Router();
  router.post(
    '/worker/process-avatar',
    workerAuthMiddleware(deps.authenticateWorker),
    express.json({ limit: '16kb', type: () => true }),
    async (req, res) => {
      if ((req.body as { kind?: unknown } | null)?.kind === 'notify') {
        const notify = NotifyBody.safeParse(req.body);
        if (!notify.success || !deps.lifecycle) {
          throw new InvalidInputError('bad_task', 'A notification task must be {kind: "notify", channel: "push" | "webhook", jobId}');
        }
        res.locals.jobId = notify.data.jobId;
        const result = await deliverNotification(deps.lifecycle, notify.data);
        res.status(200).json({ success: true, jobId: notify.data.jobId, channel: notify.data.channel, result });
        return;
      }
      const parsed = TaskBody.safeParse(req.body);
      if (!parsed.success) {
        throw new InvalidInputError('bad_task', `The task body must be {jobId, stepSeq}: ${parsed.error.issues[0]!.message}`);
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
  /**
   * POST /worker/sweep (Cloud Scheduler every 5 minutes; the local stack on a timer): gives a
   * new task to every job whose task was lost. Works in pages within a time budget; `more: true`
   * means overdue jobs are left, and `{cursor}` from the answer continues where it stopped.
   */
  router.post(
    '/worker/sweep',
    workerAuthMiddleware(deps.authenticateWorker),
    express.json({ limit: '4kb', type: () => true }),
    async (req, res) => {
      const parsed = SweepBody.safeParse(req.body ?? {});
      if (!parsed.success) {
        throw new InvalidInputError('bad_sweep', `The sweep body must be empty or {cursor}: ${parsed.error.issues[0]!.message}`);
      }
      const { store, queue, settings, logger, now, onJobEnded } = deps.pipeline;
      const result = await sweepOverdueJobs({ store, queue, settings, logger, now, onJobEnded, sweep: deps.sweep }, { cursor: parsed.data.cursor });
      res.status(200).json({ success: true, ...result });
    },
  );
  return router;
}
