/**
 * One truth for the job document: the Flutter client's tests parse JSON fixtures written from
 * server/test/support/jobExamples.ts. This test fails when the committed fixtures no longer
 * match the examples (and so the `Job` type), and rewrites them when UPDATE_FIXTURES=1.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TERMINAL_STATUSES, type JobStatus } from '../../src/domain/job';
import { jobExamples } from '../support/jobExamples';

const FIXTURE_DIR = path.resolve(__dirname, '../../../flutter_client/test/fixtures');
const REFRESH = 'UPDATE_FIXTURES=1 npx jest server/test/flutter/fixtures.test.ts';
const update = process.env.UPDATE_FIXTURES === '1';

/** The exact text each fixture file must hold: stable 2-space JSON with a final newline. */
function render(status: JobStatus): string {
  return `${JSON.stringify(jobExamples[status], null, 2)}\n`;
}

function fixturePath(status: JobStatus): string {
  return path.join(FIXTURE_DIR, `job_${status}.json`);
}

const statuses = Object.keys(jobExamples) as JobStatus[];

describe('the Flutter client fixtures of the job document', () => {
  if (update) {
    beforeAll(() => {
      fs.mkdirSync(FIXTURE_DIR, { recursive: true });
      for (const status of statuses) fs.writeFileSync(fixturePath(status), render(status));
    });
  }

  test('there is an example for every status, terminal ones included', () => {
    expect(statuses.sort()).toEqual(['cancelled', 'completed', 'failed', 'processing', 'queued']);
    for (const status of TERMINAL_STATUSES) expect(jobExamples[status].completedAt).not.toBeNull();
  });

  test.each(statuses)('when the %s example changes, its committed fixture must be refreshed', (status) => {
    const file = fixturePath(status);
    const relative = path.relative(process.cwd(), file);
    if (!fs.existsSync(file)) {
      throw new Error(`Fixture ${relative} is missing. Write it with: ${REFRESH}`);
    }
    const committed = fs.readFileSync(file, 'utf8');
    if (committed !== render(status)) {
      // Show which fields differ before the generic message: that is what a reviewer needs.
      const diff = describeDiff(JSON.parse(committed) as unknown, JSON.parse(render(status)) as unknown);
      throw new Error(
        `Fixture ${relative} is out of date with server/test/support/jobExamples.ts` +
          (diff.length ? ` (${diff.slice(0, 10).join('; ')})` : ' (formatting only)') +
          `. Refresh it with: ${REFRESH}`,
      );
    }
  });

  test('no stale fixture is left for a status that has no example', () => {
    const files = fs.existsSync(FIXTURE_DIR) ? fs.readdirSync(FIXTURE_DIR) : [];
    const stale = files.filter((f) => /^job_.*\.json$/.test(f) && !statuses.some((s) => f === `job_${s}.json`));
    expect(stale).toEqual([]);
  });

  test('every timestamp in a fixture is an ISO-8601 UTC string or null, as the JSON API sends it', () => {
    for (const status of statuses) {
      const doc = JSON.parse(render(status)) as Record<string, unknown>;
      for (const key of ['createdAt', 'updatedAt', 'completedAt', 'leaseUntil', 'nextRunAt']) {
        const value = doc[key];
        if (value === null) continue;
        expect(typeof value).toBe('string');
        expect(new Date(value as string).toISOString()).toBe(value);
      }
    }
  });
});

describe('describeDiff, which names the fields that drifted', () => {
  test('when a nested field changes and another appears, both paths are named', () => {
    expect(describeDiff({ a: { b: 1 } }, { a: { b: 2 }, c: true })).toEqual(['a.b: 1 → 2', 'c: (missing) → true']);
  });
});

function describeDiff(before: unknown, after: unknown, at = ''): string[] {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    return keys.flatMap((k) => describeDiff(before[k], after[k], at ? `${at}.${k}` : k));
  }
  const show = (v: unknown) => (v === undefined ? '(missing)' : JSON.stringify(v));
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [`${at}: ${show(before)} → ${show(after)}`];
}
