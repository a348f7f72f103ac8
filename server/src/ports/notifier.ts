/**
 * Notifier: sends one push notification to one device token.
 *
 * Errors: resolves `unregistered` when the push service says the token is no longer valid (the
 * caller forgets it); throws RetryableError for transient failures (network, 429, 5xx) and
 * PermanentError for the rest.
 */

export interface PushMessage {
  title: string;
  body: string;
  /** String pairs the app reads when the notification is tapped (jobId, link). */
  data: Record<string, string>;
}

export interface Notifier {
  send(token: string, message: PushMessage): Promise<'sent' | 'unregistered'>;
}
