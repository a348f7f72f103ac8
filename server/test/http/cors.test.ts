import { startTestStack, type TestStack } from '../support/stack';

// CORS for the origins in CORS_ORIGINS, against the real app: a browser front end on another
// site (the Flutter web build) may call the API with its token; any other site gets nothing.

let stack: TestStack;
const ALLOWED = 'https://app.example.com';

beforeAll(async () => {
  stack = await startTestStack({ env: { CORS_ORIGINS: `${ALLOWED},http://localhost:5000` } });
});

afterAll(async () => {
  await stack.close();
});

function preflight(origin: string, path = '/generate-with-tasks', method = 'POST') {
  return fetch(`${stack.baseUrl}${path}`, {
    method: 'OPTIONS',
    headers: { Origin: origin, 'Access-Control-Request-Method': method, 'Access-Control-Request-Headers': 'authorization,x-user-id' },
  });
}

describe('CORS', () => {
  test('a preflight from an allowed origin is answered 204 allowing its method and the Authorization and X-User-Id headers', async () => {
    const res = await preflight(ALLOWED);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(res.headers.get('access-control-allow-methods')).toMatch(/\bPOST\b/);
    const headers = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/\s*,\s*/);
    expect(headers).toEqual(expect.arrayContaining(['authorization', 'x-user-id', 'content-type']));
    expect(res.headers.get('vary')).toMatch(/Origin/);
    const retry = await preflight('http://localhost:5000', '/jobs/abc/retry');
    expect(retry.headers.get('access-control-allow-origin')).toBe('http://localhost:5000');
  });

  test('a preflight from another origin gets no CORS headers at all', async () => {
    const res = await preflight('https://evil.example');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('access-control-allow-headers')).toBeNull();
    expect(res.headers.get('access-control-allow-methods')).toBeNull();
  });

  test('an actual request from an allowed origin may be read by it; from another origin it carries no CORS header', async () => {
    const ok = await fetch(`${stack.baseUrl}/jobs`, { headers: { Origin: ALLOWED, 'X-User-Id': 'alice' } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(ok.headers.get('access-control-expose-headers')).toMatch(/Retry-After/);
    const other = await fetch(`${stack.baseUrl}/jobs`, { headers: { Origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('with CORS_ORIGINS unset, no origin gets CORS headers', async () => {
    const plain = await startTestStack();
    try {
      const res = await fetch(`${plain.baseUrl}/generate-with-tasks`, {
        method: 'OPTIONS',
        headers: { Origin: ALLOWED, 'Access-Control-Request-Method': 'POST' },
      });
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expect(res.headers.get('access-control-allow-headers')).toBeNull();
    } finally {
      await plain.close();
    }
  });
});
