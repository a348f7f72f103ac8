import { createHmac } from 'node:crypto';
import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { RetryableError, PermanentError } from '../domain/errors';
import type { WebhookDelivery, WebhookSender } from '../ports/webhookSender';

/** Resolves a host name to every address it has (dns.lookup with `all`, by default). */
export type ResolveHost = (hostname: string) => Promise<{ address: string; family: number }[]>;

export const defaultResolveHost: ResolveHost = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/**
 * Which callback URLs are allowed. In the cloud: https only, and never an address inside a
 * private, loopback, link-local or otherwise non-public range. Locally (tests, a developer's
 * receiver): plain http and loopback are allowed too; private ranges still are not.
 */
export interface CallbackPolicy {
  allowLoopbackAndHttp: boolean;
}

// Two lists: a BlockList also matches IPv4 addresses against IPv4-mapped IPv6 rules, and the
// IPv6 list blocks the whole mapped range.
const NOT_PUBLIC_V4 = new net.BlockList();
const NOT_PUBLIC_V6 = new net.BlockList();
for (const [prefix, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) NOT_PUBLIC_V4.addSubnet(prefix, bits, 'ipv4');
for (const [prefix, bits] of [
  ['::', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['2001:db8::', 32], ['64:ff9b::', 96], ['100::', 64],
  // IPv4-mapped and -compatible forms would smuggle any IPv4 address past the checks above.
  ['::ffff:0:0', 96], ['::', 96],
] as const) NOT_PUBLIC_V6.addSubnet(prefix, bits, 'ipv6');

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

function refuse(message: string): never {
  throw new PermanentError('callback_url_refused', message);
}

/** Why an address may not be called, or null when it may. */
export function addressProblem(address: string, policy: CallbackPolicy): string | null {
  const type = net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) ? 'ipv6' : null;
  if (!type) return `${address} is not an IP address`;
  if (LOOPBACK.check(address, type)) return policy.allowLoopbackAndHttp ? null : `${address} is a loopback address`;
  if ((type === 'ipv4' ? NOT_PUBLIC_V4 : NOT_PUBLIC_V6).check(address, type)) return `${address} is a private, link-local or reserved address`;
  return null;
}

/**
 * Checks a callback URL and returns the one address to connect to. Every address the name
 * resolves to must be public: an attacker's name with one public and one private address would
 * otherwise pass half the time.
 */
export async function resolveCallbackUrl(
  raw: string,
  policy: CallbackPolicy,
  resolveHost: ResolveHost = defaultResolveHost,
): Promise<{ url: URL; address: string; family: number }> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    refuse('callbackUrl is not a valid URL');
  }
  if (url.protocol !== 'https:' && !(policy.allowLoopbackAndHttp && url.protocol === 'http:')) {
    refuse(policy.allowLoopbackAndHttp ? 'callbackUrl must be an http or https URL' : 'callbackUrl must be an https URL');
  }
  if (url.username || url.password) refuse('callbackUrl must not carry credentials');
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let addresses: { address: string; family: number }[];
  if (net.isIP(host)) {
    addresses = [{ address: host, family: net.isIP(host) }];
  } else {
    try {
      addresses = await resolveHost(host);
    } catch (err) {
      throw new PermanentError('callback_url_refused', `callbackUrl host ${host} does not resolve`, { cause: err });
    }
    if (addresses.length === 0) refuse(`callbackUrl host ${host} does not resolve`);
  }
  for (const { address } of addresses) {
    const problem = addressProblem(address, policy);
    if (problem) refuse(`callbackUrl ${host} is refused: ${problem}`);
  }
  return { url, address: addresses[0]!.address, family: addresses[0]!.family };
}

/** The key of a Standard Webhooks secret, `whsec_<base64>`. */
export function webhookKey(secret: string): Buffer {
  if (!secret.startsWith('whsec_')) throw new PermanentError('bad_webhook_secret', 'WEBHOOK_SECRET must start with whsec_');
  return Buffer.from(secret.slice('whsec_'.length), 'base64');
}

/** Standard Webhooks signature: `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`. */
export function signWebhook(secret: string, id: string, timestampSec: number, body: string): string {
  const mac = createHmac('sha256', webhookKey(secret)).update(`${id}.${timestampSec}.${body}`).digest('base64');
  return `v1,${mac}`;
}

export interface SignedWebhookSenderOptions {
  secret: string;
  policy: CallbackPolicy;
  resolveHost?: ResolveHost;
  timeoutMs?: number;
  now?: () => Date;
}

/**
 * Delivers Standard Webhooks: headers `webhook-id`, `webhook-timestamp` and `webhook-signature`.
 * The URL is checked again at delivery, and the connection goes to the address that was
 * checked (DNS rebinding: a name that was public at upload may point inside later, or between
 * our check and the connect). Redirects are not followed.
 */
export class SignedWebhookSender implements WebhookSender {
  constructor(private readonly options: SignedWebhookSenderOptions) {
    webhookKey(options.secret);
  }

  async check(url: string): Promise<void> {
    await resolveCallbackUrl(url, this.options.policy, this.options.resolveHost);
  }

  async send(delivery: WebhookDelivery): Promise<void> {
    const { url, address, family } = await resolveCallbackUrl(delivery.url, this.options.policy, this.options.resolveHost);
    const timestamp = Math.floor((this.options.now?.() ?? new Date()).getTime() / 1000);
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'avatar-jobs-webhooks/1',
      'webhook-id': delivery.id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signWebhook(this.options.secret, delivery.id, timestamp, delivery.body),
    };
    const client = url.protocol === 'https:' ? https : http;
    const status = await new Promise<number>((resolve, reject) => {
      const req = client.request(
        url,
        {
          method: 'POST',
          headers: { ...headers, 'content-length': Buffer.byteLength(delivery.body) },
          timeout: this.options.timeoutMs ?? 10_000,
          // Connect to the checked address only; TLS still verifies the certificate for the name.
          lookup: (_host, opts, callback) => {
            if ((opts as { all?: boolean }).all) (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address, family }]);
            else (callback as (e: null, a: string, f: number) => void)(null, address, family);
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end(delivery.body);
    }).catch((err: Error) => {
      throw new RetryableError('webhook_unreachable', `The callback receiver did not answer: ${err.message}`, { cause: err });
    });
    if (status < 200 || status >= 300) {
      throw new RetryableError('webhook_refused', `The callback receiver answered ${status}`);
    }
  }
}
