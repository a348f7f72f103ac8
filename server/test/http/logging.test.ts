import http from 'node:http';
import { Writable } from 'node:stream';
import express from 'express';
import { requestLogging } from '../../src/http/logging';
import { createLogger, traceField } from '../../src/logger';

function capture(): { lines: any[]; stream: Writable } {
  const lines: any[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, stream };
}

describe('logs as Cloud Logging reads them', () => {
  test('each line is one JSON object with severity and message, and credentials are redacted', () => {
    const { lines, stream } = capture();
    const logger = createLogger({ level: 'info', destination: stream });
    logger.warn({ jobId: 'j1', apiKey: 'secret-key', message: 'provider slow' });
    logger.error({ headers: { authorization: 'Bearer abc' }, message: 'refused' });
    logger.debug({ message: 'not at info level' });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ severity: 'WARNING', message: 'provider slow', jobId: 'j1', apiKey: '[redacted]' });
    expect(lines[1]).toMatchObject({ severity: 'ERROR', headers: { authorization: '[redacted]' } });
    expect(JSON.stringify(lines)).not.toMatch(/secret-key|Bearer abc/);
    expect(lines[0].level).toBeUndefined();
    expect(lines[0].msg).toBeUndefined();
  });

  test('the trace header becomes the field Cloud Logging groups a request by', () => {
    expect(traceField('proj', 'abc123/456;o=1')).toEqual({ 'logging.googleapis.com/trace': 'projects/proj/traces/abc123' });
    expect(traceField(undefined, undefined)).toEqual({});
  });

  test('a request is logged once with its status, latency, trace and the job it concerns', async () => {
    const { lines, stream } = capture();
    const app = express();
    app.use(requestLogging(createLogger({ level: 'info', destination: stream }), 'proj'));
    app.get('/jobs/:jobId', (req, res) => {
      res.locals.jobId = req.params.jobId;
      res.status(404).json({});
    });
    const server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const { port } = server.address() as { port: number };
      await (await fetch(`http://127.0.0.1:${port}/jobs/job-7`, { headers: { 'X-Cloud-Trace-Context': 'tr42/1;o=1' } })).text();
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      server.close();
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      severity: 'INFO',
      message: 'GET /jobs/job-7 404',
      jobId: 'job-7',
      'logging.googleapis.com/trace': 'projects/proj/traces/tr42',
      httpRequest: { requestMethod: 'GET', status: 404, latency: expect.stringMatching(/^\d+\.\d{3}s$/) },
    });
  });
});
