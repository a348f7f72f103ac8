/**
 * The yardstick for upload throughput: a plain Node http server that pipes each request body to
 * a file on disk and answers 202. No parsing, no hashing: the fastest a Node process can take
 * the same bytes. Told `DIR` by the environment; reports `{ready, url, pid}` over IPC.
 */
import { createWriteStream } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

const dir = process.env.DIR ?? '.';
let n = 0;
const server = http.createServer((req, res) => {
  const file = path.join(dir, `body-${process.pid}-${++n}.bin`);
  pipeline(req, createWriteStream(file)).then(
    () => res.writeHead(202, { 'Content-Type': 'application/json' }).end('{"success":true}'),
    (err: Error) => res.writeHead(500).end(String(err)),
  );
});
server.requestTimeout = 0;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.send?.({ ready: true, url: `http://127.0.0.1:${port}`, pid: process.pid });
});
const close = (): void => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('message', (m) => m === 'close' && close());
process.on('disconnect', close);
