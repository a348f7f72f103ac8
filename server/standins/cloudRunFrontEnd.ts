import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { OAuth2Client } from 'google-auth-library';

/**
 * A stand-in for Cloud Run's front end on a private service, for rehearsals and tests (never
 * in the image). It sits between the caller (the Cloud Tasks emulator) and the container, and
 * does what Google's front end does to a request before the container sees it:
 *
 * - checks the caller's Google ID token: RS256 signature (against `certs`, the Cloud Tasks
 *   emulator's key here, Google's keys in the cloud), issuer, expiry, and audience (the
 *   service URL, with any path, or a custom audience); then IAM: the token's `email` must hold
 *   roles/run.invoker (`invokers`). No token or a failed IAM check → 403, a bad token → 401,
 *   answered by the front end itself: the container never sees the request;
 * - hands the token on with its signature replaced by `SIGNATURE_REMOVED_BY_GOOGLE`, in the
 *   header it came in (`X-Serverless-Authorization` when present, else `Authorization`);
 * - refuses HTTP/1 requests over 32 MiB with 413;
 * - cuts a request at the service's timeout with 504; the container's code keeps running (its
 *   late answer is recorded, not delivered);
 * - forwards every other header, `X-CloudTasks-*` included, and adds `X-Forwarded-For` and
 *   `X-Forwarded-Proto: https`.
 */
export interface CloudRunFrontEndOptions {
  /** The container's base URL, or a function giving it (the container may start later). */
  target: string | (() => string);
  /** `{[kid]: PEM}` of the keys that sign callers' ID tokens. */
  certs: () => Record<string, string> | Promise<Record<string, string>>;
  /** Service-account emails granted roles/run.invoker on the service. */
  invokers: string[];
  /** Custom audiences (`--add-custom-audiences`), accepted besides the service URL. */
  customAudiences?: string[];
  /** The service's request timeout (`--timeout`); Cloud Run's default is 300 s. */
  timeoutMs?: number;
  /** Cloud Run's limit for HTTP/1 request bodies: 32 MiB. */
  maxHttp1RequestBytes?: number;
  host?: string;
  port?: number;
}

/** What happened to one request at the front end. */
export interface FrontEndRecord {
  method: string;
  path: string;
  /** What the caller got. */
  status: number;
  /** Whether the request reached the container. */
  forwarded: boolean;
  /** The container's answer, also when it came after the front end cut the request. */
  containerStatus?: number;
  /** The token header the container received, after the signature was removed. */
  forwardedToken?: string;
}

export interface CloudRunFrontEnd {
  /** The service URL callers use (what WORKER_URL points at). */
  url: string;
  port: number;
  requests: FrontEndRecord[];
  close(): Promise<void>;
}

export const SIGNATURE_REMOVED_BY_GOOGLE = 'SIGNATURE_REMOVED_BY_GOOGLE';
const MAX_HTTP1_REQUEST_BYTES = 32 * 1024 * 1024;
const GOOGLE_ISSUERS = ['accounts.google.com', 'https://accounts.google.com'];
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host']);
const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

/** Cloud Run answers its own refusals with an HTML page; the status is what callers act on. */
function refuse(res: http.ServerResponse, status: number, title: string, text: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'text/html; charset=UTF-8', connection: 'close' });
  res.end(`<html><head><title>${status} ${title}</title></head><body><h1>Error: ${title}</h1><h2>${text}</h2></body></html>\n`);
}

