/**
 * WebhookSender: delivers one signed POST to a caller's callbackUrl.
 *
 * Errors: throws RetryableError when the receiver is down or answers other than 2xx (the queue
 * retries), PermanentError when the URL is refused (not https in the cloud, or it resolves to a
 * private, loopback or link-local address).
 */
export interface WebhookDelivery {
  /** Same on every retry of one event, so the receiver can drop duplicates (webhook-id). */
  id: string;
  url: string;
  /** The JSON body, sent byte for byte as signed. */
  body: string;
}

export interface WebhookSender {
  /** Checks a callback URL as the upload does: resolves the host and refuses unsafe targets. */
  check(url: string): Promise<void>;
  send(delivery: WebhookDelivery): Promise<void>;
}
