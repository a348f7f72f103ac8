/**
 * Server error messages keep a stable `code`, which the clients translate. Every code the
 * server's source can send must have an English and a Korean text in the command line
 * (cli/errorCodes.ts) and in the Flutter app (lib/l10n/app_en.arb, app_ko.arb, and the switch in
 * lib/ui/core/error_text.dart that picks the text for a code).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ERROR_TEXTS } from '../../../cli/errorCodes';
import { serverErrorText } from '../../../cli/messages';
import { serverErrorCodes } from '../support/errorCodes';

const FLUTTER = path.resolve(__dirname, '../../../flutter_client');
const codes = serverErrorCodes();
const arb = (language: string): Record<string, unknown> =>
  JSON.parse(fs.readFileSync(path.join(FLUTTER, 'lib/l10n', `app_${language}.arb`), 'utf8')) as Record<string, unknown>;
/** bad_media → errorBadMedia: the ARB key (a Dart getter name) of a code. */
const arbKey = (code: string): string => `error${code.split('_').map((p) => p[0]!.toUpperCase() + p.slice(1)).join('')}`;

describe('error codes: every code the server sends has an English and a Korean text', () => {
  test('the scan of the server source finds the codes of every kind of error', () => {
    // One of each way a code is written: ClientError, PermanentError, RetryableError, a job's
    // error literal, the error middleware's fallbacks.
    expect(codes).toEqual(expect.arrayContaining(['job_not_found', 'bad_media', 'provider_unavailable', 'timeout', 'internal', 'bad_json', 'missing_field', 'field_too_long', 'provider_timeout']));
    expect(codes.length).toBeGreaterThan(40);
  });

  test('the command line has both texts for every code', () => {
    const missing = codes.filter((c) => !ERROR_TEXTS[c]?.en.trim() || !ERROR_TEXTS[c]?.ko.trim());
    expect(missing).toEqual([]);
    // And Korean is really Korean (Hangul), not a copied English text.
    const untranslated = Object.entries(ERROR_TEXTS).filter(([, t]) => !/[\uac00-\ud7a3]/.test(t.ko)).map(([c]) => c);
    expect(untranslated).toEqual([]);
  });

  test('the command line shows the server message in English and the translation in Korean, both with the code', () => {
    expect(serverErrorText('en', 'bad_media', 'The photo could not be decoded')).toBe('The photo could not be decoded (bad_media)');
    expect(serverErrorText('ko', 'bad_media', 'The photo could not be decoded')).toBe('사진이나 녹음 파일을 읽을 수 없습니다. (bad_media)');
    expect(serverErrorText('ko', 'some_new_code', 'Something new')).toBe('Something new (some_new_code)');
  });

  test('the Flutter app has both texts for every code, and its switch maps every code to its text', () => {
    const [en, ko] = [arb('en'), arb('ko')];
    const switchSource = fs.readFileSync(path.join(FLUTTER, 'lib/ui/core/error_text.dart'), 'utf8');
    const problems: string[] = [];
    for (const code of codes) {
      const key = arbKey(code);
      if (typeof en[key] !== 'string' || !(en[key] as string).trim()) problems.push(`app_en.arb lacks ${key} (${code})`);
      if (typeof ko[key] !== 'string' || !/[\uac00-\ud7a3]/.test(ko[key] as string)) problems.push(`app_ko.arb lacks a Korean ${key} (${code})`);
      if (!switchSource.includes(`'${code}' => l10n.${key},`)) problems.push(`error_text.dart does not map '${code}' to l10n.${key}`);
    }
    expect(problems).toEqual([]);
  });
});
