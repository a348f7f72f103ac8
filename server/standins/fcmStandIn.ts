import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A recording stand-in of FCM's HTTP v1 send API, for tests only (never in the image):
 * `POST /v1/projects/{project}/messages:send` answers `{name}` like FCM, or FCM's own 404
 * UNREGISTERED error for the tokens marked unregistered, or a 503 for the next `failNext` sends.
 */
export interface FcmStandIn {
  url: string;
  /** Every send request, in order: the project, the Authorization header and the message. */
  sent: { project: string; authorization: string | undefined; message: any }[];
  unregistered: Set<string>;
  /** Answer 503 to this many sends from now on. */
  failNext: number;
  close(): Promise<void>;
}

export async function startFcmStandIn(): Promise<FcmStandIn> {
  let counter = 0;
  const state: Omit<FcmStandIn, 'url' | 'close'> = { sent: [], unregistered: new Set(), failNext: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const match = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(req.url ?? '');
      const reply = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.method !== 'POST' || !match) return reply(404, { error: { code: 404, message: 'Not found', status: 'NOT_FOUND' } });
      if (state.failNext > 0) {
        state.failNext--;
        return reply(503, { error: { code: 503, message: 'The service is currently unavailable.', status: 'UNAVAILABLE' } });
      }
      let message: any;
      try {
        message = JSON.parse(Buffer.concat(chunks).toString('utf8')).message;
      } catch {
        return reply(400, { error: { code: 400, message: 'Invalid JSON payload received.', status: 'INVALID_ARGUMENT' } });
      }
      state.sent.push({ project: decodeURIComponent(match[1]!), authorization: req.headers.authorization, message });
      if (state.unregistered.has(message?.token)) {
        return reply(404, {
          error: {
            code: 404,
            message: 'Requested entity was not found.',
            status: 'NOT_FOUND',
            details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'UNREGISTERED' }],
          },
        });
      }
      reply(200, { name: `projects/${match[1]}/messages/${++counter}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const standIn: FcmStandIn = Object.assign(state as FcmStandIn, {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
  return standIn;
}
