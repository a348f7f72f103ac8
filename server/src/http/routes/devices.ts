import express, { Router } from 'express';
import { z } from 'zod';
import { InvalidInputError } from '../../domain/errors';
import type { DeviceStore } from '../../ports/deviceStore';
import { authMiddleware, type Authenticate } from '../auth';

const DeviceBody = z.object({
  // FCM registration tokens are about 150-200 characters; allow room, refuse nonsense.
  token: z.string().trim().min(20, 'token is too short to be an FCM token').max(4096).regex(/^[A-Za-z0-9_:\-.]+$/, 'token holds characters an FCM token never has'),
  platform: z.enum(['android', 'ios', 'web'], { error: 'platform must be android, ios or web' }),
});

/**
 * POST /devices `{token, platform}`: registers the caller's FCM token, so the worker can tell
 * them when a job ends. Registering again refreshes it; 204.
 */
export function deviceRoutes(deps: { devices: DeviceStore; authenticate: Authenticate; now?: () => Date }): Router {
  const router = Router();
  router.post('/devices', authMiddleware(deps.authenticate), express.json({ limit: '16kb' }), async (req, res) => {
    const parsed = DeviceBody.safeParse(req.body ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new InvalidInputError('bad_device', `${issue.path.join('.') || 'body'}: ${issue.message}`);
    }
    await deps.devices.register({
      token: parsed.data.token,
      platform: parsed.data.platform,
      ownerUid: req.caller!.uid,
      updatedAt: (deps.now?.() ?? new Date()).toISOString(),
    });
    res.status(204).end();
  });
  return router;
}
