import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { makeBigFile, makeTestAudio, makeTestImage } from '../support/media';
import { startTestStack, type TestStack } from '../support/stack';

// Cloud Run refuses HTTP/1 requests over 32 MiB; the api runs with HTTP/2 end-to-end so that a
// 10 MB photo and 30 MB of audio can be sent at once. These requests speak h2c, as Cloud Run's
// front end does to the container.

let media: string;
let stack: TestStack;
let client: http2.ClientHttp2Session;

beforeAll(async () => {
  media = await mkdtemp(path.join(os.tmpdir(), 'h2c-'));
  stack = await startTestStack({ env: { HTTP2_CLEARTEXT: 'true', PORT: '0' } });
  client = http2.connect(`http://127.0.0.1:${stack.service.port}`);
});

afterAll(async () => {
  client.close();
  await stack.close();
  await rm(media, { recursive: true, force: true });
});

interface H2Answer {
  status: number;
  headers: http2.IncomingHttpHeaders;
  text: string;
  /** Settles with the stream's RST_STREAM code (0 for NO_ERROR) once the stream is closed. */
  closed: Promise<number>;
}

function request(headers: http2.OutgoingHttpHeaders, body?: Readable): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const req = client.request(headers);
    const closed = new Promise<number>((done) => req.once('close', () => done(req.rstCode ?? 0)));
    let responseHeaders: http2.IncomingHttpHeaders = {};
    let text = '';
    req.on('response', (h) => (responseHeaders = h));
    req.setEncoding('utf8');
    req.on('data', (c) => (text += c));
    req.on('end', () => resolve({ status: Number(responseHeaders[':status']), headers: responseHeaders, text, closed }));
    req.on('error', reject);
    if (body) body.pipe(req);
    else req.end();
  });
}

/** A multipart body streamed from disk (no 40 MB buffer in the test either). */
function multipart(boundary: string, fields: Record<string, string>, files: Record<string, string>): Readable {
  async function* parts() {
    for (const [name, value] of Object.entries(fields)) {
      yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
    }
    for (const [name, file] of Object.entries(files)) {
      yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${path.basename(file)}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
      for await (const chunk of createReadStream(file)) yield chunk as Buffer;
      yield Buffer.from('\r\n');
    }
    yield Buffer.from(`--${boundary}--\r\n`);
  }
  return Readable.from(parts());
}

test('with HTTP2_CLEARTEXT the public port speaks h2c and a 40 MB upload (over Cloud Run\'s HTTP/1 limit) is accepted', async () => {
  const image = await makeBigFile(media, 10 * 1024 * 1024 - 1024, 'jpeg', 'big-face');
  const audio = await makeBigFile(media, 30 * 1024 * 1024 - 1024, 'wav', 'big-voice');
  const total = (await stat(image)).size + (await stat(audio)).size;
  expect(total).toBeGreaterThan(32 * 1024 * 1024);

  const res = await request(
    { ':method': 'POST', ':path': '/generate-with-tasks', 'content-type': 'multipart/form-data; boundary=h2c-boundary', 'x-user-id': 'h2c' },
    multipart('h2c-boundary', { instructorName: 'Big' }, { image, audio }),
  );
  expect(res.status).toBe(202);
  const { jobId } = JSON.parse(res.text);
  const job = await request({ ':path': `/jobs/${jobId}`, 'x-user-id': 'h2c' });
  expect(job.status).toBe(200);
  expect(JSON.parse(job.text).input).toMatchObject({ imageBytes: (await stat(image)).size, audioBytes: (await stat(audio)).size });
  await request({ ':method': 'POST', ':path': `/jobs/${jobId}/cancel`, 'x-user-id': 'h2c' });
});

test('over h2c a small job runs to the end and its event stream ends with the terminal event', async () => {
  const image = await makeTestImage(media, { format: 'png', name: 'small' });
  const audio = await makeTestAudio(media, { format: 'wav', seconds: 1, name: 'small' });
  const res = await request(
    { ':method': 'POST', ':path': '/generate-with-tasks', 'content-type': 'multipart/form-data; boundary=b2', 'x-user-id': 'h2c-small' },
    multipart('b2', { instructorName: 'Small' }, { image, audio }),
  );
  expect(res.status).toBe(202);
  const { jobId } = JSON.parse(res.text);
  const events = await request({ ':path': `/jobs/${jobId}/events`, 'x-user-id': 'h2c-small' });
  expect(events.headers['content-type']).toMatch(/^text\/event-stream/);
  expect(events.text).toMatch(/event: end\ndata: \{"jobId":"[^"]+","status":"completed"\}/);
  const health = await request({ ':path': '/health' });
  expect(health.status).toBe(200);
  expect(JSON.parse(health.text)).toMatchObject({ success: true });
});

test('over h2c an upload whose image passes its limit gets its 413, and the stream is closed with NO_ERROR long before the body ends', async () => {
  const total = 400 * 1024 * 1024;
  let produced = 0;
  const chunk = Buffer.alloc(256 * 1024, 0x41);
  async function* body() {
    yield Buffer.from('--h2c-big\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n');
    yield Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00]);
    while (produced < total) {
      produced += chunk.length;
      yield chunk;
    }
  }
  const res = await request(
    { ':method': 'POST', ':path': '/generate-with-tasks', 'content-type': 'multipart/form-data; boundary=h2c-big', 'x-user-id': 'h2c-big' },
    Readable.from(body()),
  );
  expect(res.status).toBe(413);
  expect(JSON.parse(res.text).error.code).toBe('file_too_large');
  // The answer is complete, so the server ends the stream (RST_STREAM, NO_ERROR): the client
  // stops sending instead of stalling on a full flow-control window with the stream open.
  const closedWith = await Promise.race([res.closed, new Promise<string>((resolve) => setTimeout(() => resolve('still open after 5 s'), 5000).unref())]);
  expect(closedWith).toBe(http2.constants.NGHTTP2_NO_ERROR);
  // The bridge and the app together take at most the largest valid upload and some buffers.
  expect(produced).toBeLessThan(100 * 1024 * 1024);
}, 60000);
