import { backoffMs, durationToMs, msToDuration, parseRetryAfter } from '../../src/cloudTasksEmulator/time';
import { isLoopbackHost } from '../../src/cloudTasksEmulator/validation';

describe('Cloud Tasks emulator: retry arithmetic', () => {
  test('when retries pile up, the interval doubles maxDoublings times, then grows linearly, capped at maxBackoff (the API reference example)', () => {
    const policy = { minBackoffMs: 10_000, maxBackoffMs: 300_000, maxDoublings: 3 };
    const delays = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => backoffMs(policy, i) / 1000);
    expect(delays).toEqual([10, 20, 40, 80, 160, 240, 300, 300]);
  });

  test('when maxDoublings is 0, the interval grows linearly from the first retry', () => {
    expect([0, 1, 2].map((i) => backoffMs({ minBackoffMs: 100, maxBackoffMs: 10_000, maxDoublings: 0 }, i))).toEqual([100, 200, 300]);
  });

  test('when a worker sends Retry-After as seconds or as an HTTP date, both are read; junk is ignored', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  test('when durations carry nanos, fractions of a second survive the round trip', () => {
    expect(durationToMs({ seconds: 0, nanos: 50_000_000 })).toBe(50);
    expect(durationToMs({ seconds: '2', nanos: 250_000_000 })).toBe(2250);
    expect(msToDuration(1250)).toEqual({ seconds: 1, nanos: 250_000_000 });
  });

  test('when a host is checked, only loopback names and addresses pass', () => {
    for (const host of ['127.0.0.1', '127.255.0.9', 'localhost', '[::1]', '::1']) expect(isLoopbackHost(host)).toBe(true);
    for (const host of ['10.0.0.1', '192.168.1.1', '8.8.8.8', 'example.com', '[::2]', '128.0.0.1', 'localhost.example.com']) expect(isLoopbackHost(host)).toBe(false);
  });
});