export async function startCloudRunFrontEnd(options: CloudRunFrontEndOptions): Promise<CloudRunFrontEnd> {
  const client = new OAuth2Client();
  const invokers = new Set(options.invokers.map((e) => e.toLowerCase()));
  const maxBytes = options.maxHttp1RequestBytes ?? MAX_HTTP1_REQUEST_BYTES;
  const timeoutMs = options.timeoutMs ?? 300_000;
  const targetOf = typeof options.target === 'function' ? options.target : () => options.target as string;
  const agent = new http.Agent({ keepAlive: true });
  const requests: FrontEndRecord[] = [];
  let serviceUrl = '';

  const audienceOk = (aud: string): boolean => {
    if (options.customAudiences?.includes(aud)) return true;
    // The service URL, with or without a path: Cloud Tasks' default audience is the task's URL.
    return aud === serviceUrl || aud.startsWith(`${serviceUrl}/`);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, record: FrontEndRecord): Promise<void> => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > maxBytes) {
      record.status = 413;
      refuse(res, 413, 'Request Entity Too Large', 'Your client issued a request that was too large.');
      req.resume();
      return;
    }

    const headerName = req.headers['x-serverless-authorization'] !== undefined ? 'x-serverless-authorization' : 'authorization';
    const match = BEARER.exec(String(req.headers[headerName] ?? ''));
    if (!match) {
      record.status = 403;
      refuse(res, 403, 'Forbidden', 'Your client does not have permission to get URL from this server.');
      req.resume();
      return;
    }
    const token = match[1]!;
    let email: string | undefined;
    try {
      const ticket = await client.verifySignedJwtWithCertsAsync(token, await options.certs(), undefined, GOOGLE_ISSUERS);
      const payload = ticket.getPayload();
      if (!payload || typeof payload.aud !== 'string' || !audienceOk(payload.aud)) throw new Error('wrong audience');
      email = typeof payload.email === 'string' && payload.email_verified ? payload.email.toLowerCase() : undefined;
    } catch {
      record.status = 401;
      refuse(res, 401, 'Unauthorized', 'The request was not authorized to invoke this service.');
      req.resume();
      return;
    }
    if (!email || !invokers.has(email)) {
      record.status = 403;
      refuse(res, 403, 'Forbidden', 'Your client does not have permission to get URL from this server.');
      req.resume();
      return;
    }

    const [header, payload] = token.split('.');
    const stripped = `Bearer ${header}.${payload}.${SIGNATURE_REMOVED_BY_GOOGLE}`;
    record.forwardedToken = stripped;
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
    }
    headers[headerName] = stripped;
    headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
    headers['x-forwarded-proto'] = 'https';

    const target = new URL(req.url ?? '/', targetOf());
    const upstream = http.request(target, { method: req.method, headers, agent });
    record.forwarded = true;
    let cut = false;
    // Cloud Run's request timeout: the caller gets 504, the container is not stopped.
    const timer = setTimeout(() => {
      cut = true;
      record.status = 504;
      refuse(res, 504, 'Gateway Timeout', 'upstream request timeout');
    }, timeoutMs);
    upstream.on('response', (answer) => {
      record.containerStatus = answer.statusCode;
      if (cut) {
        answer.resume();
        return;
      }
      clearTimeout(timer);
      record.status = answer.statusCode ?? 502;
      const out: http.OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(answer.headers)) {
        if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
      }
      res.writeHead(answer.statusCode ?? 502, out);
      answer.pipe(res);
    });
    upstream.on('error', () => {
      clearTimeout(timer);
      if (cut) return;
      record.status = 503;
      refuse(res, 503, 'Service Unavailable', 'The service could not be reached.');
    });

    let seen = 0;
    req.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes && !cut) {
        // A chunked body that grows past the limit: refused like a declared one. Marked as cut
        // first, so the upstream's destroy error does not answer a second time and reset the
        // connection before the 413 reaches the client; the rest of the body is read and dropped.
        cut = true;
        clearTimeout(timer);
        req.unpipe(upstream);
        upstream.destroy();
        record.status = 413;
        refuse(res, 413, 'Request Entity Too Large', 'Your client issued a request that was too large.');
        req.resume();
      }
    });
    req.pipe(upstream);
  };

  const server = http.createServer((req, res) => {
    const record: FrontEndRecord = { method: req.method ?? 'GET', path: req.url ?? '/', status: 0, forwarded: false };
    requests.push(record);
    handle(req, res, record).catch(() => {
      record.status = 500;
      refuse(res, 500, 'Server Error', 'The server encountered an error.');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  serviceUrl = `http://${options.host ?? '127.0.0.1'}:${port}`;
  return {
    url: serviceUrl,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
