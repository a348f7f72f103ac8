import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

/**
 * HTTP/2 cleartext (h2c) in front of the HTTP/1 app.
 *
 * Why: Cloud Run refuses HTTP/1 requests larger than 32 MiB, and an upload here may be 40 MB
 * (a 10 MB photo and 30 MB of audio). With "HTTP/2 end-to-end" (`gcloud run deploy
 * --use-http2`) the limit goes, but the container must then speak h2c, and Express cannot sit
 * on Node's http2 compatibility layer (its request object is built on HTTP/1's). So each
 * HTTP/2 stream is relayed, streaming both ways with backpressure, to the app's HTTP/1 server
 * on loopback.
 */

/** HTTP/1 hop-by-hop headers that HTTP/2 forbids, and HTTP/2 headers HTTP/1 does not know. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'host', 'http2-settings']);

export interface H2cBridge {
  port: number;
  server: http2.Http2Server;
  close(): Promise<void>;
}

export function startH2cBridge(options: { host: string; port: number; target: { host: string; port: number } }): Promise<H2cBridge> {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const forward: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(headers)) {
      if (!name.startsWith(':') && !HOP_BY_HOP.has(name) && value !== undefined) forward[name] = value;
    }
    forward.host = headers[':authority'] ?? `${options.host}:${options.port}`;
    const upstream = http.request(
      {
        host: options.target.host,
        port: options.target.port,
        method: headers[':method'],
        path: headers[':path'],
        headers: forward,
      },
      (res) => {
        const out: http2.OutgoingHttpHeaders = { ':status': res.statusCode ?? 502 };
        for (const [name, value] of Object.entries(res.headers)) {
          if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
        }
        if (stream.destroyed) return res.destroy();
        stream.respond(out);
        res.pipe(stream);
        res.on('error', () => stream.destroy());
      },
    );
    upstream.on('error', () => {
      if (!stream.destroyed && !stream.headersSent) {
        stream.respond({ ':status': 502, 'content-type': 'application/json' });
        stream.end(JSON.stringify({ success: false, error: { code: 'bad_gateway', message: 'The service is not answering' } }));
      } else {
        stream.destroy();
      }
    });
    // A client that goes away (an aborted upload, a closed event stream) ends the relayed
    // request too, so the app sees the abort and cleans up.
    stream.on('close', () => {
      if (!upstream.writableFinished || !stream.writableFinished) upstream.destroy();
    });
    // An answer sent before the whole request arrived (a refused upload: 413, 415) ends the
    // stream: RST_STREAM with NO_ERROR asks the client to stop sending (RFC 9113 §8.1). Left
    // open, the client would stall once its flow-control window filled, holding the stream,
    // and its connection's graceful close, open until something timed out.
    stream.on('finish', () => {
      if (!stream.readableEnded && !stream.destroyed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
    });
    stream.pipe(upstream);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        server,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            // Open sessions (event streams) would keep close() waiting.
            setTimeout(done, 2000).unref();
          }),
      });
    });
  });
}
