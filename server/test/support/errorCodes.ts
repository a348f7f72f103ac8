import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

const SERVER_SRC = path.resolve(__dirname, '../../src');
/**
 * Code that never answers our API's callers: the page's own scripts, and the Cloud Tasks
 * emulator, which answers in its own protocol (gRPC statuses). The test-only stand-ins (the
 * Cloud Storage server, the VisionStory simulator) live outside server/src.
 */
const NOT_OURS = [/[\\/]http[\\/]web[\\/]/, /[\\/]cloudTasksEmulator[\\/]/];

/** The values a code expression can take: a plain literal, or the branches of a ternary (not the literal its condition compares with). */
function codesIn(expression: string): string[] {
  const branches = expression.includes('?') ? expression.slice(expression.indexOf('?') + 1) : expression;
  return [...branches.matchAll(/'([a-z][a-z0-9_]*)'/g)].map((m) => m[1]!);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name))
    .filter((file) => !NOT_OURS.some((re) => re.test(file)));
}

/**
 * Every error code the server can put in `{error: {code}}` or a job's `error.code`, read from
 * its source, so the clients' message tables are checked against the whole list as codes are
 * added, without a second list to keep in step:
 * - the code argument of any of our error classes (`new ClientError(400, 'code', …)`,
 *   `new PermanentError('code', …)`, …; a ternary gives all its branches);
 * - `{ code: '…' }` objects sent or stored (failed jobs, the event stream's error event, early
 *   answers); a returned one is an adapter's internal classification, mapped to one of the
 *   errors above before it leaves, so it is not counted;
 * - the error middleware's own codes (`let code = 'internal'`, `code = … ? 'bad_json' : …`).
 */
export function serverErrorCodes(): string[] {
  const codes = new Set<string>();
  for (const file of sourceFiles(SERVER_SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/new (?!(?:Type|Range|Syntax|Reference|Aggregate)?Error\()[A-Z]\w*Error\(\s*(?:\d+\s*,\s*)?([^,]+),/g)) {
      codesIn(m[1]!).forEach((c) => codes.add(c));
    }
    for (const m of text.matchAll(/(return\s*)?\{\s*code:\s*'([a-z][a-z0-9_]*)'/g)) if (!m[1]) codes.add(m[2]!);
    if (file.endsWith(path.join('http', 'errors.ts'))) {
      for (const m of text.matchAll(/\bcode\s*=\s*([^;]+);/g)) codesIn(m[1]!).forEach((c) => codes.add(c));
    }
  }
  return [...codes].sort();
}
