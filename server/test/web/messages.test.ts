import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

// The page's message tables (server/src/http/web/messages.mjs) against the server's source:
// every error code the server can send has words in English and in Korean.

const ROOT = path.resolve(__dirname, '..', '..', '..');
const SRC = path.join(ROOT, 'server', 'src');
// Stand-ins for other services (the Cloud Tasks and Cloud Storage emulators, the VisionStory
// simulator) answer in their own protocols; their errors never reach the page.
const NOT_OURS = [/local[\\/]tasks[\\/]/, /cloudTasksEmulator\.ts$/, /gcsEmulator\.ts$/, /visionStorySimulator/, /[\\/]web[\\/]/];

interface Table {
  errors: Record<string, { text: string; next: string }>;
  next: Record<string, string>;
  [key: string]: unknown;
}

/** The tables as the browser sees them: the module is loaded by Node itself, not transpiled. */
function loadTables(): Record<'en' | 'ko', Table> {
  const url = pathToFileURL(path.join(SRC, 'http', 'web', 'messages.mjs')).href;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', `import(${JSON.stringify(url)}).then((m) => process.stdout.write(JSON.stringify(m.MESSAGES)))`]);
  return JSON.parse(out.toString());
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath ?? (e as any).path, e.name))
    .filter((file) => !NOT_OURS.some((re) => re.test(file)));
}

/**
 * Every literal code in the source: the first argument of ClientError and the named kinds
 * (a ternary gives all its branches), `{ code: '…' }` objects (failed jobs, the
 * event stream's error event, early answers), and the error middleware's own codes.
 */
function serverCodes(): Set<string> {
  const codes = new Set<string>();
  // The values an expression can take: a plain literal, or the branches of a ternary (not the
  // literal its condition compares with).
  const values = (expr: string): string[] => {
    const branches = expr.includes('?') ? expr.slice(expr.indexOf('?') + 1) : expr;
    return [...branches.matchAll(/'([a-z][a-z0-9_]*)'/g)].map((m) => m[1]!);
  };
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/new (?:ClientError|RetryableError|PermanentError|LimitReachedError|NotFoundError|InvalidInputError|ConflictError|GoneError|TooLargeError)\(\s*(?:\d+\s*,\s*)?([^,]+),/g)) {
      for (const code of values(m[1]!)) codes.add(code);
    }
    // `{ code: '…', message }` objects sent or stored (a returned one is an adapter's internal
    // classification, mapped to one of the errors above before it leaves).
    for (const m of text.matchAll(/(return\s*)?\{\s*code:\s*'([a-z][a-z0-9_]*)'/g)) if (!m[1]) codes.add(m[2]!);
    // The error middleware's own codes (`let code = 'internal'`, `code = … ? 'bad_json' : …`).
    if (file.endsWith(path.join('http', 'errors.ts'))) {
      for (const m of text.matchAll(/\bcode\s*=\s*([^;]+);/g)) for (const code of values(m[1]!)) codes.add(code);
    }
  }
  return codes;
}

describe('the web page in Korean and English', () => {
  const tables = loadTables();
  const codes = serverCodes();

  test('the scan finds the codes the API is known to send', () => {
    expect(codes.size).toBeGreaterThan(40);
    for (const code of ['job_not_found', 'uploads_gone', 'job_running', 'too_many_active_jobs', 'unsupported_media_type', 'bad_media', 'internal', 'bad_json', 'store_unavailable', 'invalid_token']) {
      expect(codes).toContain(code);
    }
  });

  test('every error code the server can send has plain words and a next step in English and in Korean', () => {
    const missing: string[] = [];
    for (const code of [...codes].sort()) {
      for (const lang of ['en', 'ko'] as const) {
        const entry = tables[lang].errors[code];
        if (!entry?.text || !tables[lang].next[entry.next]) missing.push(`${lang}: ${code}`);
      }
    }
    expect(missing).toEqual([]);
  });

  test('both languages have the same words to say, and Korean is not English left untranslated', () => {
    const keys = (t: Table) => Object.keys(t).filter((k) => typeof t[k] === 'string').sort();
    expect(keys(tables.ko)).toEqual(keys(tables.en));
    expect(Object.keys(tables.ko.errors).sort()).toEqual(Object.keys(tables.en.errors).sort());
    expect(Object.keys(tables.ko.next).sort()).toEqual(Object.keys(tables.en.next).sort());
    const same = keys(tables.en).filter((k) => tables.en[k] === tables.ko[k] && /[a-z]{3}/i.test(String(tables.en[k])));
    expect(same).toEqual([]);
    const hangul = /[\uac00-\ud7a3]/;
    expect(Object.values(tables.ko.errors).filter((e) => !hangul.test(e.text))).toEqual([]);
  });

  test('every placeholder of an English text is also in its Korean text', () => {
    const wrong: string[] = [];
    for (const [key, en] of Object.entries(tables.en)) {
      if (typeof en !== 'string') continue;
      const names = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      if (JSON.stringify(names(en)) !== JSON.stringify(names(String(tables.ko[key])))) wrong.push(key);
    }
    expect(wrong).toEqual([]);
  });
});
