import fs from 'node:fs';
import path from 'node:path';

const SERVER_SRC = path.resolve(__dirname, '../../src');
/** Client code and tool-owned servers that do not answer API callers. */
const SKIP = [path.join('http', 'web'), path.join('local', 'tasks')];

/** The string literals a code expression can evaluate to: `'a'`, or `x === 'y' ? 'a' : 'b'`. */
function codesIn(expression: string): string[] {
  const literal = /^\s*'([a-z][a-z0-9_]*)'\s*$/.exec(expression);
  if (literal) return [literal[1]!];
  // In a conditional, only the branches are codes (the test's operands are not).
  return [...expression.matchAll(/[?:]\s*'([a-z][a-z0-9_]*)'/g)].map((m) => m[1]!);
}

/**
 * Every error code the server can put in `{error: {code}}` or a job's `error.code`, read from
 * its source: the first argument of ClientError (after the status) and of every named kind,
 * `code: '…'` object literals and `code = …` assignments. Reading the source
 * keeps the list whole as codes are added, without a second list to keep in step.
 */
export function serverErrorCodes(): string[] {
  const codes = new Set<string>();
  const visit = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (SKIP.some((s) => full.endsWith(s))) continue;
      if (entry.isDirectory()) visit(full);
      else if (entry.name.endsWith('.ts')) {
        const source = fs.readFileSync(full, 'utf8');
        for (const m of source.matchAll(/new (?:ClientError|RetryableError|PermanentError|LimitReachedError|NotFoundError|InvalidInputError|ConflictError|GoneError|TooLargeError)\(\s*(?:\d+\s*,\s*)?([^,]+),/g)) {
          codesIn(m[1]!).forEach((c) => codes.add(c));
        }
        for (const m of source.matchAll(/\bcode: ('[a-z][a-z0-9_]*')/g)) codes.add(m[1]!.slice(1, -1));
        for (const m of source.matchAll(/\bcode = (?!=)([^;]+);/g)) codesIn(m[1]!).forEach((c) => codes.add(c));
      }
    }
  };
  visit(SERVER_SRC);
  return [...codes].sort();
}
