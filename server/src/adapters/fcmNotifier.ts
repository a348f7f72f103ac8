import { RetryableError, PermanentError } from '../domain/errors';
import type { Notifier, PushMessage } from '../ports/notifier';

export interface FcmNotifierOptions {
  projectId: string;
  /** https://fcm.googleapis.com in production; a recording stand-in in tests. */
  baseUrl: string;
  /** An OAuth access token with the firebase.messaging scope (google-auth-library in the cloud). */
  getAccessToken: () => Promise<string>;
  timeoutMs?: number;
}

/**
 * Notifier on the FCM HTTP v1 API (`POST /v1/projects/{project}/messages:send`), the API that
 * firebase-admin's messaging() calls. It is called directly rather than through firebase-admin
 * because firebase-admin 13 fixes the host (`https://fcm.googleapis.com`, no emulator setting),
 * so it could never be pointed at a local stand-in; the request and error shapes are the same.
 */
export class FcmNotifier implements Notifier {
  constructor(private readonly options: FcmNotifierOptions) {}

  async send(token: string, message: PushMessage): Promise<'sent' | 'unregistered'> {
    const url = `${this.options.baseUrl.replace(/\/$/, '')}/v1/projects/${encodeURIComponent(this.options.projectId)}/messages:send`;
    const body = {
      message: {
        token,
        notification: { title: message.title, body: message.body },
        data: message.data,
        android: { priority: 'HIGH', notification: { click_action: 'FLUTTER_NOTIFICATION_CLICK' } },
        apns: { payload: { aps: { sound: 'default' } } },
      },
    };
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${await this.options.getAccessToken()}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new RetryableError('push_unavailable', `FCM did not answer: ${(err as Error).message}`, { cause: err });
    }
    if (res.ok) return 'sent';
    const text = await res.text().catch(() => '');
    const fcmCode = fcmErrorCode(text);
    // UNREGISTERED (404): the app was uninstalled or the token expired; forget it.
    if (fcmCode === 'UNREGISTERED' || res.status === 404) return 'unregistered';
    if (res.status === 429 || res.status >= 500) {
      throw new RetryableError('push_unavailable', `FCM answered ${res.status} ${fcmCode ?? ''}`.trim(), {
        retryAfterSec: Number(res.headers.get('retry-after')) || undefined,
      });
    }
    throw new PermanentError('push_refused', `FCM answered ${res.status} ${fcmCode ?? ''}`.trim(), { detail: text.slice(0, 500) });
  }
}

/** The `errorCode` of FCM's `google.firebase.fcm.v1.FcmError` detail, when present. */
function fcmErrorCode(text: string): string | undefined {
  try {
    const details = (JSON.parse(text) as { error?: { details?: { '@type'?: string; errorCode?: string }[] } }).error?.details ?? [];
    return details.find((d) => d['@type']?.endsWith('google.firebase.fcm.v1.FcmError'))?.errorCode;
  } catch {
    return undefined;
  }
}
